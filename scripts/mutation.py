"""Mutation testing of the core's decision-making modules, one module at a time, with its own tests.

Each module is run by mutmut 3 in a fresh copy of the project (``.mutation/<name>/``, ignored by git), with
only the tests that aim at it, one worker (``--max-children``), xdist off, and a wall-clock budget. It prints
a table (module, mutants, killed, survived, timeout, equivalent, score) and a JSON line.

    pip install -e '.[test,mutation]'
    python scripts/mutation.py                      # every module
    python scripts/mutation.py --module situations  # one (repeatable)
    python scripts/mutation.py --module soql --show-survivors
    python scripts/mutation.py --module queryfilter --resume  # go on after a run stopped by its budget

The score is (killed + timeout) / (mutants run - equivalent), and a module with mutants not run (a run
stopped by its budget) fails the goal whatever its score: a mutant listed in ``EQUIVALENT`` changes no
behaviour any caller can see (the reason is beside it), so no test can kill it. ``--show-survivors`` prints
the diff of every other survivor. Mutant names (``core.x.y.f__mutmut_N``) are mutmut's: they number the
mutants of a function in order, so they hold as long as that function's text does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
#: what a copy needs besides the mutated package: the tests, the TUI (some tests drive the CLI), the conf
COPY = ("core", "tui", "tests", "conf")


@dataclass(frozen=True)
class Module:
    source: str                       # the file mutmut mutates
    tests: tuple[str, ...]            # the tests that aim at it
    patterns: tuple[str, ...] = ("*",)  # which of its mutants count (a class in a larger file, some functions)
    budget: int = 900                 # seconds for the whole module, then it is stopped
    equivalent: dict[str, str] = field(default_factory=dict)  # mutant name -> why no test can kill it
    pytest_args: tuple[str, ...] = ()  # added to every pytest run (e.g. leave out a second repository backend)


MODULES: dict[str, Module] = {
    "situations": Module("core/sync/situations.py", ("tests/sync/test_situations.py",)),
    "masking": Module("core/config/masking.py", ("tests/config/test_masking.py", "tests/repo/test_activity.py"),
                      equivalent={f"core.config.masking.x_mask_secrets__mutmut_{n}":
                                  "mask_secrets passes _name down but never reads it" for n in (1, 14, 16, 17, 19, 21)}),
    "retry": Module("core/salesforce/retry.py", ("tests/salesforce/test_retry.py",)),
    "soql": Module("core/salesforce/soql.py", ("tests/salesforce/test_soql.py",)),
    "jsonfile": Module("core/config/jsonfile.py",
                       ("tests/config/test_jsonfile.py", "tests/config/test_jsonfile_contract.py"), equivalent={
        **{f"core.config.jsonfile.x__same_types__mutmut_{n}": "zip's strict: the lists are already known equal, "
           "so of one length" for n in (21, 24, 25)},
        **{f"core.config.jsonfile.x_read_text__mutmut_{n}": "encoding: 'UTF-8' is 'utf-8', and the locale's "
           "is UTF-8 on every machine of the project" for n in (4, 7, 10)},
        **{f"core.config.jsonfile.x_write_text_atomic__mutmut_{n}": "encoding: 'UTF-8' is 'utf-8', and the "
           "locale's is UTF-8 on every machine of the project" for n in (31, 35, 40)},
        **{f"core.config.jsonfile.x_write_text_atomic__mutmut_{n}": "newline translation: os.linesep is '\\n' "
           "on POSIX, the only systems sfsync runs on" for n in (32, 36)},
        **{f"core.config.jsonfile.xǁJsonStyleǁdetect__mutmut_{n}": "the 'if indent is None' block is a no-op: "
           "key_sep is already ' : ' or ': '" for n in (38, 41)},
        "core.config.jsonfile.xǁJsonStyleǁdetect__mutmut_55": "a text ending in '\\r\\n' also ends in '\\n'",
        "core.config.jsonfile.xǁJsonStyleǁdumps__mutmut_11": "ensure_ascii=None is as falsy as False",
        "core.config.jsonfile.xǁJsonStyleǁdumps__mutmut_18": "replacing '\\n' by '\\n' changes nothing",
    }),
    "patch": Module("core/repo/patch.py", ("tests/repo/test_patch.py", "tests/repo/test_patch_contract.py"),
                    equivalent={
        "core.repo.patch.x__remove__mutmut_4": "create=None is as falsy as False",
        "core.repo.patch.x_apply_patch__mutmut_142": "append_ok=None is as falsy as False",
        "core.repo.patch.x_apply_patch__mutmut_180": "the index is unused: the source was just found, so the "
                                                     "walk to its parent cannot fail",
        "core.repo.patch.x_apply_patch__mutmut_67": "the '-' guard only saves a lookup: '-' is never found",
    }),
    "queryfilter": Module("core/repo/queryfilter.py",
                          ("tests/repo/test_queryfilter.py", "tests/repo/test_queryfilter_mutants.py",
                           "tests/repo/test_query.py"), budget=2400, equivalent={
        "core.repo.queryfilter.x_render_value__mutmut_9": "ensure_ascii=None is as falsy as False",
        "core.repo.queryfilter.x__tokenize__mutmut_77": "a number's text (the _NUMBER match) never holds an 'X'",
        **{f"core.repo.queryfilter.x__tokenize__mutmut_{n}": "the end token's text is never read: a message shows "
           "it as 'the end', and every test of a token's text asks for a word first" for n in (118, 126)},
        **{f"core.repo.queryfilter.xǁ_SqlBuilderǁbuild__mutmut_{n}": "SQL keywords are case-insensitive"
           for n in (11, 13)},
        "core.repo.queryfilter.x_to_sql__mutmut_2": "SQL column names are case-insensitive ('DATA' is 'data')",
        **{f"core.repo.queryfilter.xǁ_SqlBuilderǁjson_type__mutmut_{n}": "json_type's shortcut for _id/_rev only "
           "saves a call: the JSON data never holds _id or _rev, so json_type() there is NULL, and neither NULL "
           "nor any type name equals a boolean's 'true'/'false'" for n in (1, 4, 7, 8, 9, 10, 12)},
    }),
    "cron": Module("core/schedule/cron.py", ("tests/schedule/test_cron.py",), equivalent={
        **{f"core.schedule.cron.xǁQuartzCronǁparse__mutmut_{n}":
           "the final whole-expression check: croniter has no cross-field rule the per-field probes miss"
           for n in (153, 154, 155, 156, 157)},
        **{f"core.schedule.cron.xǁQuartzCronǁparse__mutmut_{n}": "position left out: CronError's default is the "
           "same 1" for n in (7, 27)},
        "core.schedule.cron.xǁQuartzCronǁparse__mutmut_97": "'?' kept in day-of-month: croniter reads '?' as '*'",
        "core.schedule.cron.xǁQuartzCronǁparse__mutmut_101": "'?' kept in day-of-month: croniter reads '?' as '*'",
        "core.schedule.cron.xǁQuartzCronǁnext_after__mutmut_13": "unreachable: parse() has checked the expression",
        "core.schedule.cron.xǁQuartzCronǁnext_after__mutmut_14": "unreachable: parse() has checked the expression",
    }),
    "deletion_safeguard": Module("core/sync/recon.py", ("tests/sync/test_deletion_safeguard.py",),
                                 patterns=("core.sync.recon.xǁHeldDeletionsǁ*",)),
    "operation": Module("core/sync/operation.py",
                        ("tests/sync/test_idm_decisions.py", "tests/sync/test_situations.py",
                         "tests/sync/test_idm_keys.py", "tests/sync/test_recon_actions.py",
                         "tests/sync/test_implicit.py", "tests/sync/test_whole_records.py",
                         "tests/sync/test_script_env.py", "tests/sync/test_operation_mutants.py"),
                        # the decisions do not depend on the repository: the SQLite runs alone, not PostgreSQL's too
                        pytest_args=("-k", "not postgresql"), budget=3600, equivalent={
        **{f"core.sync.operation.xǁSyncOperationǁ{f}__mutmut_{n}": "an assert of what the caller checked: with "
           "'or' for 'and' it holds all the same" for f, n in (("_correlate_by_script", 2), ("_scripted_action", 1),
                                                               ("_correlation_query", 2))},
        **{f"core.sync.operation.xǁSyncOperationǁ{f}__mutmut_{n}": "the guard only saves a call: reading no ids "
           "answers {} (each object set checks it too)" for f, n in (("_correlate_by_script", 20),
                                                                   ("target_records", 11))},
        "core.sync.operation.xǁSyncOperationǁtarget_records__mutmut_39": "sources.get(None) is None: no source "
                                                                        "is read under no id",
        **{f"core.sync.operation.xǁSyncOperationǁ{f}__mutmut_{n}": "only which fields a remote read fetches: the "
           "whole record (None) holds every field the mapping observes, and a managed set reads whole records "
           "anyway" for f, n in (("_correlate_by_script", 22), ("_correlate_by_script", 24), ("target_records", 3),
                                 ("target_records", 5), ("target_records", 13), ("target_records", 15))},
        **{f"core.sync.operation.xǁSyncOperationǁ_managed_hooks__mutmut_{n}": "zip's strict: the hooks answer "
           "one result per object given, so the lists are of one length" for n in (15, 18, 19, 43, 46, 47, 64, 67, 75)},
        **{f"core.sync.operation.xǁSyncOperationǁ_managed_hooks__mutmut_{n}": "the id's fallback is never used: "
           "an update or delete handed to the hooks has a target, so a target id" for n in (37, 73)},
        **{f"core.sync.operation.xǁSyncOperationǁ_managed_hooks__mutmut_{n}": "the update filter's last tests only "
           "save a call: before_update_many runs no hook on an unchanged object, and a record that failed or has "
           "no change writes nothing (the MISSING/UPDATE rows of test_idm_decisions hold)" for n in (24, 25, 26)},
        "core.sync.operation.xǁSyncOperationǁ_plan_one__mutmut_66": "the simple plan is a fast path of "
        "apply_properties: an UPDATE gets the same target by the general path, and the changes computed for a LINK "
        "are never written (test_link_links_a_found_target_and_leaves_it_as_it_is)",
        "core.sync.operation.xǁSyncOperationǁmark_linked_elsewhere__mutmut_25": "correlated=None for []: for a "
        "source that does not qualify, no correlation and none found are one situation (SOURCE_IGNORED)",
        "core.sync.operation.xǁSyncOperationǁ_plan_one__mutmut_78": "with no change the new target is a copy of "
        "the target instead of the target itself: equal, and neither is written",
        "core.sync.operation.x__substitute__mutmut_20": "str(v) of a text is that text: the isinstance test only "
                                                        "saves the call",
        **{f"core.sync.operation.xǁSyncOperationǁtarget_records__mutmut_{n}": "the first value of qualifies is "
           "never read: target_situation looks at it only for a valid target linked to a live source, where the "
           "next line has set it" for n in (46, 47)},
    }),
    # the decision glue: which fire times are due, misfires, claims, overlap, what a firing records; not
    # SystemClock (the real clock's sleep, which the tests replace by a fake clock so that no test waits)
    "scheduler": Module("core/schedule/scheduler.py",
                        ("tests/schedule/test_scheduler.py", "tests/schedule/test_scheduler_mutants.py",
                         "tests/schedule/test_firing.py", "tests/schedule/test_livesync_schedule.py"),
                        patterns=("core.schedule.scheduler.x_*", "core.schedule.scheduler.xǁFireResultǁ*",
                                  "core.schedule.scheduler.xǁSyncInvokerǁ*", "core.schedule.scheduler.xǁSchedulerǁ*"),
                        budget=1800, equivalent={
        **{f"core.schedule.scheduler.xǁSchedulerǁ_next_wake__mutmut_{n}": "next_fire without a time reads the "
           "scheduler's clock, which is the time run() passed" for n in (5, 7)},
        "core.schedule.scheduler.xǁSchedulerǁ_next_wake__mutmut_10": "'<=' for '<': a fire time exactly at the "
        "poll's end wakes the loop at that same moment either way",
        **{f"core.schedule.scheduler.xǁSchedulerǁ__init____mutmut_{n}": "log.info(line) for log.info('%s', line): "
           "a log record with no arguments is not %-formatted, so its message is the line either way"
           for n in (14, 23)},
        "core.schedule.scheduler.xǁSchedulerǁ__init____mutmut_32": "_stopping=None is as falsy as False",
        "core.schedule.scheduler.xǁSchedulerǁ_decide__mutmut_29": "'>=' for '>' in 'misfired': the doNothing "
        "branch also needs now - last > 60 s, and first <= last, so then now - first > 60 s as well",
        "core.schedule.scheduler.xǁSchedulerǁ_record__mutmut_28": "pop without a default: the key is always there "
        "(tick() puts it before the firing's task first runs; only _record takes it out)",
        "core.schedule.scheduler.xǁSchedulerǁrun__mutmut_3": "'return' for 'break': nothing follows the loop but "
        "the finally block, which runs either way",
    }),
}

#: mutmut's exit codes, as its ``stats.status_by_exit_code`` reads them
KILLED = {1, 3}
SURVIVED = {0, 5, 33}  # 5 and 33: no test even runs the mutated code
TIMEOUT = {36, 24, -24, 152, 255}


#: mutmut stops a mutant's tests after (their measured time + 1 s) x this x 2 seconds of CPU, or half that of wall
#: clock. A timeout counts as killed, so too short a bound inflates the score: at 1.5 a surviving mutant whose tests
#: merely ran slower on a loaded machine (queryfilter's: 7.4 s against a 7.35 s wall bound) was counted a timeout.
#: 4 leaves a loaded machine room; a mutant that loops forever holds the worker ~4x its tests' time
#: (mutmut's default, 15, held it for minutes).
TIMEOUT_MULTIPLIER = 4.0

#: appended to the copy's tests/conftest.py: mutmut runs each mutant's tests in a process forked from the one
#: that ran every test first, so a memoised function (``queryfilter.parse``'s lru_cache) would answer from that
#: first run without ever running the mutated code; every test starts with the core's caches empty instead
FRESH_CACHES = """

# ---- added by scripts/mutation.py -------------------------------------------------------------------------
import sys as _mutation_sys

import pytest as _mutation_pytest


@_mutation_pytest.fixture(autouse=True)
def _mutation_fresh_caches():
    for _name, _module in list(_mutation_sys.modules.items()):
        if _name.startswith("core.") and _module is not None:
            for _value in list(vars(_module).values()):
                if callable(getattr(_value, "cache_clear", None)) and hasattr(_value, "cache_info"):
                    _value.cache_clear()
    yield
"""


def _pyproject(module: Module) -> str:
    tests = ", ".join(json.dumps(t) for t in module.tests)
    return f"""[tool.pytest.ini_options]
testpaths = ["tests"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
addopts = "-q -p no:xdist -p no:cacheprovider"

[tool.mutmut]
source_paths = ["core/"]
only_mutate = [{json.dumps(module.source)}]
also_copy = ["tests/", "tui/", "conf/"]
pytest_add_cli_args_test_selection = [{tests}]
pytest_add_cli_args = [{", ".join(json.dumps(a) for a in module.pytest_args)}]
timeout_multiplier = {TIMEOUT_MULTIPLIER}
"""


_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "__snapshots__")


def _copy_tests(work: Path) -> None:
    """The checkout's tests into the copy, with every test starting on empty caches (``FRESH_CACHES``)."""
    shutil.rmtree(work / "tests", ignore_errors=True)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=_IGNORE)
    conftest = work / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text(encoding="utf-8") + FRESH_CACHES, encoding="utf-8")


def _prepare(name: str, module: Module) -> Path:
    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for part in COPY:
        if part != "tests" and (ROOT / part).exists():
            shutil.copytree(ROOT / part, work / part, ignore=_IGNORE)
    _copy_tests(work)
    (work / "pyproject.toml").write_text(_pyproject(module), encoding="utf-8")
    return work


def _exit_codes(work: Path, module: Module) -> dict[str, int | None]:
    meta = work / "mutants" / (module.source + ".meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    return {k: v for k, v in codes.items() if any(fnmatch(k, p) for p in module.patterns)}


def run_module(name: str, module: Module, children: int, resume: bool = False, recheck: bool = False) -> dict:
    work = WORK / name
    kept = (work / "mutants").is_dir()
    targets = list(module.patterns) if module.patterns != ("*",) else []
    if (recheck or resume) and kept:  # mutmut keeps its results; the tests are the checkout's as they are now
        _copy_tests(work)
        if recheck:  # the last run's survivors again
            targets = sorted(k for k, v in _exit_codes(work, module).items()
                             if v in SURVIVED and k not in module.equivalent)
        # else go on where a stopped run ended
    else:
        work = _prepare(name, module)
    (work / "pyproject.toml").write_text(_pyproject(module), encoding="utf-8")
    args = [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *targets]
    started = time.monotonic()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    stopped = False
    if targets or not (recheck and kept):  # (a recheck with no survivor has nothing to run)
        with (work / "mutmut.log").open("w", encoding="utf-8") as log:
            try:
                subprocess.run(args, cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env,
                               timeout=module.budget, check=False)
            except subprocess.TimeoutExpired:
                stopped = True
    codes = _exit_codes(work, module)
    # a listed equivalent whose tests ran past the bound was slow, not caught: it counts as equivalent, not as a
    # timeout (which would count as killed); one a test did kill is not equivalent, and is reported as stale
    equivalent = sorted(k for k, v in codes.items() if k in module.equivalent and (v in SURVIVED or v in TIMEOUT))
    survivors = sorted(k for k, v in codes.items() if v in SURVIVED and k not in module.equivalent)
    stale = sorted(set(module.equivalent) - set(equivalent))
    killed = sum(v in KILLED for v in codes.values())
    timeout = sum(v in TIMEOUT for k, v in codes.items() if k not in module.equivalent)
    counted = sum(v is not None for v in codes.values()) - len(equivalent)  # the score is of the mutants run
    return {
        "module": name, "source": module.source, "mutants": len(codes), "killed": killed,
        "survived": len(survivors), "timeout": timeout, "equivalent": len(equivalent),
        "other": len(codes) - killed - timeout - len(survivors) - len(equivalent),
        "score": round(100 * (killed + timeout) / counted, 1) if counted else None,
        "seconds": round(time.monotonic() - started, 1), "stopped": stopped,
        "survivors": survivors, "stale_equivalents": stale,
        "work": str(work),
    }


def show(result: dict) -> None:
    for mutant in result["survivors"]:
        diff = subprocess.run([sys.executable, "-m", "mutmut", "show", mutant], cwd=result["work"],
                              capture_output=True, text=True, check=False).stdout
        print(f"\n# {mutant}\n" + "\n".join(line for line in diff.splitlines()
                                            if line[:1] in "+-" and line[:3] not in ("+++", "---")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES),
                        help="a module to run (repeatable); default: all")
    parser.add_argument("--max-children", type=int, default=1, help="mutmut workers (default 1)")
    parser.add_argument("--show-survivors", action="store_true", help="print each survivor's diff")
    parser.add_argument("--goal", type=float, default=90.0, help="score each module must reach")
    parser.add_argument("--resume", action="store_true",
                        help="go on in the copy a stopped run left (.mutation/NAME) instead of starting afresh")
    parser.add_argument("--recheck", action="store_true",
                        help="run only the last run's survivors again, with the checkout's tests as they are now "
                             "(after writing tests that kill them); the figures are the last run's, updated")
    opts = parser.parse_args(argv)
    names = opts.module or list(MODULES)
    results = []
    head = f"{'module':<20} {'mutants':>7} {'killed':>6} {'survived':>8} {'timeout':>7} {'equiv':>5} {'score':>6}"
    print(head)
    for name in names:
        r = run_module(name, MODULES[name], opts.max_children, opts.resume, opts.recheck)
        results.append(r)
        score = "-" if r["score"] is None else f"{r['score']:.1f}%"
        note = " (stopped: budget)" if r["stopped"] else ""
        note += f" ({r['other']} not run)" if r["other"] else ""
        print(f"{name:<20} {r['mutants']:>7} {r['killed']:>6} {r['survived']:>8} {r['timeout']:>7} "
              f"{r['equivalent']:>5} {score:>6}{note}", flush=True)
        for stale in r["stale_equivalents"]:
            print(f"  note: {stale} is listed as equivalent but a test killed it, or it no longer exists (renumbered?)")
    if opts.show_survivors:
        for r in results:
            show(r)
    print(json.dumps({"mutation": [{k: v for k, v in r.items() if k != "work"} for r in results]}))
    failed = [r for r in results if r["score"] is None or r["score"] < opts.goal or r["stopped"] or r["other"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
