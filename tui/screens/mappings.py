"""The Mappings screen: the mappings of ``sync.json``, Reconcile / Dry run with live progress, run history.

The reconciliation worker and the run watcher belong to the App (a run outlives a screen switch); this
screen subscribes to the App's ``run`` and ``runs`` signals, so a run started by the CLI or the REST API is
drawn exactly like one started here. Enter on a run in the history opens its audit entries.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from tui.messages import MappingsLoaded
from tui.screens.audit import AuditScreen
from tui.screens.base import BaseScreen
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


class MappingsScreen(BaseScreen):
    """Mapping list and details, the live progress panel, and the run history."""

    SCREEN_TITLE = "Mappings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reconcile(False)", "Reconcile", id="mappings-reconcile"),
        Binding("d", "reconcile(True)", "Dry run", id="mappings-dry-run"),
        Binding("c", "cancel_run", "Cancel run", id="mappings-cancel"),
    ]

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

    def on_mount(self) -> None:
        super().on_mount()
        self.mappings: list[Any] = []
        self._history_drawn = 0.0
        table = self.query_one("#run-history", DataTable)
        table.add_columns("started", "mapping", "state", "source", "ok", "failed", "run id")
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
