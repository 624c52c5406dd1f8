"""What every screen shares: the status header, the footer with the keys, access to the Backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Label

from tui._textual_compat import active_app_or_none, css_update_count, mark_css_current
from tui.messages import ConnectionState
from tui.widgets.status_header import StatusHeader

if TYPE_CHECKING:
    from tui.app import SfsyncApp
    from tui.backend import Backend


class BaseScreen(Screen[None]):
    """A top-level screen (one per mode): header, ``compose_body()``, footer."""

    SCREEN_TITLE = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Textual (pinned) runs App.refresh_css twice when a mode's screen is new: every CSS source parsed
        # again and every screen already built restyled, 0.2-0.3 s on a small machine (most of a cold Users
        # open). Nothing changes when the app's CSS is current (no theme change since its last refresh): this
        # screen's widgets are styled as they mount, as a pushed screen's are. So such a screen starts marked
        # current; a theme change later still restyles it when shown. The first screen keeps the full refresh
        # (the App node's own styles are settled by it).
        app = active_app_or_none()
        refreshed = getattr(app, "css_refreshed_at", None)
        if app is not None and refreshed is not None and refreshed == css_update_count(app):
            mark_css_current(self, refreshed)

    @property
    def sfsync(self) -> SfsyncApp:
        return self.app  # type: ignore[return-value]

    @property
    def backend(self) -> Backend:
        return self.sfsync.backend

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status-header")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:  # pragma: no cover - every screen overrides it
        yield from ()

    def on_mount(self) -> None:
        header = self.query_one(StatusHeader)
        header.screen_title = self.SCREEN_TITLE
        self._show_connection(self.sfsync.connection)
        self.sfsync.connection_signal.subscribe(self, self._show_connection)

    def _show_connection(self, state: ConnectionState) -> None:
        header = self.query_one(StatusHeader)
        header.org = _host(state.org)
        header.user = state.user
        header.api_usage = state.api_usage
        header.logged_in = bool(state.logged_in)


def set_field_error(label: Label, reason: str | None) -> None:
    """Show ``reason`` under a field (as text, never markup), or hide the line when there is none."""
    label.update(Text(f"  ↳ {reason}", style="red") if reason else "")
    label.set_class(bool(reason), "-shown")


def _host(url: Any) -> str | None:
    """The org's host (the header has no room for a full URL)."""
    if not url:
        return None
    text = str(url)
    return text.split("://", 1)[-1].rstrip("/")
