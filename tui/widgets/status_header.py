"""The header: which screen, which project, and the connection state (org, user, API usage)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

#: the screens and their keys (1-4 or F1-F4), shown as a navigation bar
NAV = (("1", "Connector"), ("2", "Login"), ("3", "Mappings"), ("4", "Users"))


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
        width = self.size.width
        for compact, with_user in ((False, True), (False, False), (True, False)):
            text = self._nav(compact=compact)
            right = self._state(with_user=with_user)
            if text.cell_len + right.cell_len + 1 <= width:
                break
        gap = max(1, width - text.cell_len - right.cell_len)
        text.append(" " * gap)
        text.append_text(right)
        text.truncate(width)
        return text

    def _nav(self, *, compact: bool) -> Text:
        """``1 Connector 2 Login …`` with the current screen highlighted; keys only (plus the current
        title) when the terminal is narrow."""
        text = Text.assemble((" sfsync ", "bold reverse"), " ")
        for key, title in NAV:
            current = title == self.screen_title
            text.append(f"{key}", style="bold reverse" if current else "bold")
            if current or not compact:
                text.append(f" {title} ", style="bold" if current else "dim")
            else:
                text.append(" ")
        if self.screen_title not in dict(NAV).values():
            text.append(self.screen_title, style="bold")
        return text

    def _state(self, *, with_user: bool) -> Text:
        """``● org  user  API used/limit``; the user is the first thing dropped when space runs out."""
        parts: list[Any] = []
        if self.logged_in:
            parts += [("● ", "green"), (self.org or "connected", "")]
            if with_user and self.user:
                parts += ["  ", (self.user, "")]
        else:
            parts += [("○ ", "red"), ("not logged in", "dim")]
        if self.api_usage:
            used, limit = self.api_usage
            parts += ["  API ", (f"{used:,}/{limit:,}", "bold")]
        return Text.assemble(*parts, " ")
