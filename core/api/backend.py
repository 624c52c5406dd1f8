"""What the REST handlers call: the project's core services, with threading decided in one place.

Why a separate layer: the handlers run on uvicorn's event loop and must never wait on a reconciliation or
on SQLite. So here:

- reads and writes of the repository run in worker threads (``run_in_threadpool``); the repository gives
  each thread its own SQLite connection (WAL), so readers never block each other or the recon's writer;
- reads run at most one per core at a time, one fewer per reconciliation this server is running (at least
  one). SQLite reads release the GIL, so more threads add no throughput; they only take turns at the
  interpreter from the engine. With 40 (anyio's default) a recon under 50 readers took 1.5-1.8x its
  unloaded time; bounded, about 1.2x, and with no recon running the readers got 1,300 answers a second
  instead of 950 (bench/bench_api.py, 2 cores);
- while a run this server started is going, each read slot also takes turns with it: after a read has
  answered, its slot stays idle for the read's own time x ``1/share - 1`` (``read_share_during_recon`` in
  sfsync.toml, 0.3 by default), so reads have at most that share of a slot, and the run keeps its pace
  (about 1.05x under the same 50 readers). Answers stay right and none waits for the run to end; under a
  flood they queue longer. Starting, cancelling and waiting for a run skip the readers' queue;
- a reconciliation runs in its own thread with its own event loop, so however the engine spends its time
  (scripts, SQLite, HTTP) the server's loop stays free; ``waitForCompletion`` just awaits that thread;
- implicit sync (``create_user`` …) goes through :class:`~core.sync.service.SyncService`, as every front end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool

from core.api.crest import QueryParameters
from core.api.errors import ApiError
from core.errors import ConfigError
from core.runner import Cancel, Run, start

if TYPE_CHECKING:
    from core.config import ConfigWatcher, Project
    from core.repo import RepositoryApi
    from core.sync import ImplicitResult, SyncService

log = logging.getLogger("sfsync.api")


def _actor() -> Any:
    """Who the activity audit names for this request's change (the authenticated admin)."""
    from core.api.activity_routes import request_actor

    return request_actor()


@dataclass
class _Recon:
    """A run this server started: its mapping, its handle (:func:`core.runner.start`), its id once recorded."""

    mapping: str
    run: Run[dict[str, Any]]
    run_id: concurrent.futures.Future[str]

    def done(self) -> bool:
        return self.run.done()


class ApiBackend:
    """The core services behind the REST API for one project (opened lazily, shared by all requests).

    ``configs`` is the server's watcher of the project's files, shared with its SyncService (and the
    scheduler's): each request's operation takes its current look, read again only after a file changed."""

    def __init__(self, project: Project, *, sync: SyncService | None = None,
                 config: ConfigWatcher | None = None) -> None:
        from core.config import ConfigWatcher

        self.project = project
        self.configs = config or (sync.configs if sync is not None else ConfigWatcher(project))
        self._sync = sync
        self._owns_sync = sync is None
        self._open_lock = threading.Lock()
        self._recons: dict[str, _Recon] = {}
        self._readers = anyio.CapacityLimiter(max(1, os.cpu_count() or 1))
        self._read_pause = 0.0  # 1/share - 1 while a run this server started is going; else 0
        self._held: dict[object, asyncio.TimerHandle] = {}  # read slots in their pause after a read

    def _resize_readers(self) -> None:
        """Called on the event loop whenever a run starts or ends: reads may run a core each, less a core per
        reconciliation running here; when none is left, the pause ends and held slots come back."""
        running = sum(not r.done() for r in self._recons.values())
        self._readers.total_tokens = max(1, (os.cpu_count() or 1) - running)
        if not running:
            self._read_pause = 0.0
            for borrower, handle in list(self._held.items()):
                handle.cancel()
                self._release(borrower)

    async def _read(self, func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)`` in a worker thread, within the readers' share of the machine (see the module).

        The answer goes out at once; while a run is going, the slot stays taken for the read's own time x
        ``1/share - 1`` after it (a read that raised too), and is given back early if the run ends first.
        """
        borrower = object()
        await self._readers.acquire_on_behalf_of(borrower)
        started = time.perf_counter()
        try:
            return await anyio.to_thread.run_sync(func, *args)
        finally:
            pause = (time.perf_counter() - started) * self._read_pause
            if pause > 0:
                self._held[borrower] = asyncio.get_running_loop().call_later(pause, self._release, borrower)
            else:
                self._readers.release_on_behalf_of(borrower)

    def _release(self, borrower: object) -> None:
        """A held slot's pause is over (or its run ended): give it to the next read."""
        self._held.pop(borrower, None)
        self._readers.release_on_behalf_of(borrower)

    @classmethod
    def open(cls, project: Project) -> ApiBackend:
        return cls(project)

    @property
    def sync(self) -> SyncService:
        if self._sync is None:
            with self._open_lock:
                if self._sync is None:
                    from core.sync import SyncService

                    self._sync = SyncService(self.project, config=self.configs)
        return self._sync

    @property
    def repo(self) -> RepositoryApi:
        return self.sync.repo

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        await asyncio.to_thread(self.warm_up)
        yield
        await self.aclose()

    def warm_up(self) -> None:
        """Load, before the first request, what a reconciliation would otherwise load inside its run: the sync
        engine and the Salesforce connector's modules, the repository, and the connector's TLS context
        (building it reads the system's and certifi's CA stores, ~150 ms; it is shared by every later
        connector). Otherwise the first run pays ~0.2-0.5 s more, the more so with readers competing for
        the interpreter. Best effort: a project without a usable connector still serves."""
        try:
            self.sync.repo  # noqa: B018 - opens (and migrates) the repository now
            from core.salesforce import SalesforceConnector

            async def build() -> None:
                async with SalesforceConnector.from_config(self.configs.current()):
                    pass

            start(lambda _cancel: build(), name="sfsync-api-warm-up").wait()
        except Exception as exc:  # noqa: BLE001 - warming up is an optimisation, never a reason not to serve
            log.debug("warm-up skipped: %s", exc)

    def cancel_started_runs(self) -> None:
        """Ask every run this server started to stop (only sets flags: safe from a signal handler)."""
        for run_id, recon in list(self._recons.items()):
            if not recon.done():
                self.sync.cancel(run_id)

    async def aclose(self) -> None:
        """Cancel the runs this server started (they end CANCELED), wait for their threads, close the core."""
        active = [(run_id, t) for run_id, t in self._recons.items() if not t.done()]
        for run_id, _ in active:
            with contextlib.suppress(Exception):
                await run_in_threadpool(self.sync.cancel, run_id)
        for _, recon in active:
            await asyncio.to_thread(recon.run.join, 30)
        if self._owns_sync and self._sync is not None:
            await asyncio.to_thread(self._sync.close)

    # --- system ---------------------------------------------------------------------------------------

    async def test_connector(self) -> dict[str, Any]:
        """IDM's test object; a provisioner file that cannot even be read is ``ok: false`` with the reason,
        as IDM reports a connector it cannot configure, rather than an error status."""
        try:
            return await self.sync.test_connector()
        except ConfigError as exc:
            from core.salesforce import CONFIG_NAME, DISPLAY_NAME

            return {"name": "salesforce", "enabled": False, "config": CONFIG_NAME, "displayName": DISPLAY_NAME,
                    "objectTypes": [], "ok": False, "error": str(exc)}

    async def livesync(self, source: str, *, allow_deletions: bool = False) -> dict[str, Any]:
        """One liveSync tick (``SyncService.livesync``) on a thread with its own loop, outside the readers'
        queue; the service runs ticks one at a time."""
        return await start(lambda _cancel: self.sync.livesync(source, allow_deletions=allow_deletions),
                           name="sfsync-api-livesync")

    # --- recon ----------------------------------------------------------------------------------------

    def _prepare_run(self, mapping: str) -> float:
        """A worker thread's part of starting a run: the mapping must exist; the pause per read while it
        runs (``1/share - 1``, from sfsync.toml)."""
        loaded = self.configs.current()
        names = self.sync.config(loaded).names()
        if mapping not in names:
            raise ApiError(400, f"mapping: no mapping named {mapping!r} in conf/sync.json "
                                f"(known: {', '.join(names) or 'none'})")
        share = loaded.settings.read_share_during_recon  # a bad value: ConfigError naming it
        return 1 / share - 1

    def _launch(self, mapping: str, read_pause: float, allow_deletions: bool = False,
                ids: list[str] | None = None) -> _Recon:
        """Start ``mapping``'s run on a thread with its own loop; ``run_id`` resolves once it is recorded.

        A mapping runs once at a time: a second request while this server's run of it is going is a 409 at
        once (the service would queue it behind the first, and the request would wait on that run). Called
        with no ``await`` between the check and the registration, so two requests cannot both pass.
        """
        for run_id, running in self._recons.items():
            if running.mapping == mapping and not running.done():
                raise ApiError(409, f"mapping {mapping} already has an active reconciliation {run_id}")
        sync = self.sync
        new_id = str(uuid.uuid4())
        recorded: concurrent.futures.Future[str] = concurrent.futures.Future()

        def settle(value: str | BaseException) -> None:  # the engine's thread or the run's
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                if isinstance(value, BaseException):
                    recorded.set_exception(value)
                else:
                    recorded.set_result(value)

        async def main(cancel: Cancel) -> dict[str, Any]:
            return await sync.reconcile(mapping, on_progress=lambda _run: settle(new_id), run_id=new_id,
                                        cancel=cancel.event, allow_deletions=allow_deletions, ids=ids)

        run = start(main, name=f"sfsync-api-recon-{mapping}")
        recon = self._recons[new_id] = _Recon(mapping, run, recorded)
        loop = asyncio.get_running_loop()

        def ended(future: concurrent.futures.Future[dict[str, Any]]) -> None:  # the run's thread
            error = future.exception()
            settle(error if error is not None else future.result()["_id"])  # a run that never saved a page
            with contextlib.suppress(RuntimeError):  # the server's loop already closed
                loop.call_soon_threadsafe(self._resize_readers)

        run.future.add_done_callback(ended)
        self._read_pause = read_pause
        self._resize_readers()
        return recon

    async def start_reconcile(self, mapping: str, *, allow_deletions: bool = False,
                              ids: list[str] | None = None) -> dict[str, Any]:
        """Start a run in the background; answer with its id and state once it is recorded."""
        read_pause = await run_in_threadpool(self._prepare_run, mapping)
        self._forget_finished()
        recon = self._launch(mapping, read_pause, allow_deletions, ids)
        run_id = await asyncio.wrap_future(recon.run_id)
        run = await self.run(run_id, control=True)
        return {"_id": run_id, "state": run["state"]}

    async def reconcile(self, mapping: str, *, allow_deletions: bool = False,
                        ids: list[str] | None = None) -> dict[str, Any]:
        """Run to the end (``waitForCompletion=true``) without holding the event loop."""
        read_pause = await run_in_threadpool(self._prepare_run, mapping)
        self._forget_finished()
        recon = self._launch(mapping, read_pause, allow_deletions, ids)
        return await recon.run

    async def wait(self, run_id: str) -> dict[str, Any]:
        """The run once the thread this server started for it has ended (tests, shutdown)."""
        recon = self._recons.get(run_id)
        if recon is not None:
            await recon.run
        return await self.run(run_id, control=True)

    def _forget_finished(self) -> None:
        for run_id in [r for r, t in self._recons.items() if t.done()]:
            del self._recons[run_id]

    async def runs(self) -> list[dict[str, Any]]:
        """All kept runs, oldest first, as IDM lists them."""
        runs = await self._read(self.sync.runs, 1000)
        return list(reversed(runs))

    async def run(self, run_id: str, *, control: bool = False) -> dict[str, Any]:
        """One run; ``control`` (starting, cancelling, waiting) reads it outside the readers' queue, so a
        crowd of readers never delays a cancel."""
        run = await (run_in_threadpool(self.sync.run, run_id) if control else self._read(self.sync.run, run_id))
        if run is None:
            raise ApiError(404, f"Reconciliation with id {run_id} not found.")
        return run

    async def cancel(self, run_id: str) -> None:
        """Ask a run to stop at its next page; a finished run is left as it is (IDM answers SUCCESS too)."""
        run = await self.run(run_id, control=True)  # 404 for an unknown id
        if run["state"] != "ACTIVE":
            return
        if not await run_in_threadpool(self.sync.cancel, run_id):
            raise ApiError(409, f"Reconciliation {run_id} is running in another sfsync process; "
                                "cancel it there")

    # --- managed/user ---------------------------------------------------------------------------------

    @staticmethod
    def _query_request(params: QueryParameters) -> Any:
        from core.repo import QueryRequest

        return QueryRequest(query_filter=params.query_filter, fields=params.fields or (),
                            page_size=params.page_size, paged_results_cookie=params.paged_results_cookie,
                            paged_results_offset=params.paged_results_offset, sort_keys=params.sort_keys,
                            total_paged_results_policy=params.total_paged_results_policy)

    async def query_users(self, params: QueryParameters) -> dict[str, Any]:
        request = self._query_request(params)
        return await self._read(self.repo.query, request)

    async def read_user(self, user_id: str) -> dict[str, Any]:
        obj = await self._read(self.repo.read, user_id)
        return dict(await self.sync.answer_read(obj))  # IDM's read runs onRetrieve/onRead (managed_hooks.py)

    @staticmethod
    def _results(results: dict[str, ImplicitResult]) -> dict[str, Any]:
        """Each mapping's implicit-sync result as JSON, for the ``X-Sfsync-Implicit-Sync`` header."""
        return {name: r.to_dict() for name, r in results.items()}

    async def create_user(self, obj: dict[str, Any], user_id: str | None) -> tuple[dict[str, Any], dict]:
        created, results = await self.sync.create_user(obj, id=user_id, actor=_actor())
        return created, self._results(results)

    async def update_user(self, user_id: str, obj: dict[str, Any], rev: str | None) -> tuple[dict[str, Any], dict]:
        updated, results = await self.sync.update_user(user_id, obj, rev=rev, actor=_actor())
        return updated, self._results(results)

    async def upsert_user(self, user_id: str, obj: dict[str, Any]) -> tuple[dict[str, Any], dict, bool]:
        """PUT without If-Match/If-None-Match: update when the user exists, else create it (CREST)."""
        from core.repo import NotFound

        try:
            updated, results = await self.update_user(user_id, obj, None)
            return updated, results, False
        except NotFound:
            created, results = await self.create_user(obj, user_id)
            return created, results, True

    async def patch_user(self, user_id: str, operations: list[Any], rev: str | None) -> tuple[dict, dict]:
        patched, results = await self.sync.patch_user(user_id, operations, rev=rev, actor=_actor())
        return patched, self._results(results)

    async def delete_user(self, user_id: str, rev: str | None) -> tuple[dict[str, Any], dict]:
        deleted, results = await self.sync.delete_user(user_id, rev=rev, actor=_actor())
        return deleted, self._results(results)

    # --- audit ----------------------------------------------------------------------------------------

    async def query_audit(self, params: QueryParameters) -> dict[str, Any]:
        request = self._query_request(params)
        return await self._read(self.repo.audit.query_recon, request)

    async def audit_entry(self, entry_id: str) -> dict[str, Any]:
        entry = await self._read(self.repo.audit.get_recon, entry_id)
        if entry is None:
            raise ApiError(404, f"Audit entry audit/recon/{entry_id} not found")
        return entry

    async def query_sync_audit(self, params: QueryParameters) -> dict[str, Any]:
        request = self._query_request(params)
        return await self._read(self.repo.audit.query_sync, request)

    async def sync_audit_entry(self, entry_id: str) -> dict[str, Any]:
        entry = await self._read(self.repo.audit.get_sync, entry_id)
        if entry is None:
            raise ApiError(404, f"Audit entry audit/sync/{entry_id} not found")
        return entry

    # --- repo/link ------------------------------------------------------------------------------------

    async def query_links(self, params: QueryParameters) -> dict[str, Any]:
        request = self._query_request(params)
        return await self._read(self.repo.links.query, request)

    async def link(self, link_id: str) -> dict[str, Any]:
        link = await self._read(self.repo.links.get, link_id)
        if link is None:
            raise ApiError(404, f"Object repo/link/{link_id} not found")
        return link

    # --- audit/activity -------------------------------------------------------------------------------

    async def query_activity(self, params: QueryParameters) -> dict[str, Any]:
        request = self._query_request(params)
        return await self._read(self.repo.activity.query, request)

    async def activity_entry(self, entry_id: str) -> dict[str, Any]:
        entry = await self._read(self.repo.activity.get, entry_id)
        if entry is None:
            raise ApiError(404, f"Audit entry audit/activity/{entry_id} not found")
        return entry
