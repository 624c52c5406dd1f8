"""The ``sfsync`` command line: the TUI by default, subcommands for everything scriptable.

Exit codes (CONTRACT): 0 success, 1 the operation failed, 2 bad usage or configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from core.errors import SfsyncError
from tui import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfsync",
        description="Keep Salesforce users and an IDM managed-user repository in sync.",
    )
    parser.add_argument(
        "-p", "--project", metavar="DIR",
        help="the project folder (holds conf/ and db/); default: $SFSYNC_PROJECT, else the current directory",
    )
    parser.add_argument("--no-mouse", action="store_true", help="the TUI: do not capture the mouse")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    if handler is None:
        try:
            from tui.app_main import run_app  # the TUI arrives with the app's issue
        except ImportError:
            parser.print_help()
            return 2
        handler = run_app
    try:
        return int(handler(args) or 0)
    except SfsyncError as exc:
        print(f"sfsync: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sfsync: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
