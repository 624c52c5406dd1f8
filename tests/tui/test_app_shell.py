"""The shell: screen switching, the background build of the other screens, quitting cleanly."""

from __future__ import annotations

import re

import pytest
from pilot_helpers import wait_for

from tui.app import WARM_ORDER, SfsyncApp, make_app
from tui.screens.connector import ConnectorScreen
from tui.screens.login import LoginScreen
from tui.screens.mappings import MappingsScreen
from tui.screens.users import UsersScreen
from tui.widgets.status_header import StatusHeader
from tui.widgets.users_table import UsersTable


@pytest.mark.warm_up
async def test_other_screens_are_built_in_the_background_and_show_at_once(project, seed_users):
    seed_users(project, 120)
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: all(m in app._screen_stacks for m in WARM_ORDER), "the background build")
        assert isinstance(app.screen, ConnectorScreen)  # built, not shown
        users = app._screen_stacks["users"][0]
        await wait_for(pilot, lambda: users.query_one(UsersTable).loaded, "the users page, fetched ahead")
        await pilot.press("4")
        await pilot.pause()
        assert app.screen is users and users.query_one(UsersTable).total == 120


async def test_keys_and_f_keys_switch_screens_and_the_header_follows(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, screen_type, title in (("2", LoginScreen, "Login"), ("f3", MappingsScreen, "Mappings"),
                                        ("4", UsersScreen, "Users"), ("f1", ConnectorScreen, "Connector")):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen_type)
            assert app.screen.query_one(StatusHeader).screen_title == title


async def test_quitting_while_screens_are_still_being_built_is_clean(project):
    app = make_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
    assert app.return_code == 0


class FullRefreshApp(SfsyncApp):
    """Textual's own way: every new screen gets the full CSS refresh (no refresh is ever on record)."""

    @property
    def css_refreshed_at(self) -> None:
        return None

    @css_refreshed_at.setter
    def css_refreshed_at(self, value: int | None) -> None:
        pass


async def screens_drawn(app: SfsyncApp, reparses: list[int] | None = None) -> dict[str, str]:
    """Each screen as it is first shown (the Users screen with its rows); the count of full reparses each took."""
    shots: dict[str, str] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: not app.workers, "the first screen's loads")
        await pilot.pause()
        if reparses is not None:
            reparse = app.stylesheet.reparse
            app.stylesheet.reparse = lambda: (reparses.append(1), reparse())[1]  # counts, then parses for real
        for key, mode in (("", "connector"), ("4", "users"), ("3", "mappings"), ("2", "login")):
            if key:
                await pilot.press(key)
            if mode == "users":
                await wait_for(pilot, lambda: app.screen.query_one(UsersTable).loaded, "the users page")
            await wait_for(pilot, lambda: not app.workers, "the screen's loads")
            await pilot.pause()
            shots[mode] = re.sub(r"terminal-\d+", "terminal", app.export_screenshot())
    return shots


async def test_a_new_screen_is_not_restyled_twice_and_looks_as_with_textuals_full_refresh(project, seed_users):
    """A mode's first screen used to cost two full CSS reparses and restyles (most of a cold Users open)."""
    seed_users(project, 30)
    reparses: list[int] = []
    fast = await screens_drawn(make_app(project, watch_runs=False), reparses)
    assert reparses == [], "a new screen reparsed the whole stylesheet"
    full_reparses: list[int] = []
    full = await screens_drawn(FullRefreshApp(project, watch_runs=False), full_reparses)
    assert len(full_reparses) == 6  # the measure above can fail: Textual's way reparses twice per new screen
    for mode, shot in full.items():
        assert fast[mode] == shot, f"the {mode} screen differs from Textual's full refresh"


async def test_a_theme_chosen_on_one_screen_restyles_the_others_when_shown(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")  # built under the first theme, then left
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        users = app._screen_stacks["users"][0]
        before = users.query_one(StatusHeader).styles.background
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()
        assert app.screen is users
        after = users.query_one(StatusHeader).styles.background
        assert after != before
        assert after == app.screen.query_one(StatusHeader).styles.background
        fresh = app.export_screenshot()
        app.refresh_css(animate=False)
        await pilot.pause()
        assert app.export_screenshot() == fresh


def test_starting_the_app_imports_neither_pydantic_nor_the_repository():
    """The first screen waits for every import on the way to it: pydantic (the provisioner's models) and
    core.repo (~0.1-0.2 s each) are imported by the workers that need them, after the first frame."""
    import subprocess
    import sys

    code = ("import sys; from tui.cli import build_parser; build_parser().parse_args([]); import tui.app; "
            "print(sorted({m.split('.')[0] if m.startswith('pydantic') else m for m in sys.modules "
            "if m.startswith(('pydantic', 'core.repo', 'core.sync', 'core.salesforce'))}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


async def test_progress_is_drawn_at_most_once_per_interval_and_the_final_state_at_once(project, sample_run,
                                                                                       monkeypatch):
    """The engine reports every page; the panel draws at most once per PROGRESS_DRAW_SECONDS (then the newest
    state, never a stale one), and the finished run at once, cancelling a pending draw. The app's clock and its
    draw timer are the test's: what is drawn depends on the events, not on how fast this machine is."""
    import tui.app
    from tui.app import PROGRESS_DRAW_SECONDS
    from tui.messages import RunFinished, RunProgress

    now = [1000.0]
    monkeypatch.setattr(tui.app, "time", FrozenClock(now))  # tui.app's own view of time only, not asyncio's
    app = make_app(project, watch_runs=False)
    pending: list[ManualTimer] = []
    real_set_timer = app.set_timer

    def set_timer(delay, callback=None, *args, **kwargs):
        if callback == app._draw_progress:
            pending.append(ManualTimer(callback))
            return pending[-1]
        return real_set_timer(delay, callback, *args, **kwargs)

    monkeypatch.setattr(app, "set_timer", set_timer)

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        drawn: list[dict] = []
        app.run_signal.subscribe(app, drawn.append)

        app.post_message(RunProgress({**sample_run, "duration": 1}))
        await pilot.pause()
        assert [d["duration"] for d in drawn] == [1]  # the first report is drawn at once
        for n in range(2, 41):  # 39 more reports within one interval
            app.post_message(RunProgress({**sample_run, "duration": n}))
        await pilot.pause()
        assert [d["duration"] for d in drawn] == [1] and len(pending) == 1  # none drawn, one draw pending

        now[0] += PROGRESS_DRAW_SECONDS
        pending.pop().fire()
        await pilot.pause()
        assert [d["duration"] for d in drawn] == [1, 40]  # the newest state, not the one that set the timer

        now[0] += PROGRESS_DRAW_SECONDS  # an interval later a report is drawn at once again
        app.post_message(RunProgress({**sample_run, "duration": 41}))
        await pilot.pause()
        assert [d["duration"] for d in drawn] == [1, 40, 41] and not pending

        app.post_message(RunProgress({**sample_run, "duration": 42}))  # within the interval: pending
        await pilot.pause()
        assert len(pending) == 1 and not pending[0].stopped
        app.post_message(RunFinished({**sample_run, "state": "SUCCESS", "duration": 43}))
        await pilot.pause()
        assert drawn[-1]["state"] == "SUCCESS" and drawn[-1]["duration"] == 43  # the final state at once
        assert pending[0].stopped, "the pending draw of stale progress was not cancelled"
        assert [d["duration"] for d in drawn] == [1, 40, 41, 43]


class FrozenClock:
    """``time`` as tui.app sees it: ``monotonic()`` reads the test's clock; everything else is the real module."""

    def __init__(self, now: list[float]) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now[0]

    def __getattr__(self, name: str):
        import time

        return getattr(time, name)


class ManualTimer:
    """Stands in for the app's draw timer: fired by the test, stopped by the app."""

    def __init__(self, callback) -> None:
        self.callback = callback
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def fire(self) -> None:
        assert not self.stopped
        self.callback()
