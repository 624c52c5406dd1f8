"""Who may call the API: IDM's headers, hashed admin password, loopback-only defaults, slowed guessing."""

from __future__ import annotations

import pytest

from core.api import create_app
from core.api.auth import AuthRefused, Credentials, Throttle, hash_password, verify_password
from core.config.settings import Settings

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}


def test_password_hash_is_salted_and_verifies_only_the_password():
    first, second = hash_password("s3cret!"), hash_password("s3cret!")
    assert first != second and "s3cret!" not in first
    assert verify_password("s3cret!", first) and verify_password("s3cret!", second)
    assert not verify_password("s3cret", first)
    assert not verify_password("s3cret!", "not-a-hash")


async def test_request_without_credentials_is_401_in_idm_shape(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 401
    assert response.json() == {"code": 401, "reason": "Unauthorized", "message": "Access Denied"}


async def test_default_admin_is_accepted_on_loopback_when_no_password_is_set(sample_project, asgi_client):
    app = create_app(sample_project, bind_host="127.0.0.1")
    async with asgi_client(app, headers=ADMIN) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


async def test_wrong_default_password_is_401(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app, headers={**ADMIN, "X-OpenIDM-Password": "nope"}) as client:
        assert (await client.get("/openapi.json")).status_code == 401


def test_binding_beyond_loopback_without_a_password_refuses_to_start(sample_project):
    with pytest.raises(AuthRefused, match="0.0.0.0.*sfsync.toml"):
        create_app(sample_project, bind_host="0.0.0.0")


async def test_configured_password_replaces_the_default_and_allows_binding_anywhere(sample_project, asgi_client):
    settings = Settings.load(sample_project)
    settings.admin_username = "ops"
    settings.admin_password_hash = hash_password("correct horse")
    settings.save(sample_project)
    app = create_app(sample_project, bind_host="0.0.0.0")
    async with asgi_client(app) as client:
        good = await client.get("/openapi.json", headers={"X-OpenIDM-Username": "ops",
                                                         "X-OpenIDM-Password": "correct horse"})
        again = await client.get("/openapi.json", headers={"X-OpenIDM-Username": "ops",
                                                          "X-OpenIDM-Password": "correct horse"})
        default = await client.get("/openapi.json", headers=ADMIN)
        wrong_user = await client.get("/openapi.json", headers={"X-OpenIDM-Username": "openidm-admin",
                                                               "X-OpenIDM-Password": "correct horse"})
    assert (good.status_code, again.status_code) == (200, 200)
    assert default.status_code == 401
    assert wrong_user.status_code == 401


async def test_password_set_while_serving_takes_effect_without_restart(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app, headers=ADMIN) as client:
        assert (await client.get("/openapi.json")).status_code == 200
        settings = Settings.load(sample_project)
        settings.admin_password_hash = hash_password("new one")
        settings.save(sample_project)
        assert (await client.get("/openapi.json")).status_code == 401
        ok = await client.get("/openapi.json", headers={"X-OpenIDM-Password": "new one"})
    assert ok.status_code == 200


async def test_wrong_attempts_in_a_row_slow_further_attempts_down(sample_project, asgi_client):
    delays: list[float] = []
    now = [1000.0]

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)
        now[0] += seconds

    throttle = Throttle(free_attempts=3, base_delay=0.5, max_delay=4.0, sleep=fake_sleep, clock=lambda: now[0])
    app = create_app(sample_project, throttle=throttle)
    bad = {**ADMIN, "X-OpenIDM-Password": "guess"}
    async with asgi_client(app) as client:
        for _ in range(7):
            assert (await client.get("/openapi.json", headers=bad)).status_code == 401
        assert delays == [0.5, 1.0, 2.0, 4.0]  # the first three wrong guesses cost nothing; then doubling, capped
        # the right password still answers (after its wait), and resets the count
        assert (await client.get("/openapi.json", headers=ADMIN)).status_code == 200
        delays.clear()
        assert (await client.get("/openapi.json", headers=bad)).status_code == 401
        assert delays == []


async def test_throttle_is_per_client(sample_project, asgi_client):
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    app = create_app(sample_project, throttle=Throttle(free_attempts=1, sleep=fake_sleep))
    bad = {**ADMIN, "X-OpenIDM-Password": "guess"}
    async with asgi_client(app, client_host="127.0.0.2") as attacker, asgi_client(app) as admin:
        for _ in range(3):
            await attacker.get("/openapi.json", headers=bad)
        delays.clear()
        assert (await admin.get("/openapi.json", headers=ADMIN)).status_code == 200
    assert delays == []


def test_unconfigured_credentials_never_accept_defaults_off_loopback():
    from core.api.auth import Authenticator

    auth = Authenticator(lambda: Credentials(None, None), bind_host="10.0.0.5")
    assert auth.verify("openidm-admin", "openidm-admin") is False


async def test_a_settings_file_broken_while_serving_is_a_500_naming_it(sample_project, asgi_client):
    app = create_app(sample_project)
    sample_project.settings_path.write_text("admin_password_hash = \n")
    async with asgi_client(app, headers=ADMIN) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 500
    assert response.json()["code"] == 500 and "sfsync.toml" in response.json()["message"]
