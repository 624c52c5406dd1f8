"""The command line's progress, as pip and uv show it: one live line on a terminal, plain lines elsewhere.

:class:`CliProgress` is what ``sfsync recon`` and ``sfsync livesync`` draw while they run, on stderr:

* stderr is a terminal: one line redrawn in place by Rich's :class:`~rich.progress.Progress` (spinner, mapping,
  stage, a bar, source processed/total, target processed and created, records/s, ETA, failures), cut to the
  terminal's width (never wrapped) and removed when the run ends, so that the final summary takes its place;
* stderr is not a terminal (a pipe, a file, a CI log): one plain line each time the stage changes.

The final summary is printed once, on stdout (:func:`print_summary`): word-wrapped to the terminal's width on a
terminal, one line when piped. ``--json`` prints the JSON on stdout and no summary; progress never goes to stdout.
Rich stays in ``tui/`` (``core/`` only calls ``on_progress(run)`` with IDM's run object).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Column
from rich.text import Text

SHORT = {"CONFIRMED": "conf", "FOUND": "found", "ABSENT": "abs", "AMBIGUOUS": "amb", "MISSING": "miss",
         "UNQUALIFIED": "unq", "UNASSIGNED": "unas", "SOURCE_MISSING": "srcmiss", "SOURCE_IGNORED": "srcign",
         "TARGET_IGNORED": "tgtign", "FOUND_ALREADY_LINKED": "fal"}

BAR_MAX, BAR_MIN = 30, 8  # the bar's width: what the line leaves, within these bounds; narrower: no bar
# what the live line drops first when the terminal is narrow: the lowest rank (the stage and the counts stay)
RANK = {"mapping": 1, "target": 2, "rate": 3, "eta": 4, "failures": 5, "source": 6, "stage": 7}


def stderr_console() -> Console:
    """Where progress is drawn (tests replace this with a Console on a fake terminal)."""
    return Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    """Where the final summary goes (tests replace this too)."""
    return Console(highlight=False)


def print_summary(text: str, console: Console | None = None) -> None:
    """The final summary, once: on a terminal word-wrapped to its width (no line wider than the terminal),
    otherwise one line as is (what scripts grep)."""
    console = console or stdout_console()
    if console.is_terminal and not console.is_dumb_terminal:
        console.print(Text(text), soft_wrap=False, overflow="fold", highlight=False)
    else:
        console.file.write(text + "\n")
        console.file.flush()


def stage_label(stage: str) -> str:
    """``ACTIVE_RECONCILING_SOURCE`` -> ``reconciling source``."""
    return stage.removeprefix("ACTIVE_").replace("_", " ").lower()


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def run_numbers(run: dict[str, Any], elapsed: float) -> dict[str, Any]:
    """What the live line shows of IDM's run object: the current phase's processed/total, rate, ETA."""
    progress = run.get("progress", {})
    src = progress.get("source", {}).get("existing", {})
    tgt = progress.get("target", {})
    tgt_existing = tgt.get("existing", {})
    seconds = max(run.get("duration") or elapsed * 1000, 1) / 1000
    target_phase = "TARGET" in run.get("stage", "")
    done, total = ((tgt_existing.get("processed", 0), tgt_existing.get("total"))
                   if target_phase else (src.get("processed", 0), src.get("total")))
    total = _count(total)
    rate = (src.get("processed", 0) + tgt_existing.get("processed", 0)) / seconds  # records/s, both phases
    eta = (max(total - done, 0) / rate) if total is not None and rate > 0 else None
    if total is not None and done >= total:
        eta = 0.0
    return {"done": done, "total": total, "rate": rate, "eta": eta,
            "source": f"{src.get('processed', 0)}/{_total(src.get('total'))}",
            "target": f"{tgt_existing.get('processed', 0)}/{_total(tgt_existing.get('total'))}",
            "created": tgt.get("created", 0),
            "failures": (run.get("statusSummary") or {}).get("FAILURE", 0)}


def _count(value: Any) -> int | None:
    """A total of IDM's run object: a string (``"?"`` when unknown), or a number."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _total(value: Any) -> str:
    count = _count(value)
    return "?" if count is None else str(count)


class CliProgress:
    """A run's progress on stderr; ``update(run)`` is ``on_progress`` (called from any thread).

    Use as a context manager: entering starts the live line (on a terminal), leaving removes it. ``note(text)``
    prints a message (above the live line on a terminal); ``abort(text)`` restores the cursor before ``os._exit``.
    """

    def __init__(self, label: str, stage: str = "", *, console: Console | None = None) -> None:
        self.console = console or stderr_console()
        self.live = self.console.is_terminal and not self.console.is_dumb_terminal
        self.label = label
        self.last_stage = ""
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.progress: Progress | None = None
        self.head = {"mapping": label, "stage": stage_label(stage)}  # the live line's parts before it is fitted
        self.parts: dict[str, str] = {}
        self.task: TaskID | None = None
        if self.live:
            self.bar = BarColumn(bar_width=BAR_MAX, table_column=Column(no_wrap=True))
            self.progress = _FittedProgress(
                SpinnerColumn(finished_text=" ", table_column=Column(no_wrap=True)),
                TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")),
                self.bar,
                TextColumn("{task.fields[stats]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
                fit=self._fit, console=self.console, transient=True, refresh_per_second=8, redirect_stdout=False)
            self.task = self.progress.add_task(label, total=None, stats="")

    # ---- context ------------------------------------------------------------------------------------
    def __enter__(self) -> CliProgress:
        if self.progress is not None:
            self.progress.start()
            self.progress.refresh()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()  # transient: the line is erased; the summary takes its place

    def abort(self, text: str) -> None:
        """A last message before ``os._exit`` (a signal handler): on a terminal, end the live line and show the
        cursor it hid. Written to the file itself, not through Rich's locks or its stderr redirection."""
        file = self.console.file
        file.write(("\x1b[?25h\n" if self.progress is not None else "") + text + "\n")
        file.flush()

    # ---- what the commands call ---------------------------------------------------------------------
    def note(self, text: str) -> None:
        """A message on stderr: above the live line on a terminal, a plain line otherwise."""
        if self.progress is not None:
            self.progress.console.print(Text(text), soft_wrap=False, overflow="fold")
        else:
            self.console.file.write(text + "\n")
            self.console.file.flush()

    def update(self, run: dict[str, Any]) -> None:
        """IDM's run object, each time the engine commits a page or changes stage (``on_progress``)."""
        with self.lock:
            stage = run.get("stage", "")
            final = run.get("state") not in (None, "ACTIVE")
            self.label = run.get("mapping", self.label) + (" (dry run)" if run.get("dryRun") else "")
            if self.progress is None or self.task is None:
                # plain: a line per stage change; not the final one (the summary says it, once)
                if stage != self.last_stage and not final:
                    self._plain(format_progress(run))
                self.last_stage = stage
                return
            numbers = run_numbers(run, time.monotonic() - self.started)
            self.head = {"mapping": self.label, "stage": stage_label(stage)}
            self.parts = {"source": f"source {numbers['source']}",
                          "target": f"target {numbers['target']} +{numbers['created']}",
                          "rate": f"{numbers['rate']:,.0f}/s", "eta": f"eta {format_eta(numbers['eta'])}"}
            if numbers["failures"]:
                self.parts["failures"] = f"failures {numbers['failures']}"
            self.progress.update(self.task, total=numbers["total"], completed=numbers["done"])
            if stage != self.last_stage:
                self.progress.refresh()  # a new stage shows at once; counts at the refresh rate
            self.last_stage = stage

    # ---- inside ---------------------------------------------------------------------------------------
    def _plain(self, text: str) -> None:
        self.console.file.write(text + "\n")
        self.console.file.flush()

    def _fit(self, progress: Progress) -> None:
        """Lay the line out for the console's width now (called at every redraw, so a resized terminal is
        followed): the parts of lowest RANK are dropped until the line fits, the bar (BAR_MIN..BAR_MAX) takes
        what is left, and what still does not fit is cut with an ellipsis. The line never wraps."""
        width = self.console.width - 1  # the last column left free: some terminals wrap on it
        parts = {**self.head, **self.parts}
        parts = {k: v for k, v in parts.items() if v}

        def length(kept: dict[str, str]) -> int:
            head = [v for k, v in kept.items() if k in self.head]
            stats = [v for k, v in kept.items() if k not in self.head]
            return 2 + len(" ".join(head)) + (1 + len("  ".join(stats)) if stats else 0)

        while len(parts) > 1 and length(parts) > width:
            del parts[min(parts, key=lambda k: RANK.get(k, 0))]
        desc = _cut(" ".join(v for k, v in parts.items() if k in self.head), width - 2)
        stats = _cut("  ".join(v for k, v in parts.items() if k not in self.head), width - 3 - len(desc))
        bar = min(BAR_MAX, width - length(parts) - (1 if stats else 3))  # its gap (an empty stats column: 2)
        columns = [c for c in progress.columns if c is not self.bar]
        if bar >= BAR_MIN:
            self.bar.bar_width = bar
            columns.insert(2, self.bar)
        progress.columns = tuple(columns)
        for task in progress.tasks:
            task.description, task.fields["stats"] = desc, stats


class _FittedProgress(Progress):
    """Rich's Progress, laid out again for the terminal's width before each redraw."""

    def __init__(self, *columns: Any, fit: Any, **kwargs: Any) -> None:
        self._fit = fit
        super().__init__(*columns, **kwargs)

    def get_renderables(self) -> Any:
        with self._lock:
            self._fit(self)
        yield from super().get_renderables()


def _cut(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def format_progress(run: dict[str, Any]) -> str:
    """One line of a run: ``mapping STAGE: source p/t, target p/t created c, rate/s situations failures``
    (the plain progress lines and the final summary)."""
    progress = run.get("progress", {})
    src = progress.get("source", {}).get("existing", {})
    tgt = progress.get("target", {})
    seconds = max(run.get("duration", 0), 1) / 1000
    processed = src.get("processed", 0)
    rate = processed / seconds
    situations = " ".join(f"{SHORT.get(k, k)}={v}" for k, v in run.get("situationSummary", {}).items() if v)
    status = run.get("statusSummary", {})
    fails = f" failures={status.get('FAILURE')}" if status.get("FAILURE") else ""
    dry = " (dry run)" if run.get("dryRun") else ""
    return (f"{run.get('mapping', '')}{dry} {run.get('stage', '')}: source {processed}/{src.get('total', '?')}, "
            f"target {tgt.get('existing', {}).get('processed', 0)}/{tgt.get('existing', {}).get('total', '?')} "
            f"created {tgt.get('created', 0)}, {rate:,.0f}/s {situations}{fails}").rstrip()
