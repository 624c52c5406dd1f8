"""``sfsync scheduler`` as a systemd unit runs it: ``--check`` exit codes, a real firing, SIGTERM exits 0."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.api.conftest import user_account_mapping
from tests.schedule.conftest import write_schedule
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def project_with_users(root: Path, users: int = 3) -> Path:
    conf = root / "conf"
    conf.mkdir(parents=True)
    shutil.copy(ROOT / "conf" / "managed.json", conf / "managed.json")
    (conf / "sync.json").write_text(json.dumps({"mappings": [user_account_mapping()]}))
    from core.config.project import Project
    from core.repo import Repository

    with Repository.for_project(Project(root)) as repo:
        repo.create_many([{"userName": f"u{i}", "givenName": "U", "sn": "Sched", "mail": f"u{i}@example.com"}
                          for i in range(users)])
    return root


def test_check_prints_next_fire_times_and_exits_2_for_a_broken_file(tmp_path, capsys):
    root = project_with_users(tmp_path / "p")
    write_schedule(root / "conf", "good", schedule="0 0/15 * * * ?")
    assert main(["-p", str(root), "scheduler", "--check"]) == 0
    assert "good" in capsys.readouterr().out
    write_schedule(root / "conf", "bad", schedule="0 0 2 LW * ?")
    assert main(["-p", str(root), "scheduler", "--check"]) == 2
    captured = capsys.readouterr()
    assert "good" in captured.out  # the other schedules go on
    assert "schedule-bad.json" in captured.err and "schedule" in captured.err and "position" in captured.err


def test_the_headless_scheduler_fires_and_stops_on_sigterm(tmp_path):
    root = project_with_users(tmp_path / "p")
    write_schedule(root / "conf", "often", type="simple", repeatInterval=1000)
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "-p", str(root), "scheduler"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120  # generous: a loaded CI machine; the test asserts no time
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "often: SUCCESS" in line:
                break
        assert any("often: SUCCESS" in line for line in lines), "".join(lines) + proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "scheduler stopped" in out
    from core.config.project import Project
    from core.repo import Repository

    with Repository.for_project(Project(root)) as repo:
        runs = repo.runs.list(10)
        assert runs and runs[0]["mapping"] == "userAccount" and runs[-1]["state"] == "SUCCESS"
        assert repo.count(resource="account") == 3


def test_serve_says_it_runs_the_schedules(tmp_path):
    root = project_with_users(tmp_path / "p")
    write_schedule(root / "conf", "nightly", schedule="0 0 2 * * ?")
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "-p", str(root), "serve", "--port", "0"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert "serving the IDM REST API" in first
    assert "running the schedules of conf/ (nightly;" in second
