"""``sfsync demo``: a local Salesforce org, a demo project pointed at it, and the app — no account needed.

The org runs in this process (uvicorn in a background thread, on a free loopback port, auto-approving
logins). The demo project lives outside the repository (``$XDG_DATA_HOME/sfsync/demo`` by default), is
rebuilt from the sample ``conf/`` on every start unless ``--keep``, and holds the org's client id and
secret. Quitting the app stops the org.
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Project
from core.errors import ConfigError, SfsyncError, UsageError

MARKER = ".sfsync-demo"
SAMPLE_CONF = Path(__file__).resolve().parents[2] / "conf"


def default_demo_dir() -> Path:
    """``$XDG_DATA_HOME/sfsync/demo`` (``~/.local/share/sfsync/demo`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sfsync" / "demo"


@dataclass
class RunningOrg:
    """A local org served on loopback; :meth:`stop` ends it (the demo calls it when the app quits)."""

    org: Any
    server: Any

    @property
    def url(self) -> str:
        return str(self.server.url)

    @property
    def login_url(self) -> str:
        """IDM's ``loginUrl`` is the token endpoint."""
        return f"{self.url}/services/oauth2/token"

    @property
    def client_id(self) -> str:
        return str(self.org.auth.client.client_id)

    @property
    def client_secret(self) -> str:
        return str(self.org.auth.client.client_secret)

    @property
    def username(self) -> str:
        return str(self.org.admin_username)

    def stop(self) -> None:
        self.server.stop()


def start_org(users: int = 250, seed: int = 0, *, port: int = 0, latency_ms: int = 0) -> RunningOrg:
    """Generate an org with ``users`` people and serve it on 127.0.0.1 with auto-approved logins.

    ``latency_ms`` slows every API call (the org's fault injection), for tests that must catch a run mid-way.
    """
    from core.emulator import Org, OrgServer, create_app

    org = Org.generate(users=users, seed=seed)
    server = OrgServer(create_app(org, auto_approve=True, latency_ms=latency_ms), "127.0.0.1", port)
    try:
        server.start()
    except RuntimeError as exc:
        raise SfsyncError(str(exc)) from None
    return RunningOrg(org=org, server=server)


def prepare_project(folder: Path, org: RunningOrg, *, keep: bool = False, sample: Path = SAMPLE_CONF) -> Project:
    """The demo project: sample ``conf/`` pointed at ``org`` (key, secret, login URL, enabled).

    A folder that exists without the demo marker is refused rather than wiped: it may be someone's project.
    """
    folder = folder.expanduser().resolve()
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise UsageError(f"{folder}: exists and is not a demo project; choose another --dir")
    if not sample.is_dir():
        raise ConfigError("the sample conf/ folder is missing", path=str(sample))
    if folder.exists() and not keep:
        shutil.rmtree(folder)
    project = Project(folder)
    if not project.conf_dir.exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).write_text("made by `sfsync demo`; deleted and rebuilt on each start unless --keep\n")
        shutil.copytree(sample, project.conf_dir, copy_function=shutil.copyfile)  # own, writable copies
    from pydantic import SecretStr

    from core.config import ProvisionerConfig

    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=org.login_url, clientId=org.client_id,
                             clientSecret=SecretStr(org.client_secret))
    if keep:
        # a kept project's tokens belong to the previous run's org, which is gone
        config.update_properties(refreshToken=None, instanceUrl=None)
    config.enabled = True
    config.save(project)
    return project


def handler(args: argparse.Namespace) -> int:
    if args.users < 0:
        raise UsageError("--users: must be 0 or more")
    org = start_org(args.users, args.seed)
    try:
        folder = Path(args.dir) if args.dir else default_demo_dir()
        project = prepare_project(folder, org, keep=args.keep)
        from tui.app import make_app

        app = make_app(project, start_mode="connector", demo_org=org)
        from tui.app_main import settle_heap

        settle_heap()
        try:
            app.run(mouse=not getattr(args, "no_mouse", False))
        finally:
            app.backend.close()
        print(f"sfsync demo: project kept in {project.root}" if args.keep else
              f"sfsync demo: project in {project.root} (rebuilt on the next start; --keep keeps it)")
        return app.return_code or 0
    finally:
        org.stop()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="a local Salesforce org, a demo project pointed at it, and the app",
        description="Start a local Salesforce org seeded with N users, make a demo project pointed at it "
                    "and open the app. Needs no account and no network.")
    parser.add_argument("--users", type=int, default=250, metavar="N", help="generated people (default 250)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed for the generated data")
    parser.add_argument("--keep", action="store_true", help="keep the demo project from the last start")
    parser.add_argument("--dir", metavar="DIR", help="the demo project folder (default $XDG_DATA_HOME/sfsync/demo)")
    parser.set_defaults(func=handler)
