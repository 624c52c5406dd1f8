"""The REST server follows the project's files without a restart (``ApiBackend.configs``, core/config/loaded.py)."""

from __future__ import annotations

import json

from core.api import create_app, hash_password
from core.api.backend import ApiBackend
from tests.api.conftest import ADMIN, user_account_mapping
from tests.fixtures.reads import age, replace


async def test_the_server_sees_a_new_sync_json_without_a_restart(managed_project, asgi_client):
    backend = ApiBackend(managed_project)
    app = create_app(managed_project, services=backend)
    try:
        async with asgi_client(app, headers=ADMIN) as client:
            before = (await client.get("/openidm/sync/mappings", params={"_queryFilter": "true"})).json()
            assert [m["name"] for m in before["result"]] == ["userAccount"]
            second = {**user_account_mapping(), "name": "userAccount2"}
            replace(managed_project.sync_path, json.dumps({"mappings": [user_account_mapping(), second]}))
            after = (await client.get("/openidm/sync/mappings", params={"_queryFilter": "true"})).json()
            assert [m["name"] for m in after["result"]] == ["userAccount", "userAccount2"]
            answer = await client.post("/openidm/recon", params={"_action": "recon", "mapping": "userAccount2",
                                                                 "waitForCompletion": "true"})
            assert answer.status_code == 200, answer.text
    finally:
        await backend.aclose()


async def test_the_servers_admin_password_follows_sfsync_toml(managed_project, asgi_client):
    app = create_app(managed_project)
    auth = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "s3cret-Pass"}
    try:
        async with asgi_client(app, headers=auth) as client:
            assert (await client.get("/openidm/sync/mappings", params={"_queryFilter": "true"})).status_code == 401
            (managed_project.conf_dir / "sfsync.toml").write_text(
                f'admin_password_hash = "{hash_password("s3cret-Pass")}"\n')
            assert (await client.get("/openidm/sync/mappings", params={"_queryFilter": "true"})).status_code == 200
    finally:
        await app.state.backend.aclose()


async def test_the_server_reads_each_file_once_while_none_changes(managed_project, asgi_client, conf_reads):
    (managed_project.conf_dir / "sfsync.toml").write_text("keep_runs = 9\n")
    age(*managed_project.conf_dir.iterdir())
    backend = ApiBackend(managed_project)
    app = create_app(managed_project, services=backend)
    try:
        async with asgi_client(app, headers=ADMIN) as client:
            for n in range(3):  # writes with implicit sync, reads, a reconciliation: each its own operation
                user = {"userName": f"u{n}", "givenName": "G", "sn": "S", "mail": f"u{n}@example.com"}
                assert (await client.put(f"/openidm/managed/user/u{n}", json=user)).status_code == 201
                assert (await client.get(f"/openidm/managed/user/u{n}")).status_code == 200
            answer = await client.post("/openidm/recon", params={"_action": "recon", "mapping": "userAccount",
                                                                 "waitForCompletion": "true"})
            assert answer.status_code == 200, answer.text
    finally:
        await backend.aclose()
    assert conf_reads == {"sfsync.toml": 1, "sync.json": 1, "managed.json": 1}
