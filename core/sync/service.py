"""``SyncService``: the one facade the TUI, the command line and the REST API use for synchronization.

Async methods run on the caller's event loop; the connector lives on that loop, while the engine's work
(SQLite, scripts) runs in a worker thread per run (and one for implicit sync), so a front end's loop stays
responsive. Progress callbacks are called from the worker thread with the run object (a dict, IDM's shape):
cheap, thread-safe callbacks only (post a message, set a future, write a line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from core.config.project import Project
from core.errors import ConfigError, SfsyncError, UsageError
from core.sync.cluster import node_name, recon_engine
from core.sync.connection import SharedConnector
from core.sync.implicit import SYNC_AUDIT_ID, ImplicitResult, perform_action, sync_object
from core.sync.managed_hooks import ManagedHooks, request_of
from core.sync.managed_writes import ScriptWrites, write_create, write_delete, write_patch, write_update
from core.sync.mapping import Mapping, SyncConfig
from core.sync.objectsets import ManagedObjects, ObjectSet, SalesforceObjects
from core.sync.recon import ReconOptions
from core.sync.run import ReconRun, ReconStage
from core.sync.scriptenv import ScriptEnv, close_project_log, project_log
from core.sync.scripts import ScriptEngine
from core.sync.user_detail import RemoteLink, UserDetail, copied_pairs, remote_link

if TYPE_CHECKING:
    from core.config.loaded import ConfigWatcher, ProjectConfig
    from core.repo import RepositoryApi

#: implicit-sync audit entries kept per kept run (``keep_runs`` 100: the newest 100,000)
SYNC_ENTRIES_PER_RUN = 1000

ProgressCallback = Callable[[dict[str, Any]], None]


class SourceNotFound(UsageError):
    """liveSync of an object set no mapping reads (with enableSync): nothing to sync there. A usage error on
    the command line (exit 2); a 404 over REST (core/api/errors.py)."""

    http_status = 404


class SyncService:
    """Mappings, reconciliations, runs and implicit sync of one project.

    ``config``: where its configuration comes from. A front end's :class:`~core.config.ConfigWatcher` (the
    server and the app: each operation takes its ``current()`` look, read again only after a file changed),
    or one :class:`~core.config.ProjectConfig` (a command line's one operation); by default a watcher of its
    own. Each operation takes one look at its start and hands it down (connector, object sets, thresholds).
    """

    def __init__(self, project: Project, *, config: ConfigWatcher | ProjectConfig | None = None,
                 repo: RepositoryApi | None = None, connector_factory: Callable[[], Any] | None = None) -> None:
        from core.config.loaded import watcher_of

        self.project = project
        self.configs = watcher_of(project, config)
        #: this process as a node of clustered reconciliations (``sfsync worker --node-id`` names it)
        self.node_id = node_name(project.root)
        self._repo = repo
        self._connector_factory = connector_factory
        self._lock = threading.Lock()
        self._cancels: dict[str, threading.Event] = {}
        self._implicit = ThreadPoolExecutor(1, thread_name_prefix="sfsync-implicit")
        self._implicit_scripts: ScriptEngine | None = None
        self._recon_pools: dict[str, tuple[ThreadPoolExecutor, ThreadPoolExecutor]] = {}
        #: liveSync runs in one thread of its own (its scripts are that thread's), one tick at a time
        self._livesync = ThreadPoolExecutor(1, thread_name_prefix="sfsync-livesync")
        self._livesync_scripts: ScriptEngine | None = None
        #: implicit sync's connector, kept (with its access token) across changes on a loop of its own
        self.implicit_connector = SharedConnector(self.configs, connector_factory)
        #: scripts' ``logger`` and the engine's warnings go to ``<project>/logs/sfsync.log`` (README, Scripts)
        try:
            project_log(project.root)
            self._log_open = True
        except OSError as exc:  # a read-only project still syncs; its scripts' lines go to stderr's handlers
            logging.getLogger(__name__).warning("cannot write %s/logs: %s", project.root, exc)
            self._log_open = False

    # ---- plumbing ------------------------------------------------------------------------------------
    def script_env(self, origin: str, mappings: Sequence[Mapping], *, writes: bool, refused_because: str = "",
                   user: str | None = None, salesforce: Any = None) -> ScriptEnv:
        """What this project's scripts reach (``core/sync/scriptenv.py``): ``script/``, ``logs/``,
        ``resolver/boot.properties``, the repository's managed objects and the Salesforce User set."""
        from core.repo.activity import Actor

        managed = {"user"}  # and the managed sets the running mappings name
        for m in mappings:
            managed.update(n.split("/", 1)[1] for n in (m.source, m.target) if n.startswith("managed/"))
        return ScriptEnv(project_dir=self.project.root, repo=self.repo, salesforce=salesforce,
                         authentication_id=user or Actor.local(origin).user_id, origin=origin, writes=writes,
                         refused_because=refused_because, managed=frozenset(managed))

    @property
    def repo(self) -> RepositoryApi:
        with self._lock:
            if self._repo is None:
                from core.repo import Repository

                self.project.db_dir.mkdir(parents=True, exist_ok=True)
                self._repo = Repository.for_project(self.project, config=self.configs.current())
            return self._repo

    def close(self) -> None:
        """Free the script engines in the threads that made them (a QuickJS context belongs to its thread),
        close the implicit-sync connector and the repository."""
        # a QuickJS context belongs to its thread: each worker frees its own engine, then stops
        self._close_worker(self._implicit, "_implicit_scripts")
        self._close_worker(self._livesync, "_livesync_scripts")
        self.implicit_connector.close()
        for worker, committer in self._recon_pools.values():
            worker.shutdown(wait=True)
            committer.shutdown(wait=True)
        if self._repo is not None:
            self._repo.close()
        if self._log_open:
            self._log_open = False
            close_project_log(self.project.root)

    def _close_worker(self, worker: ThreadPoolExecutor, engine_attr: str) -> None:
        """Free the script engine held in ``engine_attr`` in ``worker``'s thread (where it was made), then stop
        the worker."""
        def drop() -> None:
            engine = getattr(self, engine_attr)
            if engine is not None:
                engine.close()
            setattr(self, engine_attr, None)

        with contextlib.suppress(RuntimeError):
            worker.submit(drop).result()
        worker.shutdown(wait=True)

    def config(self, loaded: ProjectConfig | None = None) -> SyncConfig:
        """sync.json's mappings, from ``loaded`` (an operation's look) or the current look."""
        return SyncConfig.of(loaded or self.configs.current())

    def mappings(self) -> list[Mapping]:
        """The mappings of sync.json, in file order."""
        return list(self.config().mappings)

    @contextlib.asynccontextmanager
    async def _connector(self, needed: bool, loaded: ProjectConfig | None = None) -> AsyncIterator[Any]:
        if not needed:
            yield None
            return
        if self._connector_factory is not None:
            connector = self._connector_factory()
        else:
            from core.salesforce.connector import SalesforceConnector

            connector = SalesforceConnector.from_config(loaded or self.configs.current())
        async with connector:
            yield connector

    def _object_set(self, name: str, connector: Any, loop: asyncio.AbstractEventLoop | None,
                    loaded: ProjectConfig | None = None) -> ObjectSet:
        loaded = loaded or self.configs.current()
        if name.startswith("managed/"):
            resource = name.split("/", 1)[1]
            return ManagedObjects(self.repo, resource, hooks=self.managed_hooks(resource, loaded))
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "system" and parts[1] == "salesforce":
            assert loop is not None  # a Salesforce set runs its calls on the connector's loop
            settings = loaded.settings   # a bad value is a ConfigError naming it
            return SalesforceObjects(connector, loop, sobject=parts[2], bulk_threshold=settings.bulk_query_threshold,
                                     bulk_mode=settings.bulk_query)
        raise ConfigError(f"unknown object set {name!r} (managed/<name> or system/salesforce/<sobject>)",
                          path="conf/sync.json")

    @staticmethod
    def _needs_connector(names: Sequence[str]) -> bool:
        return any(n.startswith("system/") for n in names)

    # ---- reconciliation ------------------------------------------------------------------------------
    async def reconcile(self, name: str, dry_run: bool = False, changed_only: bool = False,
                        on_progress: ProgressCallback | None = None, cancel: Any = None,
                        *, run_id: str | None = None, allow_deletions: bool = False,
                        ids: Sequence[str] | None = None) -> dict[str, Any]:
        """Run a reconciliation of mapping ``name`` to its end; the final run object.

        ``ids``: reconById, only these source ids and no target phase (an id naming no source is decided from
        its link, as IDM does). ``allow_deletions``: apply the run's DELETE actions however many there are (otherwise more than
        ``deletion_threshold`` of sfsync.toml are held back and the run ends FAILED; see ``deletionsHeld``).

        ``cancel``: anything with ``is_set()`` (threading.Event, asyncio.Event), checked at page boundaries.
        Cancelling the awaiting task also cancels the run (it ends CANCELED, then CancelledError propagates).
        """
        loaded = self.configs.current()  # this run's look at the files, handed down
        mapping = self.config(loaded).get(name)
        run = ReconRun(mapping=name, dry_run=dry_run, changed_only=changed_only)
        if run_id:
            run.id = run_id
        run.parameters = {"sourceQuery": {"resourceName": mapping.source, "_queryFilter": "true"},
                          "targetQuery": {"resourceName": mapping.target, "_queryFilter": "true"}}
        if ids is not None:
            ids = [str(i) for i in ids if str(i).strip()]
            if not ids:
                raise UsageError("reconById needs at least one source id")
            if changed_only:
                raise UsageError("reconById and --changed cannot be combined")
            run.parameters = {"sourceQuery": {"resourceName": mapping.source, "_queryId": "ids", "ids": list(ids)},
                              "targetQuery": None, "runTargetPhase": False, "reconById": True}
        flag = threading.Event()
        self._cancels[run.id] = flag
        since = self._watermark(name) if changed_only else None
        if changed_only and not mapping.source.startswith("system/"):
            raise UsageError(f"--changed needs a mapping whose source is Salesforce; {name} reads {mapping.source}")
        loop = asyncio.get_running_loop()

        class _Either:
            def is_set(self) -> bool:
                return flag.is_set() or bool(cancel is not None and cancel.is_set())

        executor, commit_pool = self._pools(name, dry_run)
        options = ReconOptions(script_env=self.script_env("recon", [mapping], writes=False,
                                                          refused_because="a reconciliation"),
                               dry_run=dry_run, changed_only=changed_only, since=since,
                               on_progress=on_progress, cancel=_Either(), commit_pool=commit_pool,
                               deletion_threshold=self._deletion_threshold(loaded),
                               allow_deletions=allow_deletions,
                               ids=list(ids) if ids is not None else None)
        try:
            # the connector first (a broken provisioner file is a ConfigError and no run), then the lock, in
            # this call: a second run of an active mapping is refused at once (Conflict), not queued
            needed = self._needs_connector([mapping.source, mapping.target])
            async with self._connector(needed, loaded) as connector:
                source, target = self._sides(mapping, connector, loop, loaded, options)
                await asyncio.to_thread(self._begin, run, dry_run)
                try:
                    def work() -> ReconRun:  # clusteredSourceReconEnabled: pages to every node (core/sync/cluster.py)
                        return recon_engine(mapping, source, target, self.repo, run, options,
                                            node_id=self.node_id).execute()

                    future = loop.run_in_executor(executor, work)
                    try:
                        result = await asyncio.shield(future)
                    except asyncio.CancelledError:
                        flag.set()
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(asyncio.shield(future), timeout=60)
                        raise
                except BaseException as exc:
                    if not run.finished:
                        run.message = run.message or str(exc) or type(exc).__name__
                    raise
                finally:
                    await asyncio.to_thread(self._end, run, dry_run, loaded)
        finally:
            self._cancels.pop(run.id, None)
        return result.to_dict()

    def _sides(self, mapping: Mapping, connector: Any, loop: asyncio.AbstractEventLoop | None,
               loaded: ProjectConfig, options: ReconOptions) -> tuple[ObjectSet, ObjectSet]:
        """A run's source and target object sets; ``options`` gets the implicit sync of each page's managed
        writes (the mappings whose source is the run's managed target), unless the run is a dry run."""
        source = self._object_set(mapping.source, connector, loop, loaded)
        target = self._object_set(mapping.target, connector, loop, loaded)
        if mapping.target.startswith("managed/") and not options.dry_run:
            options.implicit_mappings = self.config(loaded).from_source(mapping.target)
            options.implicit_sets = self._implicit_sets(connector, loop, loaded)
        return source, target

    def node_engine_parts(self, mapping_name: str, *, dry_run: bool,
                          ) -> tuple[Mapping, ObjectSet, ObjectSet, ReconOptions]:
        """What a node of a clustered run needs for one page of ``mapping_name``, built as :meth:`reconcile`
        builds them (one look at the files; the shared connector; implicit sync of the page's writes)."""
        loaded = self.configs.current()
        mapping = self.config(loaded).get(mapping_name)
        needed = self._needs_connector([mapping.source, mapping.target])
        connector, loop = self.implicit_connector.get() if needed else (None, None)
        options = ReconOptions(dry_run=dry_run, script_env=self.script_env(
            "recon", [mapping], writes=False, refused_because="a reconciliation"))
        source, target = self._sides(mapping, connector, loop, loaded, options)
        return mapping, source, target, options

    def _implicit_sets(self, connector: Any, loop: asyncio.AbstractEventLoop | None,
                       loaded: ProjectConfig) -> Callable[[str], ObjectSet]:
        """The object sets a reconciliation's implicit sync names beyond the run's own two (on its connector;
        without one, e.g. a managed-to-managed run, the implicit-sync connector)."""
        def object_set(name: str) -> ObjectSet:
            if connector is None and self._needs_connector([name]):
                shared, shared_loop = self.implicit_connector.get()
                return self._object_set(name, shared, shared_loop, loaded)
            return self._object_set(name, connector, loop, loaded)
        return object_set

    async def reconcile_object(self, resource: str, object_id: str) -> list[dict[str, Any]]:
        """reconById of one managed object through every mapping that touches ``managed/<resource>``: as the
        source by its own id, as the target by the source id its link names (no link: that mapping is left out).
        The runs, in sync.json order (the TUI's "Reconcile this user")."""
        from core.sync.links import MappingLinks

        name = f"managed/{resource}"
        runs = []
        for mapping in self.config().mappings:
            if mapping.source == name:
                ids = [object_id]
            elif mapping.target == name:
                owners = await asyncio.to_thread(MappingLinks(self.repo, mapping).sources_of, [object_id])
                if object_id not in owners:
                    continue
                ids = [owners[object_id]]
            else:
                continue
            runs.append(await self.reconcile(mapping.name, ids=ids))
        return runs

    def names_of(self, object_ids: Sequence[str]) -> dict[str, str]:
        """Who each qualified id is (``managed/user/<id>``, ``system/salesforce/User/<id>``): the managed user's
        userName, directly or through the link of a mapping between the two (an audit shows it beside ids)."""
        from core.sync.links import MappingLinks

        managed = {i.rsplit("/", 1)[1]: i for i in object_ids if i.startswith("managed/user/")}
        remote = {i.rsplit("/", 1)[1]: i for i in object_ids if i.startswith("system/")}
        via: dict[str, str] = {}  # managed id -> the remote qualified id it names
        for mapping in self.config().mappings:
            if remote and mapping.target == "managed/user" and mapping.source.startswith("system/"):
                for source_id, target_id in MappingLinks(self.repo, mapping).targets_of(list(remote)).items():
                    via.setdefault(target_id, remote[source_id])
        users = self.repo.read_many([*managed, *via]) if (managed or via) else {}
        out: dict[str, str] = {}
        for uid, user in users.items():
            name = user.get("userName")
            if not isinstance(name, str):
                continue
            if uid in managed:
                out[managed[uid]] = name
            if uid in via:
                out[via[uid]] = name
        return out

    def _begin(self, run: ReconRun, dry_run: bool) -> None:
        repo = self.repo
        if not dry_run:
            repo.runs.acquire(run.mapping, run.id)
        try:
            repo.runs.create(run.to_dict())
        except BaseException:
            repo.runs.release(run.id)
            raise

    def _end(self, run: ReconRun, dry_run: bool, loaded: ProjectConfig) -> None:
        """Never leave a run ACTIVE behind (a bug, a cancel that outlived its wait); release; prune."""
        repo = self.repo
        if not run.finished:
            run.finish(ReconStage.COMPLETED_FAILED, run.message or "interrupted")
            repo.runs.update(run.to_dict())
        repo.runs.release(run.id)
        if not dry_run:
            keep = self._keep_runs(loaded)
            repo.runs.prune(keep)
            # the implicit-sync log belongs to no run: as many entries as the kept runs' worth of changes
            repo.audit.keep_newest(SYNC_AUDIT_ID, keep * SYNC_ENTRIES_PER_RUN)
            # the activity audit too (it is also trimmed as it grows, every 1,000 entries)
            from core.repo.activity import ENTRIES_PER_RUN

            repo.activity.keep_newest(keep * ENTRIES_PER_RUN)

    def _pools(self, name: str, dry_run: bool) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
        """The run's worker thread and its commit thread, kept per mapping (one run of a mapping at a time;
        dry runs have their own), so their SQLite connections are reused, not one more per run."""
        key = f"{name}{' (dry run)' if dry_run else ''}"
        with self._lock:
            if key not in self._recon_pools:
                self._recon_pools[key] = (ThreadPoolExecutor(1, thread_name_prefix=f"sfsync-recon-{name}"),
                                          ThreadPoolExecutor(1, thread_name_prefix=f"sfsync-commit-{name}"))
            return self._recon_pools[key]

    def _watermark(self, name: str) -> str | None:
        for run in self.repo.runs.list(mapping=name):
            if run.get("state") == "SUCCESS" and not run.get("dryRun") and run.get("watermark"):
                return str(run["watermark"])
        return None

    @staticmethod
    def _deletion_threshold(loaded: ProjectConfig) -> int:
        return int(loaded.settings.deletion_threshold)  # a bad value is a ConfigError naming it

    @staticmethod
    def _keep_runs(loaded: ProjectConfig) -> int:
        try:
            return int(loaded.settings.keep_runs)
        except Exception:  # noqa: BLE001 - retention falls back to IDM's default
            return 100

    def cancel(self, run_id: str) -> bool:
        """Ask a run to stop at its next page boundary (it ends CANCELED): at once when this process runs it,
        else through the repository, where the run's process reads it at its next page. False when there is
        no such run or it has already ended."""
        flag = self._cancels.get(run_id)
        if flag is not None:
            flag.set()
            return True
        repo = self.repo
        with repo.transaction():
            run = repo.runs.get(run_id)
            if run is None or run.get("state") != "ACTIVE":
                return False
            run["cancelRequested"] = True
            repo.runs.update(run)
        return True

    def runs(self, limit: int | None = 100) -> list[dict[str, Any]]:
        """Runs, newest first, from the repository (runs of other processes included)."""
        return list(self.repo.runs.list(limit))

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self.repo.runs.get(run_id)

    def audit(self, run_id: str, situation: str | None = None, page_size: int = 0,
              cookie: str | None = None) -> dict[str, Any]:
        """A run's audit entries (IDM's query result)."""
        from core.repo.query import QueryRequest

        text = f'reconId eq "{run_id}"' + (f' and situation eq "{situation}"' if situation else "")
        return dict(self.repo.audit.query(QueryRequest(query_filter=text, page_size=page_size,
                                                        paged_results_cookie=cookie)))

    async def test_connector(self) -> dict[str, Any]:
        async with self._connector(True) as connector:
            return dict(await connector.test())

    # ---- liveSync --------------------------------------------------------------------------------------
    async def livesync(self, source: str = "system/salesforce/User", *, allow_deletions: bool = False,
                       on_progress: ProgressCallback | None = None) -> dict[str, Any]:
        """One liveSync tick of ``source`` (:mod:`core.sync.livesync`): the changes since the stored sync token
        through every mapping whose source it is; IDM's stage object plus ``sfsync`` (the tick's summary:
        ``status`` SUCCESS or FAILED, ``message``, counters, ``fullReconciliation`` when the token was too old).

        Ticks of one service run one at a time in its liveSync thread, on the service's shared connector (its
        access token kept), so a tick with nothing changed costs one API call. ``allow_deletions``: apply the
        tick's DELETE actions however many there are (see ``deletion_threshold``). ``on_progress``: the run
        object of a full reconciliation the tick runs instead (as :meth:`reconcile`'s)."""
        from core.repo.stages import stage_id
        from core.sync.livesync import (
            LIVESYNC_AUDIT_ID,
            FailureHandler,
            LiveSyncEngine,
            LiveSyncResult,
            check_source,
            stage_answer,
        )

        source = check_source(source)
        loaded = self.configs.current()  # this tick's look at the files, handed down
        config = self.config(loaded)
        mappings = config.from_source(source)
        if not mappings:
            raise SourceNotFound(f"source: no mapping of conf/sync.json reads {source} (with enableSync); liveSync "
                             f"has nothing to do (the mappings read: "
                             f"{', '.join(sorted({m.source for m in config.mappings})) or 'none'})")
        path = self.project.provisioner_path
        data = loaded.provisioner.original if loaded.stamps[1] is not None else {}
        handler = FailureHandler.from_provisioner(data, str(path))
        threshold = self._deletion_threshold(loaded)
        loop = asyncio.get_running_loop()
        box: dict[str, Any] = {}

        def work() -> LiveSyncResult:
            connector, connector_loop = self.implicit_connector.get()
            stats = getattr(getattr(connector, "session", None), "stats", None)
            box["stats"], box["before"] = stats, (stats or {}).get("requests", 0)
            sets: dict[str, ObjectSet] = {}

            def object_sets(name: str) -> ObjectSet:
                if name not in sets:
                    sets[name] = self._object_set(name, connector, connector_loop, loaded)
                return sets[name]

            env = self.script_env("liveSync", mappings, writes=False, refused_because="liveSync",
                                  salesforce=lambda: object_sets("system/salesforce/User"))
            if self._livesync_scripts is None:
                self._livesync_scripts = ScriptEngine(env=env)
            self._livesync_scripts.env = env
            engine = LiveSyncEngine(source, mappings, config.from_source, self.repo, self._livesync_scripts,
                                    object_sets, deletion_threshold=threshold, allow_deletions=allow_deletions,
                                    failure_handler=handler)
            box["engine"] = engine
            result = engine.run()
            if result.needs_full:
                box["baseline"] = engine._baseline()
            return result

        result = await loop.run_in_executor(self._livesync, work)
        if result.needs_full:
            runs = []
            for mapping in mappings:
                try:
                    runs.append(await self.reconcile(mapping.name, allow_deletions=allow_deletions,
                                                     on_progress=on_progress))
                except (ConfigError, UsageError):
                    raise
                except Exception as exc:  # noqa: BLE001 - a refused run (its lock) is that mapping's failure
                    runs.append({"mapping": mapping.name, "state": "FAILED", "failureReason": str(exc)})
            engine, baseline = box["engine"], box["baseline"]
            result = await loop.run_in_executor(
                self._livesync, lambda: engine.after_full_reconciliation(*baseline, runs))
        stats = box.get("stats")
        if stats is not None:
            result.api_calls = stats.get("requests", 0) - box["before"]

        def finish() -> dict[str, Any] | None:
            if result.changes or result.deletions_held:
                self.repo.audit.keep_newest(LIVESYNC_AUDIT_ID, self._keep_runs(loaded) * SYNC_ENTRIES_PER_RUN)
            return self.repo.stages.get(stage_id(source))

        stage = await loop.run_in_executor(self._livesync, finish)
        return stage_answer(stage, result)

    # ---- managed users with implicit sync ------------------------------------------------------------
    async def _in_worker(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._implicit, fn)

    def managed_hooks(self, resource: str = "user", loaded: ProjectConfig | None = None) -> ManagedHooks:
        """``conf/managed.json``'s hooks of ``managed/<resource>``, from ``loaded`` (an operation's look) or the
        current look (so read again when the file changed)."""
        look = loaded or self.configs.current()

        def build() -> ManagedHooks:
            data = look.managed_data
            if data is None:
                return ManagedHooks(resource)
            hooks = ManagedHooks.from_config(data, resource=resource, path=str(self.project.managed_path),
                                             base_dir=self.project.root)
            specs = [*hooks.specs.values(), *(spec for named in hooks.properties.values() for _, spec in named)]
            look.watch(spec.origin for spec in specs if spec.origin)
            return hooks

        return look.view(f"managed_hooks:{resource}", build)

    def _implicit_engine(self, env: ScriptEnv) -> ScriptEngine:
        """The implicit-sync thread's script engine, bound to ``env`` (call in that thread)."""
        if self._implicit_scripts is None:
            self._implicit_scripts = ScriptEngine(env=env)
        self._implicit_scripts.env = env
        return self._implicit_scripts

    def _script_writes(self, who: Any, object_sets: Callable[[str], ObjectSet]) -> ScriptWrites:
        """What a script's ``openidm`` writes of managed objects go through in the implicit-sync thread: the hooks,
        the write and its activity entry, implicit sync, ``onSync`` (``core.sync.managed_writes``)."""
        from core.repo.activity import ENTRIES_PER_RUN, activity_entry

        def activity(resource: str, object_id: str, operation: str, old: Any, new: Any) -> None:
            self.repo.activity.add(activity_entry(f"managed/{resource}/{object_id}", operation, old, new, who),
                                   keep=lambda: self._keep_runs(self.configs.current()) * ENTRIES_PER_RUN)

        return ScriptWrites(self.repo, self.managed_hooks, self.config().from_source, object_sets, activity,
                            engine=lambda: self._implicit_scripts)

    async def _change(self, write: Callable[[Any, ManagedHooks, ScriptEngine],
                                            tuple[str, dict[str, Any] | None, dict[str, Any] | None, Any]],
                      operation: str, actor: Any = None, resource: str = "user",
                      ) -> tuple[Any, dict[str, ImplicitResult]]:
        """One managed write from a front end: its hooks (``core/sync/managed_hooks.py``) and the write in one
        transaction (a hook that throws leaves nothing written), then implicit sync, then ``onSync``."""
        from core.repo.activity import ENTRIES_PER_RUN, Actor, activity_entry

        loaded = self.configs.current()  # this change's look at the files, handed down
        mappings = self.config(loaded).from_source(f"managed/{resource}")
        names = [n for m in mappings for n in (m.source, m.target)]
        who = actor if actor is not None else Actor.local("sfsync")
        hooks = self.managed_hooks(resource, loaded)
        needed = self._needs_connector(names)
        sets: dict[str, ObjectSet] = {}

        def object_sets(name: str) -> ObjectSet:
            if name not in sets:
                connector, loop = self.implicit_connector.get() if self._needs_connector([name]) else (None, None)
                sets[name] = self._object_set(name, connector, loop, loaded)
            return sets[name]

        env = self.script_env("implicitSync", mappings, writes=True, user=who.user_id,
                              salesforce=(lambda: object_sets("system/salesforce/User")) if needed else None)
        writes = env.managed_writes = self._script_writes(who, object_sets)

        def recorded(repo: Any) -> Any:
            # the change and its activity entry commit together: an entry exists exactly when the change does
            engine = self._implicit_engine(env)
            with repo.transaction():
                object_id, old, new, value = write(repo, hooks, engine)
                repo.activity.add(activity_entry(f"managed/{resource}/{object_id}", operation, old, new, who),
                                  keep=lambda: self._keep_runs(loaded) * ENTRIES_PER_RUN)
            return object_id, old, new, value

        object_id, old, new, value = await self._in_worker(lambda: recorded(self.repo))
        if not mappings and not hooks.has("onSync"):
            return value, {}

        def work() -> dict[str, ImplicitResult]:
            engine = self._implicit_engine(env)
            with writes.syncing(resource, object_id):
                results = sync_object(mappings, engine, self.repo, object_sets, object_id, old, new) if mappings \
                    else {}
            action = {"CREATE": "notifyCreate", "DELETE": "notifyDelete"}.get(operation, "notifyUpdate")
            hooks.on_sync(engine, object_id, action, old, new, results,
                          request_of(operation.lower(), hooks.resource_name(object_id), new))
            return results

        return value, await self._in_worker(work)

    async def read_user(self, id: str, resource: str = "user") -> dict[str, Any]:
        """A managed user as front ends answer it: ``onRetrieve`` and ``onRead`` run (IDM's read)."""
        obj = await self._in_worker(lambda: self.repo.read(id, resource=resource))
        return await self.answer_read(obj, resource)

    async def answer_read(self, obj: dict[str, Any], resource: str = "user") -> dict[str, Any]:
        """``obj`` (just read) after ``onRetrieve`` and ``onRead`` (run in the implicit-sync thread, whose script
        engine they use); as it is when there are none."""
        hooks = self.managed_hooks(resource)
        if not hooks.has("onRetrieve", "onRead"):
            return obj

        def run() -> dict[str, Any]:
            engine = self._implicit_engine(self.script_env("read", [], writes=False))
            return hooks.on_read(engine, dict(obj), request_of("read", hooks.resource_name(obj.get("_id"))))

        return dict(await self._in_worker(run))

    def check_request(self, obj: dict[str, Any]) -> None:
        """The object a front end gives, checked against the schema before any hook runs (IDM's policy filter
        validates the request ahead of the managed object's hooks; the repository checks what is stored)."""
        schema = getattr(self.repo, "schema", None)
        if schema is not None:
            schema.check(obj)

    # ---- the sync service's actions (IDM's ``sync`` endpoint) -----------------------------------------
    def _mapping(self, name: str, loaded: ProjectConfig) -> Mapping:
        mappings = self.config(loaded).mappings
        for mapping in mappings:
            if mapping.name == name:
                return mapping
        known = ", ".join(m.name for m in mappings) or "none"
        raise UsageError(f"mapping: no mapping named {name!r} in conf/sync.json (known: {known})")

    async def _with_object_sets(self, names: Sequence[str], fn: Callable[[Any, Any], Any],
                                loaded: ProjectConfig) -> Any:
        """``fn(object_sets, scripts)`` in the implicit-sync thread, with its connector, object sets and script
        engine (as a managed change's implicit sync has them), configured by ``loaded``."""
        needed = self._needs_connector(names)

        def work() -> Any:
            connector, loop = self.implicit_connector.get() if needed else (None, None)
            sets: dict[str, ObjectSet] = {}

            def object_sets(name: str) -> ObjectSet:
                if name not in sets:
                    sets[name] = self._object_set(name, connector, loop, loaded)
                return sets[name]

            if self._implicit_scripts is None:
                self._implicit_scripts = ScriptEngine()
            return fn(object_sets, self._implicit_scripts)

        return await self._in_worker(work)

    async def perform_action(self, mapping: str, source_id: str, action: str,
                             target_id: str | None = None) -> ImplicitResult:
        """IDM's ``sync?_action=performAction``: ``action`` (one of the ten) for ``source_id`` through ``mapping``,
        whatever its situation (``core.sync.implicit.perform_action``); audited in ``audit/sync``."""
        from core.sync.actions import Action

        loaded = self.configs.current()
        m = self._mapping(mapping, loaded)
        try:
            chosen = Action(action.upper())
        except ValueError:
            raise UsageError(f"action: {action!r} is not one of {', '.join(a.value for a in Action)}") from None
        return await self._with_object_sets(
            [m.source, m.target],
            lambda sets, scripts: perform_action(m, scripts, self.repo, sets, source_id, chosen, target_id), loaded)

    async def notify(self, container: str, object_id: str, old: dict[str, Any] | None,
                     new: dict[str, Any] | None) -> list[dict[str, Any]]:
        """IDM's ``sync?_action=notifyCreate|notifyUpdate|notifyDelete``: the mappings whose source is ``container``
        (enableSync) run for that one object as implicit sync runs them (no object is written by the call
        itself); per mapping its outcome (IDM's ``syncDetails``). No mapping reads ``container``: nothing runs."""
        loaded = self.configs.current()
        mappings = self.config(loaded).from_source(container)
        if not mappings:
            return []
        names = [n for m in mappings for n in (m.source, m.target)]
        results = await self._with_object_sets(
            names, lambda sets, scripts: sync_object(mappings, scripts, self.repo, sets, object_id, old, new),
            loaded)
        return [r.to_dict() for r in results.values()]

    def delete_mapping_links(self, link_type: str) -> int:
        """IDM's ``repo/link?_action=command&commandId=delete-mapping-links&mapping=X``: every link of that type
        deleted (a mapping removed from sync.json keeps its links until then); how many."""
        repo = self.repo
        with repo.transaction():
            firsts = [link.first_id for link in repo.iter_links(link_type)]
            if firsts:
                repo.unlink_many(link_type, first_ids=firsts)
        return len(firsts)

    async def linked_resources(self, resource: str, object_id: str) -> list[dict[str, Any]]:
        """IDM's ``sync?_action=getLinkedResources``: each object linked to ``resource/object_id`` by a mapping
        whose source or target is ``resource``, once per link type, with ``mappings`` naming the mappings and the
        object's side; ``content`` is the linked object (null with ``error`` when it cannot be read)."""
        from core.sync.links import MappingLinks
        from core.sync.transform import LINK_QUALIFIER

        loaded = self.configs.current()
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for m in self.config(loaded).mappings:
            for side, other in (("source", m.target), ("target", m.source)):
                if (m.source if side == "source" else m.target) != resource:
                    continue
                links = MappingLinks(self.repo, m)
                ids = links.targets_of([object_id]) if side == "source" else links.sources_of([object_id])
                if object_id in ids:
                    entry = found.setdefault((m.link_type, f"{other}/{ids[object_id]}"), {
                        "resourceName": f"{other}/{ids[object_id]}", "content": None,
                        "linkQualifier": LINK_QUALIFIER, "linkType": m.link_type, "mappings": []})
                    entry["mappings"].append({"name": m.name, "type": side})
        entries = list(found.values())
        if not entries:
            return []

        def read(sets: Any, _scripts: Any) -> None:
            for entry in entries:
                name, _, linked_id = entry["resourceName"].rpartition("/")
                try:
                    entry["content"] = sets(name).read_many([linked_id]).get(linked_id)
                    if entry["content"] is None:
                        entry["error"] = f"{entry['resourceName']} not found"
                except SfsyncError as exc:
                    entry["error"] = str(exc)

        await self._with_object_sets([e["resourceName"].rpartition("/")[0] for e in entries], read, loaded)
        return entries

    # ---- one managed object beside its linked Salesforce record (the app's user screen) -----------------
    def remote_link(self, resource: str = "user") -> RemoteLink | None:
        """How ``managed/<resource>`` is linked to Salesforce, per sync.json (None: no mapping joins them)."""
        return remote_link(self.config(), f"managed/{resource}")

    async def user_detail(self, object_id: str, resource: str = "user") -> UserDetail:
        """The managed object, its link and the linked Salesforce record read live through the implicit-sync
        connector (only the compared fields); a failed read is kept in ``remote_error``, never raised."""
        name = f"managed/{resource}"
        config = self.config()
        user = await asyncio.to_thread(self.repo.read, object_id, resource=resource)
        detail = UserDetail(user, pairs=copied_pairs(config, name))
        link = remote_link(config, name)
        remote_id = None if link is None else \
            (await asyncio.to_thread(link.remote_ids, self.repo, [object_id])).get(object_id)
        if link is None or remote_id is None:
            return detail
        detail.link_type, detail.remote_id = link.link_type, remote_id
        fields = sorted({target for _, target in detail.pairs}) or None
        try:
            connector, loop = await asyncio.to_thread(self.implicit_connector.get)
            detail.remote = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                connector.get(link.sobject, remote_id, fields), loop))
        except Exception as exc:  # noqa: BLE001 - shown beside the managed side, which stays usable
            detail.remote_error = exc
        return detail

    # ``actor`` (a core.repo.activity.Actor) is who the activity audit names: the REST admin, or the OS user of
    # the app or the command line; without one, the OS user with origin "sfsync"
    async def create_user(self, obj: dict[str, Any], id: str | None = None, *, actor: Any = None,
                          ) -> tuple[dict[str, Any], dict[str, ImplicitResult]]:
        self.check_request(obj)
        return await self._change(lambda repo, hooks, engine: write_create(repo, hooks, engine, obj, id), "CREATE",
                                  actor)

    async def update_user(self, id: str, obj: dict[str, Any], rev: str | None = None, *, actor: Any = None,
                          ) -> tuple[dict[str, Any], dict[str, ImplicitResult]]:
        """Replace the user (``rev`` = If-Match), then implicit sync."""
        self.check_request(obj)
        return await self._change(lambda repo, hooks, engine: write_update(repo, hooks, engine, id, obj, rev),
                                  "UPDATE", actor)

    async def patch_user(self, id: str, operations: list[dict[str, Any]], rev: str | None = None, *,
                         actor: Any = None) -> tuple[dict[str, Any], dict[str, ImplicitResult]]:
        return await self._change(
            lambda repo, hooks, engine: write_patch(repo, hooks, engine, id, operations, rev), "PATCH", actor)

    async def delete_user(self, id: str, rev: str | None = None, *, actor: Any = None,
                          ) -> tuple[dict[str, Any], dict[str, ImplicitResult]]:
        return await self._change(lambda repo, hooks, engine: write_delete(repo, hooks, engine, id, rev), "DELETE",
                                  actor)
