"""The live reconciliation panel: draws one IDM run object (the ``GET /openidm/recon/ID`` shape).

It is fed whole run objects (from the engine's ``on_progress`` events or from polling the repository for a
run started elsewhere), so the same panel shows a run of this app, of the CLI and of the REST API.
Everything is derived from the run: records/s from processed count over ``duration``, ETA from the rest.
Bars are drawn as text (no animation) so snapshots stay stable.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

SITUATIONS = (
    "CONFIRMED", "FOUND", "ABSENT", "AMBIGUOUS", "MISSING", "UNQUALIFIED", "UNASSIGNED",
    "SOURCE_MISSING", "SOURCE_IGNORED", "TARGET_IGNORED", "FOUND_ALREADY_LINKED",
)
STATE_STYLE = {"ACTIVE": "bold yellow", "SUCCESS": "bold green", "FAILED": "bold red", "CANCELED": "bold magenta"}


def _num(value: Any) -> int | None:
    """IDM writes totals as strings (``"?"`` when unknown)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def phase(run: dict[str, Any], name: str) -> tuple[int, int | None]:
    """(processed, total) of the ``source``/``target``/``links`` phase; total None when unknown."""
    existing = ((run.get("progress") or {}).get(name) or {}).get("existing") or {}
    return _num(existing.get("processed")) or 0, _num(existing.get("total"))


def rate_and_eta(run: dict[str, Any]) -> tuple[float | None, float | None]:
    """Records per second over the whole run so far, and seconds left at that rate (None when unknown)."""
    duration = _num(run.get("duration"))
    s_done, s_total = phase(run, "source")
    t_done, t_total = phase(run, "target")
    done = s_done + t_done
    if not duration or duration <= 0 or done == 0:
        return None, None
    rate = done / (duration / 1000)
    if run.get("state") != "ACTIVE":
        return rate, 0.0
    if s_total is None:
        return rate, None
    left = max(0, s_total - s_done) + max(0, (t_total or 0) - t_done)
    return rate, left / rate if rate > 0 else None


def bar(done: int, total: int | None, width: int = 24) -> Text:
    """A plain text bar; an unknown total shows the count alone."""
    if not total:
        return Text("─" * width, style="dim")
    filled = min(width, round(width * done / total))
    return Text.assemble(("█" * filled, "green"), ("░" * (width - filled), "dim"))


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class ReconProgress(Widget):
    """Shows the run set in :attr:`run`; set it again (from a coalesced message) to update."""

    DEFAULT_CSS = """
    ReconProgress { height: auto; padding: 0 1; border: round $primary; border-title-color: $text; }
    """

    run: reactive[dict[str, Any] | None] = reactive(None)

    def watch_run(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        # a layout pass only when the panel changes height (first run shown); updates just repaint
        if (old is None) != (new is None):
            self.refresh(layout=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "Reconciliation"

    def render(self) -> RenderableType:
        run = self.run
        if not run:
            return Text("No run yet. Choose a mapping and press R to reconcile or D for a dry run.",
                        style="dim")
        state = str(run.get("state", "?"))
        head = Text.assemble(
            (state, STATE_STYLE.get(state, "bold")), "  ",
            (str(run.get("mapping", "")), "bold"), "  ",
            (str(run.get("_id", ""))[:13], "dim"),
        )
        if run.get("dryRun"):
            head.append("  dry run", style="italic cyan")
        stage = Text.assemble((str(run.get("stage", "")), "bold"), " ", str(run.get("stageDescription", "")))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=7)
        grid.add_column()
        grid.add_column()
        for name in ("source", "target"):
            done, total = phase(run, name)
            count = f"{done:,}/{total:,}" if total is not None else f"{done:,}/?"
            grid.add_row(name, bar(done, total), Text(count))
        rate, eta = rate_and_eta(run)
        speed = Text.assemble(
            "records/s ", (f"{rate:,.0f}" if rate is not None else "–", "bold"),
            "  ETA ", (_clock(eta), "bold"),
            "  elapsed ", (_clock((_num(run.get("duration")) or 0) / 1000), "bold"),
        )
        situations = run.get("situationSummary") or {}
        counters = Table.grid(padding=(0, 1))
        for _ in range(3):
            counters.add_column(justify="left")
            counters.add_column(justify="right")
        cells: list[Text] = []
        for name in SITUATIONS:
            value = int(situations.get(name, 0) or 0)
            cells += [Text(name, style="" if value else "dim"), Text(f"{value:,}", style="bold" if value else "dim")]
        while len(cells) % 6:
            cells.append(Text(""))
        for i in range(0, len(cells), 6):
            counters.add_row(*cells[i:i + 6])
        status = run.get("statusSummary") or {}
        outcome = Text.assemble(
            ("SUCCESS ", "green"), (f"{int(status.get('SUCCESS', 0) or 0):,}", "bold green"), "   ",
            ("FAILURE ", "red"), (f"{int(status.get('FAILURE', 0) or 0):,}", "bold red"),
        )
        return Group(head, stage, grid, speed, counters, outcome)
