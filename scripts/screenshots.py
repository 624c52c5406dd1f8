"""Make the README's screenshots from the real app in demo mode (a live local org, a real login and run).

    python scripts/screenshots.py [--out screenshots] [--users 250] [--size 100x30]

Walks the demo as a newcomer would: Connector (filled in by the demo), Log in (headless, the org
auto-approves), Test, Reconcile with the live panel, the run's audit, the Users table with a filter, a user's
detail beside its Salesforce record, and an edit saved through implicit sync. Writes one SVG per step, and a
PNG beside it when ``cairosvg`` is installed (optional).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def wait_for(pilot: Any, predicate: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.02)


def png(svg: Path) -> None:
    try:
        import cairosvg  # type: ignore[import-not-found]
    except ImportError:
        return
    cairosvg.svg2png(url=str(svg), write_to=str(svg.with_suffix(".png")))


async def shoot(out: Path, users: int, size: tuple[int, int]) -> list[Path]:
    from textual.widgets import Input, Select, Static

    from tui.app import make_app
    from tui.commands.demo import prepare_project, start_org
    from tui.messages import RunFinished
    from tui.screens.user_detail import UserDetailScreen
    from tui.widgets.users_table import UsersTable

    written: list[Path] = []
    org = start_org(users=users, seed=42)
    try:
        with tempfile.TemporaryDirectory(prefix="sfsync-shots-") as tmp:
            project = prepare_project(Path(tmp) / "demo", org)
            finished: list[Any] = []
            app = make_app(project, demo_org=org)
            app.animation_level = "none"
            async with app.run_test(size=size, message_hook=lambda m: finished.append(m)
                                    if isinstance(m, RunFinished) else None) as pilot:

                async def save(name: str) -> None:
                    app.clear_notifications()
                    await pilot.pause()
                    path = out / f"{name}.svg"
                    app.save_screenshot(filename=path.name, path=str(out))
                    png(path)
                    written.append(path)

                await wait_for(pilot, lambda: not app.workers or all(
                    w.is_finished or w.group == "runs-watch" for w in app.workers), "the first screen")
                await save("01-connector")

                await pilot.press("2")
                await pilot.pause()
                await pilot.press("ctrl+l")
                outcome = app.screen.query_one("#login-outcome", Static)
                await wait_for(pilot, lambda: "Logged in" in str(outcome.render()) or "Not logged" in
                               str(outcome.render()), "the login")
                await save("02-login")

                await pilot.press("1")
                await pilot.pause()
                await pilot.press("ctrl+t")
                result = app.screen.query_one("#connector-result", Static)
                await wait_for(pilot, lambda: "✔" in str(result.render()) or "✘" in str(result.render()), "test")
                await save("03-connector-test")

                await pilot.press("3")
                await wait_for(pilot, lambda: app.screen.query_one("#mapping-list").option_count > 0, "mappings")
                await save("04-mappings")
                await pilot.press("r")
                await wait_for(pilot, lambda: bool(finished), "the reconciliation")
                await pilot.pause(0.3)
                await save("05-reconciliation")

                app.screen.query_one("#mapping-tabs").active = "tab-history"
                await wait_for(pilot, lambda: app.screen.query_one("#run-history").row_count > 0, "history")
                app.screen.query_one("#run-history").focus()
                await pilot.press("enter")
                await pilot.pause(0.3)
                app.screen.query_one("#audit-situation", Select).value = "ABSENT"
                await pilot.pause(0.5)
                await save("06-audit")
                await pilot.press("escape")

                await pilot.press("4")
                await wait_for(pilot, lambda: app.screen.query(UsersTable) and app.screen.query_one(UsersTable).loaded,
                               "users")
                box = app.screen.query_one("#users-filter", Input)
                box.value = "a"
                box.focus()
                await pilot.press("enter")
                table = app.screen.query_one(UsersTable)
                await wait_for(pilot, lambda: table.loaded and table.counted, "the filter")
                table.focus()
                await pilot.press("down", "down")
                await save("07-users")

                await pilot.press("enter")
                await wait_for(pilot, lambda: isinstance(app.screen, UserDetailScreen) and app.screen.user
                               and "Loading" not in str(app.screen.query_one("#user-remote-table", Static).render()),
                               "a user")
                detail = app.screen
                detail.query_one("#user-sn", Input).value = str(detail.user.get("sn", "")) + "-Smith"
                await pilot.press("ctrl+s")
                result = detail.query_one("#user-result", Static)
                await wait_for(pilot, lambda: "Implicit sync" in str(result.render())
                               or "Not saved" in str(result.render()), "the save")
                await wait_for(pilot, lambda: detail.detail is not None and detail.detail.remote is not None
                               and str(detail.detail.remote.get("LastName", "")).endswith("-Smith"),
                               "the refreshed Salesforce record")
                await save("08-user-edit")
    finally:
        org.stop()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "screenshots"), help="folder for the images")
    parser.add_argument("--users", type=int, default=250, help="people in the local org (default 250)")
    parser.add_argument("--size", default="100x30", help="terminal size COLSxROWS (default 100x30)")
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(out, args.users, (cols, rows))):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
