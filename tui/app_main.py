"""``sfsync`` with no subcommand: open the app on the project named by ``-p`` (or $SFSYNC_PROJECT / cwd)."""

from __future__ import annotations

import argparse

from core.config.project import Project
from core.errors import ConfigError


def run_app(args: argparse.Namespace, *, start_mode: str = "connector") -> int:
    """Run the TUI until the user quits; ``--no-mouse`` leaves the terminal's own selection working."""
    from tui.app import make_app

    project = Project.resolve(getattr(args, "project", None))
    if not project.conf_dir.is_dir():
        raise ConfigError("no conf/ folder here; pass -p DIR or run `sfsync demo`", path=str(project.root))
    app = make_app(project, start_mode=start_mode)
    try:
        app.run(mouse=not getattr(args, "no_mouse", False))
    finally:
        app.backend.close()
    return app.return_code or 0
