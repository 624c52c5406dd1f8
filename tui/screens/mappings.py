"""The Mappings screen: the mappings of ``sync.json``, Reconcile / Dry run with live progress, run history,
and the selected mapping's schedules.

The reconciliation worker and the run watcher belong to the App (a run outlives a screen switch); this
screen subscribes to the App's ``run`` and ``runs`` signals, so a run started by the CLI, the REST API or a
schedule (``sfsync scheduler``, ``sfsync serve``) is drawn exactly like one started here. Enter on a run in
the history opens its audit entries.

The Schedules tab lists the ``conf/schedule-*.json`` that reconcile the selected mapping or liveSync its
source (times in UTC, as IDM's ``nextRunDate``), broken files with their error; ``p`` pauses or resumes the
highlighted one (state in the repository, through ``core.schedule.jobs``), ``a`` adds one, ``e`` or Enter
edits one (:mod:`tui.screens.schedule_form`). The list is read in a worker when the tab is shown, when a run
starts or ends, and every few seconds while the tab is shown.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from tui.messages import MappingsLoaded, SchedulePaused, SchedulesLoaded
from tui.screens.audit import AuditScreen
from tui.screens.base import BaseScreen
from tui.screens.schedule_form import ScheduleForm
from tui.widgets.recon_progress import STATE_STYLE, ReconProgress


def attr(obj: Any, name: str, default: Any = None) -> Any:
    """A mapping field whether core hands out a model or a dict (unknown keys are kept either way)."""
    raw = getattr(obj, "raw", None)
    if isinstance(raw, dict):  # core's Mapping keeps sync.json's own JSON: show exactly that
        obj = raw
    if isinstance(obj, dict):
        return obj.get(name, default)
    value = getattr(obj, name, None)
    return default if value is None else value


def policy_summary(policies: list[Any]) -> str:
    """``ABSENT→CREATE, CONFIRMED→UPDATE, …`` (IDM's words)."""
    parts = []
    for policy in policies or []:
        situation = attr(policy, "situation", "?")
        action = attr(policy, "action", "?")
        if isinstance(action, dict):
            action = "script"
        parts.append(f"{getattr(situation, 'value', situation)}→{getattr(action, 'value', action)}")
    return ", ".join(parts)


def policy_lines(policies: list[Any]) -> list[str]:
    """One line per action: ``CREATE: ABSENT`` / ``EXCEPTION: AMBIGUOUS, MISSING, …`` (compact, IDM's words)."""
    by_action: dict[str, list[str]] = {}
    for part in policy_summary(policies).split(", "):
        if "→" in part:
            situation, action = part.split("→", 1)
            by_action.setdefault(action, []).append(situation)
    return [f"{action}: {', '.join(situations)}" for action, situations in by_action.items()]


def property_lines(properties: list[Any]) -> list[str]:
    lines = []
    for prop in properties or []:
        source = attr(prop, "source") or ("(default)" if attr(prop, "default") is not None else "(script)")
        extra = " (transform)" if attr(prop, "transform") else ""
        lines.append(f"{source} → {attr(prop, 'target')}{extra}")
    return lines


def short_time(value: Any) -> str:
    text = str(value or "")
    return text[:19].replace("T", " ")


#: how often the Schedules tab reads the schedules again while it is shown (runs starting or ending also do)
SCHEDULES_REFRESH_SECONDS = 5.0
#: a next fire time this far in the past has not been fired by any scheduler (Quartz's misfire threshold)
OVERDUE = timedelta(seconds=60)
RESULT_STYLE = {"SUCCESS": "green", "FAILED": "red", "SKIPPED": "yellow"}


def utc(moment: datetime | None, *, full: bool = False) -> str:
    """A UTC time: ``05-01 10:15`` in the table (80 columns), ``2026-05-01 10:15:00`` in the detail."""
    if moment is None:
        return "–"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if full else "%m-%d %H:%M")


def schedule_state(row: Any) -> Text:
    """enabled and paused in one word: on, paused, off (disabled in its file), broken (refused)."""
    if row.error:
        return Text("broken", style="bold red")
    if not row.enabled:
        return Text("off", style="dim")
    return Text("paused", style="bold yellow") if row.paused else Text("on", style="green")


def schedule_cells(row: Any, now: datetime) -> list[Any]:
    """One line of the Schedules table: id, type, when, state, next, last result, last fire."""
    nxt = Text(utc(row.next_fire) if row.enabled and not row.error else "–")
    if row.enabled and not row.paused and row.next_fire is not None and row.next_fire < now - OVERDUE:
        nxt.stylize("yellow")
    result = "" if row.error else str((row.last_result or {}).get("status", ""))
    return [Text(row.id), Text(row.type or "?"), Text(row.when or "?"), schedule_state(row), nxt,
            Text(result, style=RESULT_STYLE.get(result, "")), Text(utc(row.last_fire))]


def schedule_detail(row: Any, now: datetime) -> Text:
    """The highlighted schedule in full: what it runs, its timing in words, next and last firing, its file."""
    what = f"{row.action or '?'} {row.target or '?'}"
    text = Text.assemble((row.id, "bold"), "  ", what, ("  " + row.file, "dim"))
    if row.error:
        text.append("\nrefused (never fires; e edits it): ", style="bold red")
        text.append(row.error, style="red")
        return text
    kind = f"{row.type} {row.when}"
    text.append(f"\n{kind}: ")
    text.append(row.words or "(see the next fire times in the form)", style="bold" if row.words else "dim")
    text.append(f"  timeZone {row.zone}", style="dim")
    text.append("\nnext ")
    if not row.enabled:
        text.append("never: disabled in its file", style="dim")
    else:
        text.append(utc(row.next_fire, full=True) + " UTC" if row.next_fire else "never (ended)")
        zone = getattr(row, "zone", None)
        if row.next_fire is not None and zone and not str(zone).startswith("UTC"):
            text.append(f" ({_in_zone(row)})", style="dim")
        if row.paused:
            text.append("  paused (p resumes)", style="yellow")
        elif row.next_fire is not None and row.next_fire < now - OVERDUE:
            text.append("  due: is sfsync scheduler or serve running?", style="yellow")
    result = row.last_result or {}
    if result:
        status = str(result.get("status", ""))
        text.append("\nlast ")
        text.append(utc(row.last_fire, full=True) + " UTC " if row.last_fire else "")
        text.append(status, style=RESULT_STYLE.get(status, "bold"))
        text.append(f" {result.get('message', '')}")
    else:
        text.append("\nnever fired yet", style="dim")
    text.append(f"\nmisfirePolicy {row.misfire_policy} · concurrentExecution {str(row.concurrent).lower()}",
                style="dim")
    return text


def _in_zone(row: Any) -> str:
    from zoneinfo import ZoneInfo

    try:
        zone = ZoneInfo(str(row.zone))
    except (ValueError, KeyError, OSError):
        return ""
    return row.next_fire.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S ") + str(row.zone)


class MappingsScreen(BaseScreen):
    """Mapping list and details, the live progress panel, and the run history."""

    SCREEN_TITLE = "Mappings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reconcile(False)", "Reconcile", id="mappings-reconcile"),
        Binding("d", "reconcile(True)", "Dry run", id="mappings-dry-run"),
        Binding("c", "cancel_run", "Cancel run", id="mappings-cancel"),
        # the Schedules tab's keys (shown in the footer on that tab only)
        Binding("p", "pause_schedule", "Pause", id="schedules-pause", tooltip="Pause or resume the schedule"),
        Binding("a", "add_schedule", "Add", id="schedules-add", tooltip="Add a schedule for this mapping"),
        Binding("e", "edit_schedule", "Edit", id="schedules-edit", tooltip="Edit the schedule"),
    ]
    SCHEDULE_ACTIONS = frozenset({"pause_schedule", "add_schedule", "edit_schedule"})

    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="mapping-tabs", initial="tab-mappings"):
            with TabPane("Mappings", id="tab-mappings"):
                with Horizontal(id="mapping-top"):
                    yield OptionList(id="mapping-list")
                    with VerticalScroll(id="mapping-side"):
                        with Horizontal(classes="buttons"):
                            yield Button("Reconcile", id="reconcile", variant="primary", compact=True)
                            yield Button("Dry run", id="dry-run", compact=True)
                            yield Button("Cancel", id="cancel", compact=True)
                        yield Static("", id="mapping-detail")
            with TabPane("Progress", id="tab-progress"):
                yield ReconProgress(id="recon-progress")
            with TabPane("History", id="tab-history"):
                yield DataTable(id="run-history", cursor_type="row", zebra_stripes=True)
            with TabPane("Schedules", id="tab-schedules"):
                yield Static("", id="schedules-title")
                yield DataTable(id="schedule-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="schedule-detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.mappings: list[Any] = []
        self._history_drawn = 0.0
        table = self.query_one("#run-history", DataTable)
        table.add_columns("started", "mapping", "state", "source", "ok", "failed", "run id")
        self.schedule_rows: list[Any] = []
        self.schedules_loaded = False
        self._runs_key: Any = None
        self.query_one("#schedule-table", DataTable).add_columns(
            "id", "type", "when", "state", "next (UTC)", "result", "last fire (UTC)")
        self.set_interval(SCHEDULES_REFRESH_SECONDS, self._refresh_schedules_if_shown)
        self.sfsync.run_signal.subscribe(self, self._show_run)
        self.sfsync.runs_signal.subscribe(self, self._show_runs)
        if self.sfsync.watched_run:
            self._show_run(self.sfsync.watched_run)
        self._show_runs(self.sfsync.runs)
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="mappings-load", description="Reading sync.json")
    def _load(self) -> None:
        self.post_message(MappingsLoaded(self.backend.mappings()))

    @on(MappingsLoaded)
    def _loaded(self, message: MappingsLoaded) -> None:
        self.mappings = message.mappings
        options = self.query_one("#mapping-list", OptionList)
        options.clear_options()
        for mapping in self.mappings:
            name = str(attr(mapping, "name"))
            options.add_option(Option(Text(name), id=name))
        if self.mappings:
            options.highlighted = 0
            self._describe(self.mappings[0])
        self._show_schedules()
        self._run_pending_action()

    @property
    def selected(self) -> Any:
        options = self.query_one("#mapping-list", OptionList)
        index = options.highlighted
        if index is None or index >= len(self.mappings):
            return None
        return self.mappings[index]

    @on(OptionList.OptionHighlighted, "#mapping-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index < len(self.mappings):
            self._describe(self.mappings[event.option_index])
            self._show_schedules()

    def _describe(self, mapping: Any) -> None:
        name = str(attr(mapping, "name"))
        text = Text.assemble((name, "bold"), "\n", (str(attr(mapping, "source")), "cyan"), " → ",
                             (str(attr(mapping, "target")), "cyan"))
        links = attr(mapping, "links")
        if links:
            text.append(f"\nuses the links of {links}", style="dim")
        last = next((r for r in self.sfsync.runs if r.get("mapping") == name), None)
        if last:
            text.append("\nlast run ")
            text.append(str(last.get("state")), style=STATE_STYLE.get(str(last.get("state")), "bold"))
            text.append(f" {short_time(last.get('started'))}")
        text.append("\n\nProperties\n", style="bold")
        for line in property_lines(attr(mapping, "properties", [])):
            text.append(f"  {line}\n")
        text.append("Policies\n", style="bold")
        for line in policy_lines(attr(mapping, "policies", [])):
            text.append(f"  {line}\n", style="dim")
        self.query_one("#mapping-detail", Static).update(text)

    # ---- actions ------------------------------------------------------------------------------------
    @on(Button.Pressed, "#reconcile")
    def _reconcile_pressed(self) -> None:
        self.action_reconcile(False)

    @on(Button.Pressed, "#dry-run")
    def _dry_run_pressed(self) -> None:
        self.action_reconcile(True)

    def action_reconcile(self, dry_run: bool) -> None:
        mapping = self.selected
        if mapping is None:
            self.notify("No mapping selected.", severity="warning")
            return
        if self.sfsync.start_recon(str(attr(mapping, "name")), dry_run) is not None:
            self.query_one("#mapping-tabs", TabbedContent).active = "tab-progress"

    @on(Button.Pressed, "#cancel")
    def action_cancel_run(self) -> None:
        run = self.sfsync.watched_run
        if not run or run.get("state") != "ACTIVE":
            self.notify("No run in progress.", severity="warning")
            return
        self.sfsync.cancel_recon()
        self.notify("Cancelling…", title="Reconciliation")

    # ---- live state ---------------------------------------------------------------------------------
    def _show_run(self, run: dict[str, Any]) -> None:
        self.query_one("#recon-progress", ReconProgress).run = run
        if run.get("state") == "ACTIVE" and self.query_one("#mapping-tabs", TabbedContent).active == "tab-mappings":
            self.query_one("#mapping-tabs", TabbedContent).active = "tab-progress"

    def _show_runs(self, runs: list[dict[str, Any]]) -> None:
        key = [(r.get("_id"), r.get("state")) for r in runs]
        if key != self._runs_key:  # a run started or ended (a schedule's firing, perhaps): results changed
            self._runs_key = key
            self._refresh_schedules_if_shown()
        # while a run is going the watcher reports 4 times a second: rebuild the history at most once a second
        active = any(r.get("state") == "ACTIVE" for r in runs)
        now = time.monotonic()
        if active and now - self._history_drawn < 1.0:
            return
        self._history_drawn = now
        table = self.query_one("#run-history", DataTable)
        keep = table.cursor_row
        table.clear()
        for run in runs:
            state = str(run.get("state", ""))
            source = ((run.get("progress") or {}).get("source") or {}).get("existing") or {}
            status = run.get("statusSummary") or {}
            table.add_row(
                short_time(run.get("started")), Text(str(run.get("mapping", ""))),
                Text(state, style=STATE_STYLE.get(state, "")),
                f"{source.get('processed', 0)}/{source.get('total', '?')}",
                str(status.get("SUCCESS", 0)), str(status.get("FAILURE", 0)),
                Text(str(run.get("_id", ""))), key=str(run.get("_id")),
            )
        if runs:
            table.move_cursor(row=min(keep, len(runs) - 1))
        if self.selected is not None:
            self._describe(self.selected)

    @on(DataTable.RowSelected, "#run-history")
    def _open_run(self, event: DataTable.RowSelected) -> None:
        run_id = event.row_key.value
        run = next((r for r in self.sfsync.runs if str(r.get("_id")) == run_id), None)
        if run is not None:
            self.app.push_screen(AuditScreen(run))

    # ---- schedules ----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The schedule keys belong to the Schedules tab: elsewhere they are neither shown nor active."""
        if action in self.SCHEDULE_ACTIONS:
            tabs = self.query("#mapping-tabs")
            return bool(tabs) and tabs.first(TabbedContent).active == "tab-schedules"
        return True

    @on(TabbedContent.TabActivated, "#mapping-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        if event.pane.id == "tab-schedules":
            self.load_schedules()

    def show_schedules_tab(self, then: str | None = None) -> None:
        """Show the Schedules tab with the keyboard on its table (the command palette's "Schedules"), then run
        the action ``then`` (add_schedule, …) once the mappings and the schedules are read."""
        self.query_one("#mapping-tabs", TabbedContent).active = "tab-schedules"
        self.query_one("#schedule-table", DataTable).focus()
        if then is not None:
            self._pending_action: str | None = then
            self._run_pending_action()

    def _run_pending_action(self) -> None:
        action: str | None = getattr(self, "_pending_action", None)
        if action is not None and self.mappings and self.schedules_loaded:
            self._pending_action = None
            getattr(self, f"action_{action}")()

    def _refresh_schedules_if_shown(self) -> None:
        if self.app.screen is self and self.query_one("#mapping-tabs", TabbedContent).active == "tab-schedules":
            self.load_schedules()

    @work(thread=True, exclusive=True, exit_on_error=False, group="schedules-load", description="Reading schedules")
    def load_schedules(self) -> None:
        self.post_message(SchedulesLoaded(self.backend.schedules()))

    @on(SchedulesLoaded)
    def _schedules_loaded(self, message: SchedulesLoaded) -> None:
        self.schedule_rows = message.rows
        self.schedules_loaded = True
        self._show_schedules()
        self._run_pending_action()

    def _mapping_key(self) -> tuple[str, str | None] | None:
        mapping = self.selected
        if mapping is None:
            return None
        source = attr(mapping, "source")
        return str(attr(mapping, "name")), str(source) if source else None

    @property
    def shown_schedules(self) -> list[Any]:
        """The schedules of the selected mapping, as the table lists them."""
        key = self._mapping_key()
        if key is None:
            return []
        return [row for row in self.schedule_rows if row.concerns(*key)]

    def _show_schedules(self, select: str | None = None) -> None:
        table = self.query_one("#schedule-table", DataTable)
        key = self._mapping_key()
        rows = self.shown_schedules
        now = datetime.now(UTC)
        current = select or self._highlighted_schedule_id()
        table.clear()
        for row in rows:
            table.add_row(*schedule_cells(row, now), key=row.id)
        title = self.query_one("#schedules-title", Static)
        if key is None:
            title.update(Text("No mapping selected.", style="dim"))
        else:
            count = f"{len(rows)} schedule{'s' * (len(rows) != 1)}" if self.schedules_loaded else "reading…"
            title.update(Text.assemble((key[0], "bold"), f": {count}", ("  · times in UTC", "dim")))
        ids = [row.id for row in rows]
        if current in ids:
            table.move_cursor(row=ids.index(current))
        self._show_schedule_detail()

    def _highlighted_schedule_id(self) -> str | None:
        row = self.highlighted_schedule
        return row.id if row is not None else None

    @property
    def highlighted_schedule(self) -> Any:
        table = self.query_one("#schedule-table", DataTable)
        rows = self.shown_schedules
        if not rows or table.row_count == 0:
            return None
        index = table.cursor_row
        return rows[index] if 0 <= index < len(rows) else None

    @on(DataTable.RowHighlighted, "#schedule-table")
    def _schedule_highlighted(self) -> None:
        self._show_schedule_detail()

    def _show_schedule_detail(self) -> None:
        detail = self.query_one("#schedule-detail", Static)
        row = self.highlighted_schedule
        if row is not None:
            detail.update(schedule_detail(row, datetime.now(UTC)))
        elif self.schedules_loaded and self._mapping_key() is not None:
            detail.update(Text("No schedule runs this mapping. a adds one (conf/schedule-<id>.json, IDM's format).",
                               style="dim"))
        else:
            detail.update("")

    def action_pause_schedule(self) -> None:
        row = self.highlighted_schedule
        if row is None:
            self.notify("No schedule highlighted.", severity="warning")
            return
        if row.error:
            self.notify(f"{row.file} is refused: fix it first (e).", severity="warning", markup=False)
            return
        if not row.enabled:
            self.notify(f"{row.id} is disabled in its file: e to enable it.", severity="warning", markup=False)
            return
        self._pause(row.id, not row.paused)

    @work(thread=True, exit_on_error=False, group="schedule-pause", description="Pausing the schedule")
    def _pause(self, schedule_id: str, paused: bool) -> None:
        self.backend.pause_schedule(schedule_id, paused)
        self.post_message(SchedulePaused(schedule_id, paused))

    @on(SchedulePaused)
    def _paused(self, message: SchedulePaused) -> None:
        verb = "Paused" if message.paused else "Resumed"
        self.notify(f"{verb} {message.schedule_id}.", title="Schedules", markup=False)
        self.load_schedules()

    def action_add_schedule(self) -> None:
        key = self._mapping_key()
        if key is None:
            self.notify("No mapping selected.", severity="warning")
            return
        taken = {row.id for row in self.schedule_rows}
        self.app.push_screen(ScheduleForm(mapping=key[0], taken=taken), self._form_closed)

    def action_edit_schedule(self) -> None:
        row = self.highlighted_schedule
        key = self._mapping_key()
        if row is None or key is None:
            self.notify("No schedule highlighted: a adds one.", severity="warning")
            return
        if row.data is None:
            self.notify(f"{row.file} is not a JSON object: fix it in an editor.", severity="warning", markup=False)
            return
        self.app.push_screen(ScheduleForm(mapping=key[0], row=row), self._form_closed)

    @on(DataTable.RowSelected, "#schedule-table")
    def _schedule_selected(self) -> None:
        self.action_edit_schedule()

    def _form_closed(self, row: Any) -> None:
        if row is None:
            return
        self.notify(f"Saved {row.file}.", title="Schedules", markup=False)
        self.schedule_rows = [r for r in self.schedule_rows if r.id != row.id] + [row]
        self._show_schedules(select=row.id)
        self.load_schedules()
