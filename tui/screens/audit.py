"""One run's audit entries (IDM's ``audit/recon``), filterable by situation and status, with messages."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Select, Static

from tui.messages import AuditLoaded
from tui.widgets.recon_progress import SITUATIONS

AUDIT_LIMIT = 500


class AuditScreen(ModalScreen[None]):
    """Entries of one run; Escape closes. The selected failure's message shows in full below the table."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close", id="audit-close")]

    def __init__(self, run: dict[str, Any]) -> None:
        super().__init__()
        self.run = run
        self.entries: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="audit-box"):
            yield Label(Text.assemble(("Audit  ", "bold"), str(self.run.get("mapping", "")), "  ",
                                      (str(self.run.get("_id", "")), "dim")), id="audit-title")
            with Horizontal(classes="row"):
                yield Select([(s, s) for s in SITUATIONS], prompt="any situation", id="audit-situation",
                             compact=True)
                yield Select([("SUCCESS", "SUCCESS"), ("FAILURE", "FAILURE")], prompt="any status",
                             id="audit-status", compact=True)
            yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="audit-message-box"):  # a failure's whole message, scrolled when long
                yield Static("", id="audit-message", markup=False)

    def on_mount(self) -> None:
        self.query_one("#audit-table", DataTable).add_columns(
            "situation", "action", "status", "who", "source", "target", "message")
        self._reload()

    @on(Select.Changed)
    def _reload(self) -> None:
        situation = self.query_one("#audit-situation", Select).value
        status = self.query_one("#audit-status", Select).value
        self._load(str(self.run.get("_id")), None if situation is Select.NULL else str(situation),
                   None if status is Select.NULL else str(status))

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit", description="Reading the audit")
    def _load(self, run_id: str, situation: str | None, status: str | None) -> None:
        entries = self.app.backend.audit(run_id, situation, status, AUDIT_LIMIT)  # type: ignore[attr-defined]
        self.post_message(AuditLoaded(run_id, entries, len(entries)))

    @on(AuditLoaded)
    def _loaded(self, message: AuditLoaded) -> None:
        self.entries = message.entries
        table = self.query_one("#audit-table", DataTable)
        table.clear()
        for i, entry in enumerate(message.entries):
            status = str(entry.get("status", ""))
            table.add_row(
                Text(str(entry.get("situation") or "")), Text(str(entry.get("action") or "")),
                Text(status, style="red" if status == "FAILURE" else "green"), Text(str(entry.get("_who") or "")),
                Text(_short_id(entry.get("sourceObjectId"))), Text(_short_id(entry.get("targetObjectId"))),
                Text(str(entry.get("message") or "")), key=str(i),
            )
        more = " (first 500)" if message.total >= AUDIT_LIMIT else ""
        self.query_one("#audit-message", Static).update(f"{message.total} entries{more}")

    @on(DataTable.RowHighlighted, "#audit-table")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        index = int(event.row_key.value or 0)
        if index < len(self.entries):
            entry = self.entries[index]
            text = str(entry.get("message") or entry.get("exception") or "")
            self.query_one("#audit-message", Static).update(text or f"{len(self.entries)} entries")


def _short_id(value: Any) -> str:
    text = str(value or "")
    return text.rsplit("/", 1)[-1]
