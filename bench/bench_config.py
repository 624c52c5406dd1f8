"""Configuration read once per operation (``core/config/loaded.py``): what an operation pays for its files.

Three ways over the repository's sample ``conf/`` (its sync.json's scripts compiled on every check, the
provisioner's secrets sealed at rest), each timed per operation, the median of ``--rounds`` (the three take
turns within each round):

- ``each read`` : what one ``sfsync recon`` paid before a look was handed down: ``sfsync.toml`` read 4 times,
  ``sync.json`` 2, ``managed.json`` 2 (schema and hooks), the provisioner file once;
- ``one look``  : a new ``ProjectConfig`` with every file read and checked once (a command line's operation,
  or the server's first operation after a file changed);
- ``unchanged`` : ``ConfigWatcher.current()`` while no file changed, the same views asked for (every operation
  of the REST server and the app since): a ``stat`` per file and the kept objects.

Times are measured, never asserted; the machine is shared, so compare the ratios of one run.

    python bench/bench_config.py              # 100 rounds
    python bench/bench_config.py --small      # 10 rounds
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from common import emit, table  # noqa: E402

from core.config import ConfigWatcher, Project, ProjectConfig, ProvisionerConfig, Settings  # noqa: E402
from core.repo import ManagedSchema  # noqa: E402
from core.sync import SyncConfig  # noqa: E402


def make_project(folder: Path) -> Project:
    """The sample ``conf/`` with a ``sfsync.toml`` and secrets sealed in the provisioner file."""
    (folder / "conf").mkdir(parents=True)
    for name in ("managed.json", "sync.json", "provisioner.openicf-salesforce.json"):
        shutil.copy(ROOT / "conf" / name, folder / "conf" / name)
    (folder / "conf" / "sfsync.toml").write_text("keep_runs = 50\ndeletion_threshold = 1000\n")
    project = Project(folder)
    config = ProvisionerConfig.load(project)
    config.update_properties(clientSecret="bench-client-secret", refreshToken="bench-refresh-token")
    config.save(project)
    return project


def hooks_of(project: Project, data: Any) -> Any:
    from core.sync.managed_hooks import ManagedHooks

    return ManagedHooks.from_config(data, path=str(project.managed_path), base_dir=project.root)


def loaders(project: Project) -> dict[str, Callable[[], object]]:
    """One read and check of each file, as each part did it."""
    from core.sync.managed_hooks import ManagedHooks

    return {"sfsync_toml": lambda: Settings.load(project),
            "sync_json": lambda: SyncConfig.load(project),
            "managed_json_schema": lambda: ManagedSchema.load(project),
            "managed_json_hooks": lambda: ManagedHooks.load(project.managed_path, project.root),
            "provisioner": lambda: ProvisionerConfig.load(project)}


def each_read(project: Project) -> None:
    """The reads of one ``sfsync recon`` before (each part loading its own)."""
    from core.sync.managed_hooks import ManagedHooks

    for _ in range(4):
        Settings.load(project)
    for _ in range(2):
        SyncConfig.load(project)
    ManagedSchema.load(project)
    ManagedHooks.load(project.managed_path, project.root)
    ProvisionerConfig.load(project)


def use(look: ProjectConfig) -> None:
    """What an operation asks of its look (each view once per look; asked again, the kept one)."""
    _ = look.settings.keep_runs, look.settings.deletion_threshold, look.provisioner.properties
    SyncConfig.of(look)
    ManagedSchema.of(look)
    look.view("hooks", lambda: hooks_of(look.project, look.managed_data))


def medians_ms(ways: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each way's median time in ms; the ways take turns within each round, so a busy moment of the shared
    machine falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for fn in ways.values():
        fn()  # warm: imports, the first QuickJS engine
    for _ in range(rounds):
        for name, fn in ways.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100, help="operations timed per way (default 100)")
    parser.add_argument("--small", action="store_true", help="10 rounds (what CI runs)")
    args = parser.parse_args()
    rounds = 10 if args.small else args.rounds
    with tempfile.TemporaryDirectory(prefix="sfsync-bench-config-") as tmp:
        project = make_project(Path(tmp) / "p")
        watcher = ConfigWatcher(project)
        time.sleep(0.2)  # files older than a look's racy window, as files not just written are
        figures = medians_ms({
            "each_read_ms": lambda: each_read(project),
            "one_look_ms": lambda: use(ProjectConfig.load(project)),
            "unchanged_ms": lambda: use(watcher.current()),
        }, rounds)
        files = medians_ms(loaders(project), rounds)
    print(table(["way", "ms per operation", "x unchanged"],
                [[name.removesuffix("_ms").replace("_", " "), value, value / figures["unchanged_ms"]]
                 for name, value in figures.items()]))
    print(table(["one read of", "ms"], [[name, value] for name, value in files.items()]))
    emit("config", rounds=rounds, **figures,
         each_read_over_one_look=figures["each_read_ms"] / figures["one_look_ms"],
         **{f"read_{name}_ms": value for name, value in files.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
