"""The org itself: deterministic realistic seed data, persistence, refresh-token rotation, concurrency."""

from __future__ import annotations

import threading

import pytest

from core.emulator import Org
from core.emulator.ids import make_id, normalize, to18
from core.emulator.org import U

from .helpers import V, auto_code, exchange, pkce


def test_seed_is_deterministic_but_credentials_are_not():
    a, b = Org.generate(users=200, seed=3), Org.generate(users=200, seed=3)
    assert list(a.iter_users()) == list(b.iter_users())
    assert a.auth.client.client_secret != b.auth.client.client_secret
    assert a.admin_password != b.admin_password
    c = Org.generate(users=200, seed=4)
    assert [u["Username"] for u in c.iter_users()] != [u["Username"] for u in a.iter_users()]


def test_seed_has_system_users_profiles_and_varied_names():
    org = Org.generate(users=2000, seed=0)
    users = list(org.iter_users())
    by_last = {u["LastName"]: u for u in users[:4]}
    assert by_last["Automated Process"]["Username"].startswith("autoproc@")
    assert by_last["Automated Process"]["Email"].startswith("autoproc@")
    assert {"Integration User", "Security User", "Admin"} <= set(by_last)
    names = [u["Name"] for u in users]
    assert any("'" in n for n in names)
    assert any(not n.isascii() for n in names)
    assert max(map(len, names)) > 40
    assert len({u["Title"] for u in users}) > 20 and len({u["Department"] for u in users}) > 10
    assert len({u["Username"] for u in users}) == len(users)
    assert all(u["Id"].startswith("005") and len(u["Id"]) == 18 for u in users)
    assert all(len(u["Alias"]) <= 8 for u in users)
    assert 5 <= len(org.profiles) and "Standard User" in {p[1] for p in org.profiles.values()}
    assert any(not u["IsActive"] for u in users)


def test_ids_have_salesforce_checksums():
    assert to18("005D0000001Az1q") == "005D0000001Az1qIAC"
    uid = make_id("005", 12345)
    assert normalize(uid[:15]) == uid and normalize(uid) == uid
    assert normalize(uid[:15] + "AAA") is None and normalize("nope") is None


def test_save_and_load_keep_users_clients_and_refresh_tokens(tmp_path):
    org = Org.generate(users=50, seed=1)
    uid = list(org.users)[10]
    org.update_user(uid, {"Title": "Persisted ✓"})
    client = org.auth.client
    _, refresh = org.auth.issue(client, org.admin_id, "api refresh_token", 60, with_refresh=True)
    path = tmp_path / "org.json"
    org.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = Org.load(path)
    assert list(loaded.iter_users()) == list(org.iter_users())
    assert loaded.user(uid)["Title"] == "Persisted ✓"
    assert loaded.auth.client.client_secret == client.client_secret
    assert loaded.admin_password == org.admin_password
    assert refresh in loaded.auth.refresh_tokens
    new_id = loaded.create_user({"Username": "after@example.com", "LastName": "After", "Email": "a@example.com",
                                 "Alias": "after", "TimeZoneSidKey": "GMT", "LocaleSidKey": "en_GB",
                                 "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
                                 "ProfileId": loaded.profile_id("Read Only")})
    assert new_id not in org.users and new_id.startswith("005")


def test_load_refuses_a_file_that_is_not_an_org(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"users": ')
    with pytest.raises(ValueError, match="broken.json"):
        Org.load(path)


async def test_refresh_token_rotation_and_reuse_detection(org_factory):
    h = org_factory(auto_approve=True)
    h.org.auth.client.rotate_refresh_tokens = True
    verifier, challenge = pkce()
    first = (await exchange(h, await auto_code(h, challenge), verifier)).json()

    async def refresh(token):
        return await h.client.post("/services/oauth2/token", data={
            "grant_type": "refresh_token", "refresh_token": token, "client_id": h.client_id,
            "client_secret": h.client_secret})
    second = (await refresh(first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    reuse = await refresh(first["refresh_token"])
    assert reuse.json()["error"] == "invalid_grant"
    # reusing a rotated-out token revokes the whole family, the current token included
    assert (await refresh(second["refresh_token"])).json()["error"] == "invalid_grant"
    r = await h.client.get(f"{V}/limits", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert r.status_code == 401


async def test_inactive_user_cannot_refresh(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    tokens = (await exchange(h, await auto_code(h, challenge), verifier)).json()
    h.org.users[h.org.admin_id][U["IsActive"]] = False
    r = await h.client.post("/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": h.client_id})
    assert r.json() == {"error": "invalid_grant", "error_description": "inactive user"}


def test_concurrent_writers_keep_usernames_unique():
    org = Org.generate(users=10)
    base = {"LastName": "Racer", "Alias": "racer", "TimeZoneSidKey": "GMT", "LocaleSidKey": "en_US",
            "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US", "ProfileId": org.profile_id("Standard User")}
    outcomes: list[str] = []

    def create(i: int) -> None:
        try:
            org.create_user({**base, "Username": "same@example.com", "Email": f"r{i}@example.com",
                             "CommunityNickname": f"racer{i}"})
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - the test counts refusals
            outcomes.append(type(exc).__name__)
    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1 and outcomes.count("WriteError") == 7


def test_expired_access_tokens_are_forgotten_while_live_ones_stay():
    org = Org.generate(users=0)
    client = org.auth.client
    live, _ = org.auth.issue(client, org.admin_id, "api", 3600, with_refresh=False)
    for _ in range(10_001):
        org.auth.issue(client, org.admin_id, "api", -1, with_refresh=False)
    org.auth.issue(client, org.admin_id, "api", 3600, with_refresh=False)
    assert len(org.auth.access_tokens) < 5 and org.auth.validate(live) is not None
