"""The REST server follows the project's files without a restart (``Backend.configs``, core/config/loaded.py)."""

from __future__ import annotations

import json
import os

from core.api import create_app, hash_password
from core.api.backend import Backend
from tests.api.conftest import ADMIN, user_account_mapping


def _replace(path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def test_the_server_sees_a_new_sync_json_without_a_restart(managed_project, asgi_client):
    backend = Backend(managed_project)
    app = create_app(managed_project, services=backend)
    try:
        async with asgi_client(app, headers=ADMIN) as client:
            before = (await client.get("/openidm/sync/mappings", params={"_queryFilter": "true"})).json()
            assert [m["name"] for m in before["result"]] == ["userAccount"]
            second = {**user_account_mapping(), "name": "userAccount2"}
            _replace(managed_project.sync_path, json.dumps({"mappings": [user_account_mapping(), second]}))
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
