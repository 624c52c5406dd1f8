"""A clustered run's nodes as the front ends show them: the run object (REST ``GET /openidm/recon/ID``, its
OpenAPI document), ``sfsync recon-status ID`` and the TUI's run panel; and a run that is not clustered has no
``nodes``. A managed-to-managed mapping on a real PostgreSQL (no network)."""

from __future__ import annotations

import json

import pytest

from core.api import create_app
from core.api.openapi import build_openapi
from core.config.project import Project
from tests.api.conftest import ADMIN, _asgi_client, user_account_mapping
from tui.cli import main
from tui.widgets.recon_progress import panel_parts


@pytest.fixture
def project(tmp_path, pg_url, monkeypatch) -> Project:
    import shutil

    from tests.api.conftest import ROOT

    monkeypatch.setenv("SFSYNC_REPO_URL", pg_url)
    monkeypatch.setenv("SFSYNC_CLUSTER_TASK_SIZE", "7")
    (tmp_path / "conf").mkdir()
    shutil.copy(ROOT / "conf" / "managed.json", tmp_path / "conf" / "managed.json")
    clustered = {**user_account_mapping(), "clusteredSourceReconEnabled": True}
    plain = {**user_account_mapping(), "name": "plain", "target": "managed/other"}
    (tmp_path / "conf" / "sync.json").write_text(json.dumps({"mappings": [clustered, plain]}))
    (tmp_path / "resolver").mkdir()
    (tmp_path / "resolver" / "boot.properties").write_text("openidm.node.id=node-a\n")
    return Project(tmp_path)


async def test_the_nodes_over_rest_the_cli_and_the_panel(project, capsys):
    app = create_app(project)
    sync = app.state.backend.sync
    for i in range(30):
        await sync.create_user({"userName": f"u{i:02d}", "givenName": "U", "sn": "Test", "mail": f"u{i}@example.com"})
    async with app.router.lifespan_context(app), _asgi_client(app, headers=ADMIN) as client:
        r = await client.post("/openidm/recon?_action=recon&mapping=userAccount&waitForCompletion=true")
        assert r.status_code == 200, r.text
        run = (await client.get(f"/openidm/recon/{r.json()['_id']}")).json()
        assert run["state"] == "SUCCESS"
        assert run["progress"]["source"]["existing"]["processed"] == 30, run
        assert sync.node_id == "node-a"  # IDM's openidm.node.id, from resolver/boot.properties
        assert run["nodes"] == [{"nodeId": "node-a", "processed": 30, "state": "IDLE"}]
        assert run["sourceProcessedByNode"] == {"node-a": 30}  # IDM's own name for it
        plain = await client.post("/openidm/recon?_action=recon&mapping=plain&waitForCompletion=true")
        unclustered = (await client.get(f"/openidm/recon/{plain.json()['_id']}")).json()
        assert "nodes" not in unclustered and "sourceProcessedByNode" not in unclustered
    schema = build_openapi()["components"]["schemas"]["ReconRun"]["properties"]["nodes"]
    assert schema["items"]["required"] == ["nodeId", "processed", "state"]
    assert run["nodes"][0]["state"] in schema["items"]["properties"]["state"]["enum"]

    capsys.readouterr()
    assert main(["-p", str(project.root), "recon-status", run["_id"]]) == 0
    out = capsys.readouterr().out
    assert f"nodes:     {sync.node_id} 30 (IDLE)" in out

    lines = [str(p) for p in panel_parts(run) if hasattr(p, "plain")]
    assert any(line.startswith("nodes") and sync.node_id in line and "30 IDLE" in line for line in lines), lines


def test_sfsync_serve_is_a_node_on_postgresql(project, pg_url):
    """``sfsync serve`` on a PostgreSQL repository works as a cluster node beside the API (its heartbeat in
    ``sfsync.cluster_nodes``), and Ctrl-C stops the node with the server."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from core.repo import PgRepository
    from tests.api.conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT), "SFSYNC_REPO_URL": pg_url}
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "-p", str(project.root), "serve", "--port", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    repo = PgRepository.open(pg_url)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert any("node node-a of clustered reconciliations" in line for line in lines), lines
        deadline, state = time.monotonic() + 60, None
        while time.monotonic() < deadline and state != "ACTIVE":
            row = repo.db.fetchone("SELECT state FROM sfsync.cluster_nodes WHERE node_id = 'node-a'")
            state = row[0] if row else None
            time.sleep(0.05)
        assert state == "ACTIVE"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) in (0, 130)  # 130: Ctrl-C, as every sfsync command ends on it
        assert repo.db.fetchone("SELECT state FROM sfsync.cluster_nodes WHERE node_id = 'node-a'") == ("STOPPED",)
    finally:
        if proc.poll() is None:
            proc.kill()
        repo.close()
