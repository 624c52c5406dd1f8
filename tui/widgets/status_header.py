"""The header: which screen, which project, and the connection state (org, user, API usage)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StatusHeader(Widget):
    """One line; values come from :class:`tui.messages.ConnectionState` via the App."""

    DEFAULT_CSS = """
    StatusHeader { dock: top; height: 1; background: $panel; color: $text; }
    """

    screen_title: reactive[str] = reactive("")
    org: reactive[str | None] = reactive(None)
    user: reactive[str | None] = reactive(None)
    api_usage: reactive[tuple[int, int] | None] = reactive(None)
    logged_in: reactive[bool] = reactive(False)

    def render(self) -> Text:
        text = Text.assemble((" sfsync ", "bold reverse"), " ", (self.screen_title, "bold"))
        state: list[Any] = []
        if self.logged_in:
            state += [("● ", "green"), (self.org or "connected", "")]
            if self.user:
                state += ["  ", (self.user, "")]
        else:
            state += [("○ ", "red"), ("not logged in", "dim")]
        if self.api_usage:
            used, limit = self.api_usage
            state += ["  API ", (f"{used:,}/{limit:,}", "bold")]
        right = Text.assemble(*state, " ")
        width = self.size.width
        gap = max(1, width - text.cell_len - right.cell_len)
        text.append(" " * gap)
        text.append_text(right)
        text.truncate(width)
        return text
