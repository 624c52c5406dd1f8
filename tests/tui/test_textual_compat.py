"""One test per Textual internal the app uses (tui/_textual_compat.py), against the installed Textual: an
upgrade that renames or changes one fails here, by name."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Label

from tui import _textual_compat as compat


class Other(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Label("other")


class Tiny(App[None]):
    MODES = {"main": lambda: Screen(), "other": Other}  # noqa: RUF012 - Textual's own class attribute

    def on_mount(self) -> None:
        self.switch_mode("main")


async def test_active_app_is_the_running_app_and_none_outside():
    assert compat.active_app_or_none() is None
    app = Tiny()
    async with app.run_test() as pilot:
        seen = []
        app.call_later(lambda: seen.append(compat.active_app_or_none()))
        await pilot.pause()
        assert seen == [app]


async def test_css_update_count_moves_on_a_theme_change_and_marks_a_node_current():
    app = Tiny()
    async with app.run_test() as pilot:
        before = compat.css_update_count(app)
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert compat.css_update_count(app) > before
        label = Label("x")
        compat.mark_css_current(label, compat.css_update_count(app))
        assert label._css_update_count == compat.css_update_count(app)


async def test_a_mode_is_built_without_being_shown():
    app = Tiny()
    async with app.run_test() as pilot:
        assert not compat.has_built_mode(app, "other")
        compat.build_mode(app, "other")
        await pilot.pause()
        assert compat.has_built_mode(app, "other")
        assert app.current_mode == "main" and not isinstance(app.screen, Other)
        app.switch_mode("other")
        await pilot.pause()
        assert isinstance(app.screen, Other)
