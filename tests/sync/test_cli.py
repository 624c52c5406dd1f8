"""``sfsync recon`` and ``sfsync recon-status`` as scripts use them: exit codes, JSON shapes, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.sync.orgproject import make_project
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]
INBOUND = "systemSalesforceUser_managedUser"


def test_unknown_mapping_lists_the_mappings_and_exits_2(make_env, capsys):
    env = make_env()
    assert main(["-p", str(env.root), "recon", "nope"]) == 2
    assert "unknown mapping 'nope'; the mappings in conf/sync.json are: userAccount" in capsys.readouterr().err


def test_recon_json_prints_the_run_object_and_status_lists_newest_first(make_env, capsys):
    env = make_env()
    env.user("ada")
    assert main(["-p", str(env.root), "recon", "userAccount", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert list(run)[:8] == ["_id", "mapping", "state", "stage", "stageDescription", "progress",
                             "situationSummary", "statusSummary"]
    assert run["state"] == "SUCCESS" and run["situationSummary"]["ABSENT"] == 1
    assert main(["-p", str(env.root), "recon", "userAccount", "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert main(["-p", str(env.root), "recon-status", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["reconciliations"]
    assert [r["_id"] for r in listed] == [dry["_id"], run["_id"]]
    assert main(["-p", str(env.root), "recon-status", run["_id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["_id"] == run["_id"]
    assert main(["-p", str(env.root), "recon-status", "no-such-run"]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_failed_run_exits_1_with_its_reason(make_env, capsys):
    env = make_env()  # no users: an empty source fails unless allowEmptySourceSet
    assert main(["-p", str(env.root), "recon", "userAccount"]) == 1
    assert "allowEmptySourceSet" in capsys.readouterr().err


def test_ctrl_c_cancels_at_a_page_boundary_and_exits_130(live_org_factory, tmp_path):
    live = live_org_factory(users=6000, seed=8, latency_ms=200)
    project = make_project(tmp_path / "p", live.org, live.url)
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "-p", str(project.root), "recon", INBOUND, "--json"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not project.db_path.exists():
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = json.loads(out)
    assert (run["state"], run["stage"]) == ("CANCELED", "COMPLETED_CANCELED")
    assert run["progress"]["source"]["existing"]["processed"] < 6004
    assert "stopping at the next page boundary" in err
