"""The command line's progress (issue #19 item 7), as pip and uv users expect it: on a terminal one live line
redrawn in place and replaced by the final summary; piped, plain lines; ``--json``, only the JSON on stdout.

The terminal is Rich's ``Console(file=..., force_terminal=True, width=N)`` on a StringIO, stdout and stderr
sharing it as they share a real terminal; what a line shows is the text after the last carriage return."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from tests.sync.orgproject import make_project
from tui import progress
from tui.cli import main
from tui.progress import CliProgress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
INBOUND = "systemSalesforceUser_managedUser"


def terminal(monkeypatch: pytest.MonkeyPatch, width: int, stdout: bool = True) -> io.StringIO:
    """A fake terminal for stderr (and stdout unless ``stdout=False``, then capsys keeps stdout)."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=width, color_system="standard")
    monkeypatch.setattr(progress, "stderr_console", lambda: console)
    if stdout:
        monkeypatch.setattr(progress, "stdout_console", lambda: console)
    return screen


def pieces(raw: str) -> list[str]:
    """Every stretch of text drawn between line feeds and carriage returns, escape sequences removed."""
    return [p for p in re.split(r"[\r\n]", ANSI.sub("", raw)) if p.strip()]


def users(env, count: int) -> None:
    for i in range(count):
        env.user(f"user{i:03d}")


def test_on_a_terminal_the_progress_is_one_line_redrawn_then_replaced_by_the_summary(make_env, monkeypatch):
    env = make_env()
    users(env, 30)
    screen = terminal(monkeypatch, width=60)
    assert main(["-p", str(env.root), "recon", "userAccount"]) == 0
    raw = screen.getvalue()
    summary_at = raw.index("userAccount COMPLETED_SUCCESS:")
    live = raw[:summary_at]
    # drawn in place: carriage returns and erase-line between draws, no line feed per page or stage; the one
    # line feed is Rich's when the live line stops, followed by cursor-up + erase (the line is removed)
    assert live.count("\r") >= 2 and "\x1b[2K" in live
    assert live.count("\n") <= 1 and live.rstrip("\r").endswith("\x1b[1A\x1b[2K")
    drawn = pieces(live)
    assert any("source 30/30" in p or "source 0/30" in p for p in drawn)
    assert all(cell_len(p) <= 60 for p in drawn), [p for p in drawn if cell_len(p) > 60]
    # the final summary: once, word-wrapped to the width (it is longer than 60 columns)
    text = ANSI.sub("", raw[summary_at:])
    assert ANSI.sub("", raw).count("COMPLETED_SUCCESS") == 1
    lines = text.splitlines()
    assert len(lines) >= 2 and all(cell_len(line) <= 60 for line in lines), lines
    assert "abs=30" in text and "created 30" in text


def test_piped_progress_is_plain_lines_and_the_summary_one_line_on_stdout(make_env, capsys):
    env = make_env()
    users(env, 3)
    assert main(["-p", str(env.root), "recon", "userAccount"]) == 0
    out, err = capsys.readouterr()
    assert "\r" not in err and "\x1b" not in err and "\x1b" not in out
    stages = [line.split(":")[0] for line in err.splitlines()]
    assert stages and all(s.startswith("userAccount ACTIVE_") for s in stages)
    assert len(stages) == len(set(stages))  # one line per stage change, none per page
    assert out.count("\n") == 1 and out.startswith("userAccount COMPLETED_SUCCESS: source 3/3")
    assert "COMPLETED" not in err  # the summary once: not also as the last progress line


@pytest.mark.parametrize("tty", [False, True])
def test_json_stdout_is_exactly_the_run_object(make_env, monkeypatch, capsys, tty):
    env = make_env()
    users(env, 2)
    screen = terminal(monkeypatch, width=80, stdout=False) if tty else None
    assert main(["-p", str(env.root), "recon", "userAccount", "--json"]) == 0
    out, _err = capsys.readouterr()
    run = json.loads(out)
    assert out == json.dumps(run, indent=2, ensure_ascii=False) + "\n"
    assert run["state"] == "SUCCESS"
    if screen is not None:  # the live line was drawn on stderr and removed; no summary besides the JSON
        raw = screen.getvalue()
        assert "\r" in raw and "COMPLETED_SUCCESS" not in ANSI.sub("", raw)


def test_a_failed_run_on_a_terminal_prints_its_summary_once_and_the_reason(make_env, monkeypatch, capsys):
    env = make_env()  # no users: an empty source fails unless allowEmptySourceSet
    screen = terminal(monkeypatch, width=80)
    assert main(["-p", str(env.root), "recon", "userAccount"]) == 1
    assert ANSI.sub("", screen.getvalue()).count("COMPLETED_FAILED") == 1
    assert "allowEmptySourceSet" in capsys.readouterr().err


def run_object(stage: str, processed: int, total: int | None, failures: int = 0, **extra) -> dict:
    return {"mapping": INBOUND, "stage": stage, "state": "ACTIVE", "duration": 2000,
            "progress": {"source": {"existing": {"processed": processed, "total": total}},
                         "target": {"existing": {"processed": 0, "total": 0}, "created": processed}},
            "statusSummary": {"FAILURE": failures}, **extra}


@pytest.mark.parametrize("width", [24, 40, 80, 200])
def test_the_live_line_never_wraps_and_drops_the_least_useful_parts_first(width):
    screen = io.StringIO()
    line = CliProgress(INBOUND, "ACTIVE_INITIALIZED",
                       console=Console(file=screen, force_terminal=True, width=width))
    with line:
        line.update(run_object("ACTIVE_RECONCILING_SOURCE", 2000, 6000, failures=3))
        line.update(run_object("ACTIVE_RECONCILING_TARGET", 6000, 6000, failures=3))
    drawn = pieces(screen.getvalue())
    assert drawn and all(cell_len(p) < width for p in drawn), drawn
    if width >= 40:  # the stage and the source counts are the last to go
        assert any("reconciling source" in p and "source 2000/6000" in p for p in drawn)
    if width >= 200:
        assert any(INBOUND in p and "1,000/s" in p and "eta 0:00:04" in p and "failures 3" in p for p in drawn)


def test_eta_is_unknown_without_a_total_and_plain_mode_prints_stage_changes_only():
    screen = io.StringIO()
    line = CliProgress(INBOUND, "ACTIVE_INITIALIZED", console=Console(file=screen, force_terminal=True, width=200))
    with line:
        line.update(run_object("ACTIVE_QUERY_ENTRIES", 10, None))
    assert any("eta ?" in p and "source 10/?" in p for p in pieces(screen.getvalue()))

    plain = io.StringIO()
    line = CliProgress(INBOUND, "ACTIVE_INITIALIZED", console=Console(file=plain, width=80))
    with line:
        for processed in (0, 2000, 4000):
            line.update(run_object("ACTIVE_RECONCILING_SOURCE", processed, 6000))
        line.note("sfsync: stopping at the next page boundary")
        line.update({**run_object("COMPLETED_SUCCESS", 6000, 6000), "state": "SUCCESS"})
    lines = plain.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{INBOUND} ACTIVE_RECONCILING_SOURCE: source 0/6000")
    assert lines[1] == "sfsync: stopping at the next page boundary"


def test_livesync_on_a_terminal_shows_a_live_line_and_its_summary_once(live_org_factory, tmp_path, monkeypatch,
                                                                        capsys):
    org = live_org_factory(users=5, seed=3, auto_approve=True)
    project = make_project(tmp_path / "p", org.org, org.url)
    assert main(["-p", str(project.root), "recon", INBOUND]) == 0
    capsys.readouterr()
    screen = terminal(monkeypatch, width=50)
    assert main(["-p", str(project.root), "livesync"]) == 0
    raw = screen.getvalue()
    text = ANSI.sub("", raw)
    assert "liveSync system/salesforce/User polling" in text  # the live line, before the summary
    assert text.count("liveSync system/salesforce/User: SUCCESS") == 1
    assert all(cell_len(p) <= 50 for p in pieces(raw))


def test_ctrl_c_on_a_terminal_stops_at_a_page_boundary_and_leaves_the_terminal_clean(live_org_factory, tmp_path):
    """A real pseudo-terminal (stdout and stderr on it, 80 columns): the live line, the Ctrl-C message above it,
    then the CANCELED summary once; the cursor shown again; exit 130."""
    import fcntl
    import os
    import pty
    import signal
    import struct
    import subprocess
    import sys
    import termios
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    live = live_org_factory(users=6000, seed=8, latency_ms=200)
    project = make_project(tmp_path / "p", live.org, live.url)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "TERM")}
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "-p", str(project.root), "recon", INBOUND],
                            cwd=root, env={**env, "PYTHONPATH": str(root), "TERM": "xterm"},
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []

    def read(until: float) -> None:
        import select
        while time.monotonic() < until:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    return
                if not data:
                    return
                chunks.append(data)
            elif proc.poll() is not None:
                return

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and b"source" not in b"".join(chunks):
        read(time.monotonic() + 0.2)
    proc.send_signal(signal.SIGINT)
    read(time.monotonic() + 60)
    proc.wait(timeout=60)
    os.close(master)
    raw = b"".join(chunks).decode("utf-8", "replace")
    text = ANSI.sub("", raw)
    assert proc.returncode == 130, text
    assert "stopping at the next page boundary" in text
    assert text.count("COMPLETED_CANCELED") == 1
    assert raw.rfind("\x1b[?25h") > raw.rfind("\x1b[?25l")  # the cursor the live line hid is back
    assert all(cell_len(p) <= 80 for p in pieces(raw))
