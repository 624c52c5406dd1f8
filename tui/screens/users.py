"""The Users screen: every managed user in a virtual table, a filter box, sorting, Enter for the detail.

The filter takes an IDM query filter (``mail sw "a" and accountStatus eq "active"``) or plain words (each
must occur in userName, givenName, sn or mail). Counting and paging run in SQLite through the Backend, in
thread workers, so 100,000 users open at once and a filter applies without blocking keys.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from tui.backend import words_to_filter
from tui.screens.base import BaseScreen
from tui.screens.user_detail import UserDetailScreen
from tui.widgets.users_table import UsersTable


def link_state(row: dict[str, Any]) -> str:
    return "linked" if row.get("_link") else "—"


class UsersScreen(BaseScreen):
    """Filter box, count line and the table; ``/`` focuses the filter, Enter opens a user."""

    SCREEN_TITLE = "Users"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", id="users-filter"),
        Binding("f5", "reload", "Reload", id="users-reload"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="users-filter-row", classes="row"):
            yield Label("Filter", classes="field-label")
            yield Input(id="users-filter", compact=True,
                        placeholder='name or email beginnings, or an IDM filter: mail co "acme"')
        yield Static("", id="users-status")
        yield UsersTable(id="users-table", link_of=link_state)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(UsersTable)
        table.set_source(self.backend.user_source())
        table.focus()
        self._refreshed_after: set[str] = set()
        self.sfsync.run_signal.subscribe(self, self._run_changed)

    def _run_changed(self, run: dict[str, Any]) -> None:
        """A finished run (here, in the CLI or over REST) may have changed the users: read them again once."""
        run_id = str(run.get("_id"))
        if run.get("state") == "ACTIVE" or run.get("dryRun") or run_id in self._refreshed_after:
            return
        self._refreshed_after.add(run_id)
        self.query_one(UsersTable).reload()

    def apply_filter(self, text: str) -> None:
        """Plain words or an IDM filter (checked first, so a typo is reported, not searched for)."""
        from core.repo import looks_like_filter  # here: core.repo is not needed to draw the screens

        text = text.strip()
        if not text:
            query_filter = "true"
        elif looks_like_filter(text):
            error = self.backend.check_filter(text)
            if error:
                self.query_one("#users-status", Static).update(Text(f"filter: {error}", style="red"))
                return
            query_filter = text
        else:
            query_filter = words_to_filter(text)
        self.shown_filter = text or "all users"
        table = self.query_one(UsersTable)
        table.cursor_row = 0
        table.scroll_to(y=0, animate=False, immediate=True)
        table.set_query(query_filter)

    @on(Input.Submitted, "#users-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(event.value)
        self.query_one(UsersTable).focus()

    @on(UsersTable.QueryChanged)
    def _query_changed(self, event: UsersTable.QueryChanged) -> None:
        sort = event.sort or "(none)"
        shown = getattr(self, "shown_filter", "all users")
        count = f"{event.total:,}+" if self.query_one(UsersTable).provisional else f"{event.total:,}"
        self.query_one("#users-status", Static).update(Text.assemble(
            (count, "bold"), " users  ", ("sort ", "dim"), sort, ("  filter ", "dim"), shown))

    @on(UsersTable.RowSelected)
    def _open(self, event: UsersTable.RowSelected) -> None:
        self.app.push_screen(UserDetailScreen(str(event.row["_id"])), callback=self._detail_closed)

    def _detail_closed(self, user: dict[str, Any] | None) -> None:
        if user:
            self.query_one(UsersTable).update_row(user)

    def action_focus_filter(self) -> None:
        self.query_one("#users-filter", Input).focus()

    def action_reload(self) -> None:
        self.query_one(UsersTable).reload()
