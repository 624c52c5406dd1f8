"""The live reconciliation panel: draws one IDM run object (the ``GET /openidm/recon/ID`` shape).

It is fed whole run objects (from the engine's ``on_progress`` events or from polling the repository for a
run started elsewhere), so the same panel shows a run of this app, of the CLI and of the REST API.
Everything is derived from the run: records/s from processed count over ``duration``, ETA from the rest.
Bars are drawn as text (no animation) so snapshots stay stable.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
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
        return PanelContent(panel_parts(run))


def panel_parts(run: dict[str, Any]) -> list[Text | Grid]:
    """The panel's lines for ``run``: head, stage, phases, speed, the 11 counters, outcome."""
    state = str(run.get("state", "?"))
    head = Text.assemble(
        (state, STATE_STYLE.get(state, "bold")), "  ",
        (str(run.get("mapping", "")), "bold"), "  ",
        (str(run.get("_id", ""))[:13], "dim"),
    )
    if run.get("dryRun"):
        head.append("  dry run", style="italic cyan")
    stage = Text.assemble((str(run.get("stage", "")), "bold"), " ", str(run.get("stageDescription", "")))
    phases = Grid([(7, "left"), (None, "left"), (None, "left")])
    for name in ("source", "target"):
        done, total = phase(run, name)
        count = f"{done:,}/{total:,}" if total is not None else f"{done:,}/?"
        phases.rows.append([Text(name), bar(done, total), Text(count)])
    rate, eta = rate_and_eta(run)
    speed = Text.assemble(
        "records/s ", (f"{rate:,.0f}" if rate is not None else "–", "bold"),
        "  ETA ", (_clock(eta), "bold"),
        "  elapsed ", (_clock((_num(run.get("duration")) or 0) / 1000), "bold"),
    )
    situations = run.get("situationSummary") or {}
    counters = Grid([(None, "left"), (None, "right")] * 3)
    cells: list[Text] = []
    for name in SITUATIONS:
        value = int(situations.get(name, 0) or 0)
        cells += [Text(name, style="" if value else "dim"), Text(f"{value:,}", style="bold" if value else "dim")]
    while len(cells) % 6:
        cells.append(Text(""))
    counters.rows.extend(cells[i:i + 6] for i in range(0, len(cells), 6))
    status = run.get("statusSummary") or {}
    outcome = Text.assemble(
        ("SUCCESS ", "green"), (f"{int(status.get('SUCCESS', 0) or 0):,}", "bold green"), "   ",
        ("FAILURE ", "red"), (f"{int(status.get('FAILURE', 0) or 0):,}", "bold red"),
    )
    parts: list[Text | Grid] = [head, stage, phases, speed, counters, outcome]
    if run.get("nodes") is not None:  # a clustered run (clusteredSourceReconEnabled): who did the pages
        parts.append(nodes_text(run["nodes"]))
    return parts


NODE_STYLE = {"WORKING": "bold yellow", "IDLE": "green", "GONE": "bold red"}


def nodes_text(nodes: list[dict[str, Any]]) -> Text:
    """``nodes  w1 1,200 IDLE · w2 800 WORKING``: each node's source records and state."""
    line = Text("nodes  ")
    for i, node in enumerate(nodes):
        if i:
            line.append(" · ", style="dim")
        state = str(node.get("state", ""))
        line.append_text(Text.assemble((str(node.get("nodeId", "")), "bold"), " ",
                                       f"{int(node.get('processed', 0) or 0):,} ", (state, NODE_STYLE.get(state, ""))))
    if not nodes:
        line.append("none has finished a page yet", style="dim")
    return line


class Grid:
    """Rows of single-line cells in columns one space apart: Rich's ``Table.grid(padding=(0, 1))``, drawn
    directly when every cell fits its column (the panel redraws on every progress event, and laying out two
    Rich tables each time was most of the app's own CPU during a run); the Rich table itself otherwise."""

    def __init__(self, columns: list[tuple[int | None, str]]) -> None:
        #: (fixed width or None for the widest cell, "left" or "right")
        self.columns = columns
        self.rows: list[list[Text]] = []

    def widths(self) -> list[int] | None:
        """Each column's width, or None when a cell does not fit a fixed one (or has a line break)."""
        widths = []
        for i, (fixed, _) in enumerate(self.columns):
            cells = [row[i] for row in self.rows]
            if any("\n" in cell.plain for cell in cells):
                return None
            widest = max((cell.cell_len for cell in cells), default=0)
            if fixed is not None and widest > fixed:
                return None
            widths.append(fixed if fixed is not None else widest)
        return widths

    def lines(self, max_width: int) -> list[Text] | None:
        """One Text per row, or None when the grid is wider than ``max_width`` (Rich would shrink it)."""
        widths = self.widths()
        if widths is None or sum(widths) + len(widths) - 1 > max_width:
            return None
        lines = []
        for row in self.rows:
            line = Text()
            for i, (cell, width, (_, justify)) in enumerate(zip(row, widths, self.columns, strict=True)):
                if i:
                    line.append(" ")
                pad = " " * (width - cell.cell_len)
                if justify == "right":
                    line.append(pad, style=cell.style)
                    line.append_text(cell)
                else:
                    line.append_text(cell)
                    line.append(pad, style=cell.style)
            lines.append(line)
        return lines

    def table(self) -> Table:
        table = Table.grid(padding=(0, 1))
        for fixed, justify in self.columns:
            table.add_column(width=fixed, justify=justify)  # type: ignore[arg-type]
        for row in self.rows:
            table.add_row(*row)
        return table


class PanelContent:
    """The panel as Rich segments: lines that fit are rendered straight, anything else as Rich lays it out."""

    def __init__(self, parts: list[Text | Grid]) -> None:
        self.parts = parts

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        for part in self.parts:
            if isinstance(part, Grid):
                lines = part.lines(width)
                if lines is None:
                    yield from console.render(part.table(), options)
                    continue
            elif "\n" not in part.plain and part.cell_len <= width:
                lines = [part]
            else:
                yield from console.render(part, options)  # wraps
                continue
            for line in lines:
                yield from line.render(console)
                yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, Group(*(p.table() if isinstance(p, Grid) else p
                                                          for p in self.parts)))
