"""Run every benchmark script, collect their JSON lines, print a summary and save ``bench/results/latest.json``.

    python bench/run_all.py                      # each script at its own default size
    python bench/run_all.py --small              # <= 5,000 users, well under a minute: what CI runs
    python bench/run_all.py --sizes 10000,100000,300000   # the scale sweep
    python bench/run_all.py --only recon,org --sizes 10000

Each script (``bench/bench_*.py``) runs as its own subprocess, so one that crashes does not stop the others;
the harness reaps each with ``os.wait4`` and reports the OS's figures for it (wall time, CPU time, peak RSS),
beside the figures the script prints as its JSON line(s). The org's own cost is whatever ``bench_org.py``
measures (the local org serving the same pages alone), reported as its own rows.

Flags are agreed with the scripts by reading them: a script that defines ``--small`` gets it with ``--small``;
one that defines ``--users`` gets ``--users N`` (2,000 with ``--small``; each size of ``--sizes``); others run
once with no argument. No time is asserted: the exit code is 0 when every script ran to its end and printed
its figures, 1 when one crashed, timed out or printed nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import ChildResult, fmt, machine, run_measured, table  # noqa: E402

SMALL_USERS = 2_000
#: the order the summary lists them in; any other bench_*.py found runs after these
ORDER = ["bench_org.py", "bench_repo.py", "bench_recon.py", "bench_repo_pg.py", "bench_cluster.py",
         "bench_livesync.py", "bench_api.py", "bench_tui.py", "bench_latency.py", "bench_config.py"]
RESULTS = BENCH / "results" / "latest.json"


def scripts(only: list[str] | None) -> list[Path]:
    """The bench scripts that exist, in ORDER, then any others alphabetically."""
    found = sorted(BENCH.glob("bench_*.py"), key=lambda p: (ORDER.index(p.name) if p.name in ORDER else 99, p.name))
    if only:
        wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in only}
        wanted = {w if w.endswith(".py") else f"{w}.py" for w in wanted}
        unknown = wanted - {p.name for p in found}
        if unknown:
            raise SystemExit(f"run_all.py: --only: no such script {', '.join(sorted(unknown))} "
                             f"(there are {', '.join(p.name for p in found)})")
        found = [p for p in found if p.name in wanted]
    return found


def flags(script: Path) -> set[str]:
    """The long options a script's argparse defines (read from its source, without importing it)."""
    return set(re.findall(r"""add_argument\(\s*["'](--[a-z][a-z0-9-]*)""", script.read_text(encoding="utf-8")))


def plan(script: Path, small: bool, sizes: list[int] | None) -> list[tuple[int | None, list[str]]]:
    """``[(users or None, extra args)]``: the runs of one script."""
    known = flags(script)
    if small:
        if "--small" in known:
            return [(None, ["--small"])]
        if "--users" in known:
            return [(SMALL_USERS, ["--users", str(SMALL_USERS)])]
        return [(None, [])]
    if sizes and "--users" in known:
        return [(n, ["--users", str(n)]) for n in sizes]
    return [(None, [])]


def users_of(run: ChildResult, asked: int | None) -> int | None:
    for line in run.results:
        if isinstance(line.get("users"), int):
            return line["users"]
    return asked


def summary(runs: list[dict[str, Any]]) -> str:
    """The overview table, then one table per bench name with its measures by size."""
    out = [table(["script", "users", "exit", "wall s", "cpu s", "peak RSS MB"],
                 [[r["script"], r["users"] if r["users"] is not None else "-",
                   "TIMEOUT" if r["timed_out"] else r["exit_code"], r["wall_s"], r["cpu_s"], r["peak_rss_mb"]]
                  for r in runs])]
    by_bench: dict[str, dict[str, dict[str, Any]]] = {}
    for r in runs:
        for line in r["results"]:
            name = str(line.get("bench"))
            column = fmt(line["users"]) if isinstance(line.get("users"), int) else (
                fmt(r["users"]) if r["users"] is not None else "default")
            label = column if "variant" not in line else f"{column} {line['variant']}"
            by_bench.setdefault(name, {})[label] = line
    for name, columns in by_bench.items():
        measures: list[str] = []
        for line in columns.values():
            measures += [k for k, v in line.items() if k not in ("bench", "users", "variant") and k not in measures
                         and isinstance(v, int | float | str | bool)]
        rows = [[m, *(columns[c].get(m, "") for c in columns)] for m in measures]
        out.append(f"\n{name}\n" + table(["measure", *columns], rows))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help=f"CI size ({SMALL_USERS:,} users or the script's own)")
    parser.add_argument("--sizes", help="comma-separated user counts for the scale sweep, e.g. 10000,100000,300000")
    parser.add_argument("--only", help="comma-separated script names (recon, bench_repo.py, ...)")
    parser.add_argument("--timeout", type=float, help="seconds per script run (default 300 with --small, else none)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where to save the results ({RESULTS.name})")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")] if args.sizes else None
    except ValueError:
        parser.error(f"--sizes: expected comma-separated integers, got {args.sizes!r}")
    if sizes and args.small:
        parser.error("--small and --sizes are exclusive")
    if sizes and any(n <= 0 for n in sizes):
        parser.error("--sizes: user counts must be positive")
    timeout = args.timeout if args.timeout is not None else (300.0 if args.small else None)
    found = scripts(args.only.split(",") if args.only else None)
    if not found:
        print("run_all.py: no bench/bench_*.py script to run", file=sys.stderr)
        return 1

    started = dt.datetime.now(dt.UTC)
    runs: list[dict[str, Any]] = []
    for script in found:
        for users, extra in plan(script, args.small, sizes):
            label = f"{script.name} {' '.join(extra)}".strip()
            print(f"running {label} ...", file=sys.stderr, flush=True)
            child = run_measured([sys.executable, str(script), *extra], timeout=timeout)
            status = "ok" if child.ok else ("TIMEOUT" if child.timed_out else
                                            f"FAILED (exit {child.exit_code}, {len(child.results)} JSON lines)")
            print(f"  {status} in {child.wall_s:.1f}s, peak RSS {child.peak_rss_mb:.0f} MB", file=sys.stderr)
            if not child.ok:
                tail = "\n".join(child.stderr.strip().splitlines()[-15:])
                print("  " + tail.replace("\n", "\n  "), file=sys.stderr)
            runs.append({"script": script.name, "args": extra, "users": users_of(child, users),
                         "exit_code": child.exit_code, "timed_out": child.timed_out, "ok": child.ok,
                         "wall_s": round(child.wall_s, 3), "cpu_s": round(child.cpu_s, 3),
                         "peak_rss_mb": round(child.peak_rss_mb, 1), "results": child.results,
                         "stderr_tail": "" if child.ok else child.stderr[-4000:]})

    report = {"started": started.isoformat(timespec="seconds"),
              "ended": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "mode": "small" if args.small else ("sweep" if sizes else "default"), "sizes": sizes,
              "machine": machine(), "runs": runs}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(args.output)

    m = report["machine"]
    print(f"\nbenchmarks on {m['nproc']} cores, {m['cpu']}, Python {m['python']} ({report['mode']})")
    print(summary(runs))
    failed = [r for r in runs if not r["ok"]]
    print(f"\nresults saved to {args.output}")
    if failed:
        print(f"run_all.py: {len(failed)} run(s) failed: "
              + ", ".join(f"{r['script']} {' '.join(r['args'])}".strip() for r in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
