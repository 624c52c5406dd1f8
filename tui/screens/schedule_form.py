"""Add or edit a schedule: ``conf/schedule-<id>.json`` in IDM's format, checked as you type.

The cron expression (Quartz: seconds first, ``?`` in day-of-month or day-of-week) goes through the
scheduler's own parser on every keystroke (``Backend.check_cron``, pure and quick): a refused expression
shows the parser's reason and a caret under the position it names; a good one is said in words ("every 15
minutes"), or, for shapes the describer cannot put in words, by its next three fire times in the schedule's
zone. A simple schedule takes ``repeatInterval`` in milliseconds, as IDM does. Saving writes the file
through ``core.schedule.jobs`` in a worker (atomic; an edit keeps the file's key order and unknown keys);
a field core refuses is shown under that field and the form stays open.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from tui.messages import ScheduleRefused, ScheduleSaved
from tui.screens.base import set_field_error

#: IDM's job ids (core/schedule/config.py ``ID_PATTERN``): the file is conf/schedule-<id>.json
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LABEL_WIDTH = 18
DEFAULT_CRON = "0 0/15 * * * ?"
TYPES = [("cron (Quartz expression)", "cron"), ("simple (every N ms)", "simple")]
MISFIRE = [("fireAndProceed (fire once, late)", "fireAndProceed"), ("doNothing (wait for the next)", "doNothing")]
#: the form's fields and the schedule keys core may name in a refusal
FIELD_OF_KEY = {"schedule": "cron", "repeatInterval": "interval", "timeZone": "zone", "type": "cron"}


def suggest_id(mapping: str, taken: set[str]) -> str:
    """``reconcile_<mapping>``, or with ``-2``, ``-3``… when that file exists."""
    base = f"reconcile_{mapping}"
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def caret_line(position: int) -> str:
    """A caret under character ``position`` (1-based) of the expression field."""
    return " " * (LABEL_WIDTH + max(position, 1) - 1) + "^"


class ScheduleForm(ModalScreen[Any]):
    """Dismissed with the saved ``ScheduleRow``, or None when cancelled.

    ``row``: the schedule to edit (None to add a reconcile schedule of ``mapping``); ``taken``: the ids in use.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="schedule-save"),
        Binding("escape", "cancel", "Cancel", id="schedule-cancel"),
    ]

    def __init__(self, *, mapping: str, row: Any = None, taken: set[str] | None = None) -> None:
        super().__init__()
        self.mapping = mapping
        self.row = row
        self.taken = set(taken or ())
        self.data: dict[str, Any] = dict(row.data) if row is not None and row.data else {}
        self.now = datetime.now().astimezone()
        self._saving = False

    @property
    def adding(self) -> bool:
        return self.row is None

    @property
    def backend(self) -> Any:
        return self.app.backend  # type: ignore[attr-defined]

    # ---- layout -------------------------------------------------------------------------------------
    def _row(self, label: str, *widgets: Any, row_id: str | None = None) -> Horizontal:
        return Horizontal(Label(label, classes="field-label"), *widgets, classes="row", id=row_id)

    def compose(self) -> ComposeResult:
        data = self.data
        kind = data.get("type", "cron") if data.get("type") in ("cron", "simple") else "cron"
        if self.adding:
            title = Text.assemble(("Add a schedule", "bold"), f"  reconcile {self.mapping}")
        else:
            title = Text.assemble((f"Edit schedule {self.row.id}", "bold"),
                                  f"  {self.row.action or '?'} {self.row.target or '?'}", (f"  {self.row.file}", "dim"))
        with Vertical(id="schedule-box"):
            yield Static(title, id="schedule-title")
            if self.adding:
                yield self._row("Id", Input(suggest_id(self.mapping, self.taken), id="schedule-id", compact=True,
                                            placeholder="letters, digits, . _ -"))
            else:
                yield self._row("Id", Label(Text(self.row.id), id="schedule-id-shown"))
            yield Label("", id="id-error", classes="field-error")
            yield self._row("Type", Select(TYPES, value=kind, allow_blank=False, compact=True, id="schedule-type"))
            yield self._row("Cron (Quartz)", Input(str(data.get("schedule") or (DEFAULT_CRON if self.adding else "")),
                                                   id="schedule-cron", compact=True,
                                                   placeholder="sec min hour day-of-month month day-of-week [year]"),
                            row_id="cron-row")
            yield Static("", id="cron-words")
            interval = data.get("repeatInterval")
            yield self._row("Interval (ms)", Input("" if interval is None else str(interval), id="schedule-interval",
                                                   compact=True, placeholder="e.g. 60000 (every minute)"),
                            row_id="interval-row")
            yield Static("", id="interval-words")
            zone = data.get("timeZone") if not self.adding else "UTC"
            yield self._row("Time zone", Input(str(zone or ""), id="schedule-zone", compact=True,
                                               placeholder="IANA name; empty: the machine's zone"))
            yield Label("", id="zone-error", classes="field-error")
            yield self._row("Enabled", Checkbox("fires (unchecked: kept, never fires)", bool(data.get("enabled", True)),
                                                id="schedule-enabled", compact=True))
            yield self._row("Concurrent", Checkbox("may fire while the mapping still runs",
                                                   bool(data.get("concurrentExecution", False)),
                                                   id="schedule-concurrent", compact=True))
            misfire = data.get("misfirePolicy") if data.get("misfirePolicy") in ("fireAndProceed", "doNothing") \
                else "fireAndProceed"
            yield self._row("Misfire policy", Select(MISFIRE, value=misfire, allow_blank=False, compact=True,
                                                     id="schedule-misfire"))
            with Horizontal(classes="buttons"):
                yield Button("Save", id="schedule-save-button", variant="primary", compact=True)
                yield Button("Cancel", id="schedule-cancel-button", compact=True)
            yield Static("", id="schedule-result")

    def on_mount(self) -> None:
        self._show_type(str(self.query_one("#schedule-type", Select).value))
        self._check_cron()
        self._check_interval()
        if self.row is not None and self.row.error:
            self._result("This file is refused as it is: fix the field marked in red, then save.", error=True)
        self.query_one("#schedule-cron", Input).focus()

    # ---- checks as you type -------------------------------------------------------------------------
    def _show_type(self, kind: str) -> None:
        cron = kind == "cron"
        for selector in ("#cron-row", "#cron-words"):
            self.query_one(selector).display = cron
        for selector in ("#interval-row", "#interval-words"):
            self.query_one(selector).display = not cron

    @on(Select.Changed, "#schedule-type")
    def _type_changed(self, event: Select.Changed) -> None:
        self._show_type(str(event.value))

    @on(Input.Changed, "#schedule-cron")
    @on(Input.Changed, "#schedule-zone")
    def _cron_changed(self) -> None:
        self._check_cron()

    @on(Input.Changed, "#schedule-interval")
    def _interval_changed(self) -> None:
        self._check_interval()

    @on(Input.Changed, "#schedule-id")
    def _id_changed(self) -> None:
        self._check_id()

    def _zone_name(self) -> str:
        return self.query_one("#schedule-zone", Input).value.strip()

    def _check_cron(self) -> bool:
        """Parse the expression and the zone with core's parser; show the error at its position, or the words."""
        expression = self.query_one("#schedule-cron", Input).value
        check = self.backend.check_cron(expression, self._zone_name())
        set_field_error(self.query_one("#zone-error", Label), check.zone_error)
        words = self.query_one("#cron-words", Static)
        self.query_one("#schedule-cron", Input).set_class(check.error is not None, "-invalid")
        if check.error is not None:  # a caret under the position the parser names, then its reason
            words.update(Text.assemble((caret_line(check.position or 1), "bold red"), "\n",
                                       (f"  ↳ {check.error}", "red")))
            return False
        if check.zone_error is not None:
            words.update("")
            return False
        zone = self._zone_name() or check.zone
        times = [t.astimezone(check.tz) for t in check.next_times]
        stamp = [t.strftime("%Y-%m-%d %H:%M:%S") for t in times]
        if check.words:
            text = Text.assemble("  ↳ ", (check.words, "bold green"), (f" ({zone})", "dim"))
            if stamp:
                text.append(f"; next {stamp[0]}", style="dim")
        else:
            text = Text.assemble("  ↳ ", ("next: " + (", ".join(stamp) or "never"), "green"), (f" ({zone})", "dim"))
        words.update(text)
        return True

    def _check_interval(self) -> bool:
        text = self.query_one("#schedule-interval", Input).value.strip()
        words = self.query_one("#interval-words", Static)
        ok = text.isdigit()
        self.query_one("#schedule-interval", Input).set_class(not ok, "-invalid")
        if not ok:
            words.update(Text("  ↳ a whole number of milliseconds ≥ 0 (repeatInterval), e.g. 60000", style="red"))
        else:
            words.update(Text.assemble("  ↳ ", (self.backend.describe_interval(int(text)), "bold green")))
        return ok

    def _check_id(self) -> bool:
        if not self.adding:
            return True
        value = self.query_one("#schedule-id", Input).value.strip()
        reason = None
        if not ID_PATTERN.match(value):
            reason = "letters, digits, '.', '_' and '-' (the file is conf/schedule-<id>.json)"
        elif value in self.taken:
            reason = f"conf/schedule-{value}.json exists: choose another id, or edit that schedule"
        set_field_error(self.query_one("#id-error", Label), reason)
        self.query_one("#schedule-id", Input).set_class(reason is not None, "-invalid")
        return reason is None

    # ---- save ---------------------------------------------------------------------------------------
    def body(self) -> tuple[str, dict[str, Any]]:
        """The job id and the object to write (an edit starts from the file's own object)."""
        kind = str(self.query_one("#schedule-type", Select).value)
        if self.adding:
            job_id = self.query_one("#schedule-id", Input).value.strip()
            body: dict[str, Any] = {"enabled": True, "type": kind, "persisted": True}
        else:
            job_id = self.row.id
            body = dict(self.data)
        old_kind = body.get("type", "cron")
        body["enabled"] = self.query_one("#schedule-enabled", Checkbox).value
        body["type"] = kind
        if kind == "cron":
            body["schedule"] = self.query_one("#schedule-cron", Input).value.strip()
            if old_kind != "cron":
                body.pop("repeatInterval", None)
        else:
            body["repeatInterval"] = int(self.query_one("#schedule-interval", Input).value.strip())
            if old_kind != "simple":
                body.pop("schedule", None)
        zone = self._zone_name()
        if zone:
            body["timeZone"] = zone
        else:
            body.pop("timeZone", None)
        body["misfirePolicy"] = str(self.query_one("#schedule-misfire", Select).value)
        body["concurrentExecution"] = self.query_one("#schedule-concurrent", Checkbox).value
        if self.adding:  # IDM's key order, as in its samples
            order = ("enabled", "type", "schedule", "repeatInterval", "timeZone", "persisted", "misfirePolicy",
                     "concurrentExecution")
            body = {key: body[key] for key in order if key in body}
            body["invokeService"] = "sync"
            body["invokeContext"] = {"action": "reconcile", "mapping": self.mapping}
        return job_id, body

    @on(Button.Pressed, "#schedule-save-button")
    @on(Input.Submitted)
    def action_save(self) -> None:
        kind = str(self.query_one("#schedule-type", Select).value)
        checks = [self._check_id(), self._check_cron() if kind == "cron" else self._check_interval()]
        zone_error = self.backend.check_zone(self._zone_name())
        set_field_error(self.query_one("#zone-error", Label), zone_error)
        if not all(checks) or zone_error:
            self._result("Not saved: fix the fields marked in red.", error=True)
            return
        if self._saving:
            return
        self._saving = True
        job_id, body = self.body()
        self._result(f"Saving conf/schedule-{job_id}.json…")
        self._save(job_id, body)

    @work(thread=True, exclusive=True, exit_on_error=False, group="schedule-save", description="Saving the schedule")
    def _save(self, job_id: str, body: dict[str, Any]) -> None:
        from core.errors import ConfigError
        from core.repo import PreconditionFailed

        try:
            row = self.backend.save_schedule(job_id, body, create=self.adding)
        except PreconditionFailed:
            self.post_message(ScheduleRefused("id", f"conf/schedule-{job_id}.json exists: choose another id"))
        except ConfigError as exc:
            self.post_message(ScheduleRefused(exc.field, str(exc)))
        else:
            self.post_message(ScheduleSaved(row))

    @on(ScheduleRefused)
    def _refused(self, message: ScheduleRefused) -> None:
        self._saving = False
        field = "id" if message.field == "id" else FIELD_OF_KEY.get((message.field or "").split(".")[0])
        if field == "id":
            set_field_error(self.query_one("#id-error", Label), message.reason)
        elif field == "zone":
            set_field_error(self.query_one("#zone-error", Label), message.reason)
        elif field == "cron":
            self.query_one("#cron-words", Static).update(Text(f"  ↳ {message.reason}", style="red"))
        self._result(f"Not saved: {message.reason}", error=True)

    @on(ScheduleSaved)
    def _saved(self, message: ScheduleSaved) -> None:
        self._saving = False
        self.dismiss(message.row)

    @on(Button.Pressed, "#schedule-cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _result(self, text: str, *, error: bool = False) -> None:
        self.query_one("#schedule-result", Static).update(Text(text, style="red" if error else "dim"))

