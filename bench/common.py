"""Shared helpers for the benchmark scripts and the harness: timing, peak memory, the table and the JSON line.

Every bench script prints a human table and, last, one JSON line per measurement set (``{"bench": NAME, ...}``);
``run_all.py`` runs each script as a subprocess and reads those lines back, so a script that crashes does not
stop the others. Peak memory is the OS's own accounting: ``ru_maxrss`` of the process (``resource``) or of a
child reaped with ``os.wait4`` (the same figure ``/usr/bin/time -v`` prints as "Maximum resident set size").
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# ---- processes ----------------------------------------------------------------------------------------
def stop_process(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """Stop a server the benchmark started (``sfsync demo-org``, ``sfsync serve``): SIGINT as Ctrl-C would, then
    a kill if it has not ended within ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---- timing and memory ---------------------------------------------------------------------------------
class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``: wall-clock time of the block (perf_counter)."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports ``ru_maxrss`` in KiB)."""
    return _maxrss_to_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _maxrss_to_mb(maxrss: int) -> float:
    # Linux: KiB; macOS: bytes
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


@dataclass
class ChildResult:
    """What one benchmark subprocess did: exit code, wall time, the OS's peak RSS, and its output."""

    args: list[str]
    exit_code: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    stdout: str
    stderr: str
    timed_out: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and bool(self.results)


def run_measured(args: Sequence[str], *, timeout: float | None = None, cwd: Path = ROOT,
                 env: dict[str, str] | None = None) -> ChildResult:
    """Run ``args`` to its end and reap it with ``os.wait4``, so its peak RSS is its own (not the harness's
    and not the largest of all children, which is what ``RUSAGE_CHILDREN`` would give)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out, \
            tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(args), stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True)
        deadline = None if timeout is None else start + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)  # the script's own process group: its servers too
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not try to reap it again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    result = ChildResult(list(args), proc.returncode, wall, _maxrss_to_mb(usage.ru_maxrss),
                         usage.ru_utime + usage.ru_stime, stdout, stderr, timed_out)
    script = next((Path(a).stem for a in args if str(a).endswith(".py")), "")
    result.results = json_lines(stdout, script.removeprefix("bench_"))
    return result


def json_lines(text: str, default_bench: str = "") -> list[dict[str, Any]]:
    """The JSON objects a script printed, one per line, in order; ``bench`` defaults to ``default_bench``
    (the script's name without ``bench_``) for a script whose line does not name itself."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found.append(value if "bench" in value else {"bench": default_bench, **value})
    return found


# ---- output --------------------------------------------------------------------------------------------
def emit(bench: str, **figures: Any) -> None:
    """Print the JSON line the harness collects (floats rounded to 4 places)."""
    clean = {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}
    print(json.dumps({"bench": bench, **clean}, ensure_ascii=False), flush=True)


def fmt(value: Any) -> str:
    """A figure for a table cell: thousands separators, 3 significant decimals for small floats."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (markdown pipe syntax, so bench/README.md can take it as is)."""
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=True))) + " |"

    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def machine() -> dict[str, Any]:
    """The machine the figures come from: cores, CPU model, Python, OS."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": mem_gb, "python": platform.python_version(),
            "platform": platform.platform()}


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence noisy library prints inside a measured block (the JSON line must stay parseable)."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield
