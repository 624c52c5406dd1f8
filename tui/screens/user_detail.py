"""One managed user: its fields (editable), its link, and the linked Salesforce record fetched live beside it.

Fields the outbound mapping copies verbatim are compared with the Salesforce values and differences are
marked. Save validates against ``managed.json`` (core's ManagedSchema), then updates the user through
``SyncService.update_user``, which runs implicit sync; each mapping's result is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from tui.errors import describe_error
from tui.messages import UserActivityLoaded, UserDetailLoaded, UserInvalid, UserReconciled, UserSaved
from tui.screens.base import set_field_error
from tui.widgets.status_header import StatusHeader

if TYPE_CHECKING:
    from core.sync import UserDetail

EDITABLE = ("userName", "givenName", "sn", "mail", "accountStatus", "description", "telephoneNumber",
            "postalAddress", "city", "postalCode", "country", "stateProvince")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def compare_table(detail: UserDetail) -> Table:
    """Managed value vs Salesforce value per mapped field; a differing pair is marked ``≠`` in red."""
    table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
    table.add_column("Salesforce", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("", width=1)
    differ = set(detail.differences())
    for local, target in detail.pairs:
        theirs = _text((detail.remote or {}).get(target))
        same = (local, target) not in differ
        table.add_row(Text(target), Text(theirs, style="" if same else "bold red"),
                      Text("=" if same else "≠", style="green" if same else "bold red"))
    return table


#: activity entries shown on the screen (the newest; all of them: REST audit/activity or the repository)
ACTIVITY_SHOWN = 10
#: changed fields spelled out per entry (the rest are counted)
FIELDS_SHOWN = 3


def _short(value: Any, width: int = 24) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def _pointer_value(obj: dict[str, Any] | None, pointer: str) -> Any:
    value: Any = obj or {}
    for part in pointer.strip("/").split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def describe_change(entry: dict[str, Any]) -> Text:
    """What an activity entry changed: ``PATCH sn: Smith → Lovelace`` (values as stored: secrets masked)."""
    operation = str(entry.get("operation") or "?")
    text = Text(operation, style="bold")
    fields = [str(f) for f in entry.get("changedFields") or []]
    if operation in ("CREATE", "DELETE"):
        text.append(" created" if operation == "CREATE" else " deleted")
        return text
    if not fields:
        text.append(" (no field changed)", style="dim")
        return text
    for pointer in fields[:FIELDS_SHOWN]:
        name = pointer.strip("/")
        text.append(f" {name}: ")
        text.append(_short(_pointer_value(entry.get("before"), pointer)), style="red")
        text.append(" → ")
        text.append(_short(_pointer_value(entry.get("after"), pointer)), style="green")
        text.append(";")
    if len(fields) > FIELDS_SHOWN:
        text.append(f" and {len(fields) - FIELDS_SHOWN} more")
    else:
        text.rstrip()
        if text.plain.endswith(";"):
            text.right_crop(1)
    return text


def activity_table(entries: list[dict[str, Any]]) -> Table:
    """Who changed the user, when (UTC), from where, and what: one row per activity entry, newest first."""
    table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
    table.add_column("when (UTC)", no_wrap=True)
    table.add_column("who", no_wrap=True)
    table.add_column("what", overflow="fold", ratio=1)
    for entry in entries:
        when = str(entry.get("timestamp") or "")[:19].replace("T", " ")
        who = f"{entry.get('userId') or '?'} ({entry.get('origin') or '?'})"
        table.add_row(Text(when, style="dim"), Text(who), describe_change(entry))
    return table


class UserDetailScreen(Screen[dict[str, Any] | None]):
    """Dismissed with the saved user (so the table updates its row) or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="user-back"),
        Binding("ctrl+s", "save", "Save", id="user-save"),
        Binding("f5", "refresh_remote", "Refresh", id="user-refresh"),
        Binding("ctrl+r", "reconcile_user", "Reconcile this user", id="user-reconcile"),
    ]

    def __init__(self, user_id: str) -> None:
        super().__init__()
        self.user_id = user_id
        self.user: dict[str, Any] = {}
        self.saved: dict[str, Any] | None = None
        self.detail: UserDetail | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="user-detail"):
            with VerticalScroll(id="user-form", classes="form"):
                yield Label("Managed user", classes="section")
                for name in EDITABLE:
                    with Horizontal(classes="row"):
                        yield Label(name, classes="field-label")
                        yield Input(id=f"user-{name}", compact=True)
                    yield Label("", id=f"user-{name}-error", classes="field-error")
                with Horizontal(classes="buttons"):
                    yield Button("Save", id="user-save", variant="primary", compact=True)
                    yield Button("Back", id="user-back", compact=True)
                yield Static("", id="user-result")
            with VerticalScroll(id="user-remote"):  # scrolls when the record and the activity outgrow it
                yield Label("Linked Salesforce record", classes="section")
                yield Static("", id="user-link", markup=False)
                yield Static("Loading…", id="user-remote-table")
                yield Label("Recent activity", classes="section")
                yield Static("Loading…", id="user-activity")
        yield Footer()

    def on_mount(self) -> None:
        header = self.query_one(StatusHeader)
        header.screen_title = "Users"
        state = self.app.connection  # type: ignore[attr-defined]
        header.logged_in = bool(state.logged_in)
        header.org = (state.org or "").split("://", 1)[-1] or None
        header.api_usage = state.api_usage
        self._load()
        self._load_activity()

    @work(thread=True, exclusive=True, exit_on_error=False, group="user-load", description="Loading the user")
    def _load(self) -> None:
        self.post_message(self.app.backend.user_detail(self.user_id))  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, exit_on_error=False, group="user-activity",
          description="Loading the user's activity")
    def _load_activity(self) -> None:
        try:
            entries = self.app.backend.user_activity(self.user_id, ACTIVITY_SHOWN)  # type: ignore[attr-defined]
        except Exception as exc:  # shown in the panel; the rest of the screen stays usable
            self.post_message(UserActivityLoaded([], describe_error(exc)))
            return
        self.post_message(UserActivityLoaded(entries))

    @on(UserActivityLoaded)
    def _activity_loaded(self, message: UserActivityLoaded) -> None:
        target = self.query_one("#user-activity", Static)
        if message.error:
            target.update(Text(f"Could not read the activity audit: {message.error}", style="red"))
        elif not message.entries:
            target.update(Text("No changes recorded.", style="dim"))
        else:
            target.update(activity_table(message.entries))

    @on(UserDetailLoaded)
    def _loaded(self, message: UserDetailLoaded) -> None:
        detail = self.detail = message.detail
        self.user = detail.user
        for name in EDITABLE:
            self.query_one(f"#user-{name}", Input).value = _text(detail.user.get(name))
        self.query_one("#user-link", Static).update(f"linked to {detail.remote_id}" if detail.linked else "not linked")
        target = self.query_one("#user-remote-table", Static)
        if detail.remote_error is not None:
            target.update(Text(f"Could not fetch the Salesforce record: {describe_error(detail.remote_error)}",
                               style="red"))
        elif detail.remote is None:
            target.update(Text("No linked Salesforce record.", style="dim"))
        else:
            target.update(compare_table(detail))

    def action_reconcile_user(self) -> None:
        self.notify("Reconciling this user…", title="Reconcile")
        self._reconcile_user()

    @work(thread=True, exclusive=True, exit_on_error=False, group="user-recon", description="Reconciling the user")
    def _reconcile_user(self) -> None:
        runs = self.app.backend.reconcile_user(self.user_id)  # type: ignore[attr-defined]
        self.post_message(UserReconciled(runs))

    @on(UserReconciled)
    def _reconciled(self, message: UserReconciled) -> None:
        if not message.runs:
            self.notify("No mapping reconciles this user (not linked).", title="Reconcile", severity="warning")
        for run in message.runs:
            summary = ", ".join(f"{k} {v}" for k, v in (run.get("situationSummary") or {}).items() if v) or "nothing"
            ok = run.get("state") == "SUCCESS"
            self.notify(f"{run.get('mapping')}: {run.get('state')} ({summary})"
                        + ("" if ok else f" — {run.get('failureReason', '')}"),
                        title="Reconcile", severity="information" if ok else "warning", markup=False)
        self._load()

    def changes(self) -> dict[str, Any]:
        """Fields whose text differs from what was loaded (empty text clears an optional field)."""
        out: dict[str, Any] = {}
        for name in EDITABLE:
            value = self.query_one(f"#user-{name}", Input).value
            if value != _text(self.user.get(name)):
                out[name] = value if value != "" else None
        return out

    @on(Button.Pressed, "#user-save")
    def action_save(self) -> None:
        changes = self.changes()
        for name in EDITABLE:
            set_field_error(self.query_one(f"#user-{name}-error", Label), None)
        if not changes:
            self.notify("Nothing changed.", title="User")
            return
        self.query_one("#user-result", Static).update(Text("Saving and syncing…", style="italic"))
        self._save(changes)

    @work(thread=True, exclusive=True, exit_on_error=False, group="user-save", description="Saving the user")
    def _save(self, changes: dict[str, Any]) -> None:
        from core.repo import PreconditionFailed  # here: core.repo is not needed to draw the screens

        backend = self.app.backend  # type: ignore[attr-defined]
        errors = backend.validate_user({**self.user, **changes})
        if errors:
            self.post_message(UserInvalid(errors))
            return
        try:
            user, results = backend.update_user(self.user_id, changes, rev=self.user.get("_rev"))
        except PreconditionFailed:
            # someone (a reconciliation, the REST API) changed the user since this form read it: refuse, do
            # not overwrite their change; the edit stays in the form so it can be made again after F5
            self.post_message(UserInvalid({"_rev": "the user changed since it was opened (press F5 to "
                                                   "reload it, then save again)"}))
            return
        self.post_message(UserSaved(user, results))

    @on(UserInvalid)
    def _invalid(self, message: UserInvalid) -> None:
        for name, reason in message.errors.items():
            if name in EDITABLE:
                set_field_error(self.query_one(f"#user-{name}-error", Label), reason)
        self.query_one("#user-result", Static).update(
            Text("Not saved: " + "; ".join(f"{k}: {v}" for k, v in message.errors.items()), style="red"))

    @on(UserSaved)
    def _saved(self, message: UserSaved) -> None:
        self.user = message.user
        self.saved = message.user
        lines = Text.assemble(("✔ Saved. ", "bold green"), "Implicit sync:")
        for mapping, result in message.results.items():
            status, detail = _result_parts(result)
            lines.append(f"\n  {mapping}: ")
            lines.append(status, style={"SUCCESSFUL": "green", "SKIPPED": "yellow"}.get(status, "red"))
            if detail:
                lines.append(f" {detail}")
        self.query_one("#user-result", Static).update(lines)
        self.action_refresh_remote()

    def action_refresh_remote(self) -> None:
        self._load()
        self._load_activity()

    @on(Button.Pressed, "#user-back")
    def action_close(self) -> None:
        self.dismiss(self.saved)


def _result_parts(result: Any) -> tuple[str, str]:
    """An ImplicitResult (model or dict) as (status, detail)."""
    get = result.get if isinstance(result, dict) else (lambda k, d=None: getattr(result, k, d))
    status = str(get("result", None) or get("status", None) or "?")
    parts = []
    for key in ("situation", "action", "targetId", "message"):
        value = get(key, None)
        if value:
            parts.append(f"{key}={getattr(value, 'value', value)}")
    return status, " ".join(parts)
