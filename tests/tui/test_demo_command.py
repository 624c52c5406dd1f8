"""``sfsync demo`` itself, run as a user runs it: a real process on a terminal (a pty), quit with Ctrl+Q."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig

REPO = Path(__file__).resolve().parents[2]
BOUND = 120  # seconds: the longest this test may wait for anything before it fails instead of hanging


class Terminal:
    """A child process on a pseudo-terminal; everything it draws is kept in ``screen``."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.screen = b""

    def read_until(self, predicate, what: str) -> None:
        """Read what the child draws until ``predicate()`` holds; fail (never hang) after BOUND seconds."""
        deadline = time.monotonic() + BOUND
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.tail()}"
            self.pump(0.1)

    def pump(self, wait: float) -> None:
        ready, _, _ = select.select([self.master], [], [], wait)
        if ready:
            try:
                self.screen += os.read(self.master, 65536)
            except OSError:  # the child closed the terminal
                pass

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self) -> int:
        deadline = time.monotonic() + BOUND
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"the demo did not quit: {self.tail()}"
            self.pump(0.1)
        self.pump(0)
        return self.proc.returncode

    def tail(self) -> str:
        return self.screen[-2000:].decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        os.close(self.master)


def org_answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/.well-known/openid-configuration", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_sfsync_demo_starts_the_org_builds_the_project_opens_the_app_and_ctrl_q_stops_it(tmp_path):
    """The real command: the local org answers on loopback while the app is open, the demo project in --dir is
    the sample pointed at it (marker, login URL, consumer key and secret, enabled, 0600), the app draws its
    Connector screen, and Ctrl+Q quits with exit 0 and stops the org."""
    folder = tmp_path / "demo"
    provisioner = folder / "conf" / "provisioner.openicf-salesforce.json"
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30",
           "XDG_DATA_HOME": str(tmp_path / "xdg")}
    term = Terminal(sys.executable, "-m", "tui", "demo", "--users", "5", "--dir", str(folder), cwd=REPO, env=env)
    try:
        term.read_until(lambda: b"Connector" in term.screen and provisioner.exists(), "the app's Connector screen")
        config = json.loads(provisioner.read_text())
        props = config["configurationProperties"]
        assert config["enabled"] is True and (folder / ".sfsync-demo").exists()
        assert props["loginUrl"].startswith("http://127.0.0.1:") and props["loginUrl"].endswith(
            "/services/oauth2/token")
        assert props["clientId"] and props["clientSecret"]
        assert provisioner.stat().st_mode & 0o777 == 0o600
        assert (folder / "conf" / "sync.json").read_bytes() == (REPO / "conf" / "sync.json").read_bytes()
        base = props["loginUrl"].removesuffix("/services/oauth2/token")
        assert org_answers(base), "the local org does not answer while the demo runs"
        saved = ProvisionerConfig.load(Project(folder)).properties  # the secret as sfsync reads it back
        token = httpx.post(props["loginUrl"], timeout=10, data={
            "grant_type": "client_credentials", "client_id": saved.clientId, "client_secret": saved.client_secret})
        assert token.status_code == 200, token.text  # the project's key and secret are the org's
        assert not (tmp_path / "xdg").exists()  # --dir was used, not the default folder

        term.send(b"\x11")  # Ctrl+Q
        assert term.wait() == 0, term.tail()
        assert f"sfsync demo: project in {folder.resolve()}" in term.screen.decode("utf-8", "replace")
        assert not org_answers(base), "quitting the app must stop the org"
    finally:
        term.close()
