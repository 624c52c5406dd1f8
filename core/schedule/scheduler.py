"""The ``Scheduler``: fires a project's schedules, once per fire time across every process on the project.

How a schedule fires (each pass, :meth:`Scheduler.tick`):

1. The files are read again when one changed (``conf/schedule-*.json``, by name, size and mtime); a broken
   one is reported once (``on_error``) and the others go on.
2. A schedule's state lives in the repository (``Repository.schedules``): an *anchor* (when a process first
   saw it: its times start after that), the last fire time claimed, paused or not, the last result. Every
   process on the project reads the same state.
3. The fire times in ``(last fire, now]`` are due. The earliest more than :data:`MISFIRE_THRESHOLD` late (60 s,
   Quartz's default) is a misfire: ``fireAndProceed`` fires once now for all of them, ``doNothing`` drops them
   (recorded as the last result) and waits for the next time. On time, the newest due time fires.
4. Firing claims ``(schedule, fire time)`` in the repository in one transaction (a UNIQUE row): the process that
   inserts it fires, any other skips it. So two schedulers (``sfsync serve`` and ``sfsync scheduler``, or two
   machines on one repository) fire each time once.
5. A reconcile runs ``SyncService.reconcile(mapping)`` as a task (the scheduler goes on ticking). When the
   mapping's run lock is held (a run is ACTIVE anywhere) the firing is ``SKIPPED`` with "skipped: <mapping> still
   running" if ``concurrentExecution`` is false (IDM's advice for recon), else ``FAILED`` with the lock's reason.
   A liveSync firing runs one tick, ``SyncService.livesync(source)`` (:mod:`core.sync.livesync`); a service runs
   its ticks one at a time. The result is stored as the fire's record and the schedule's ``lastResult``.

Time comes from an injectable :class:`Clock` (``now()`` and ``sleep_until()``), so tests run the loop on a
fake clock without sleeping. Disabled schedules lose their state (enabled again, they start afresh, as IDM
re-adds a job); paused ones keep it, so on resume their misfire policy applies to the times missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from core.errors import ConfigError, SfsyncError
from core.schedule.config import Schedule, load_schedule, schedule_files, schedule_id

log = logging.getLogger("sfsync.schedule")

MISFIRE_THRESHOLD = timedelta(seconds=60)
#: the longest the loop sleeps without looking again (files changed, paused, another process fired)
POLL = timedelta(seconds=5)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(moment: datetime | None) -> str | None:
    """IDM's date form in job objects: UTC with milliseconds."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _after(state: dict[str, Any] | None, anchor: datetime) -> datetime:
    """Fire times after this are still to come: the last one fired, else just before the anchor (a schedule
    first seen exactly on one of its times fires it)."""
    if state and state["lastFire"] is not None:
        return from_ms(state["lastFire"])
    return anchor - timedelta(milliseconds=1)


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Return at ``when`` or as soon as ``wake`` is set."""


class SystemClock:
    """The real clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), delay)


@dataclass
class FireResult:
    """What one firing did: ``status`` SUCCESS, FAILED or SKIPPED, a message, the run it started."""

    status: str
    message: str
    recon_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"status": self.status, "message": self.message}
        if self.recon_id:
            out["reconId"] = self.recon_id
        return out


Invoker = Callable[[Schedule], Awaitable[FireResult]]


class SyncInvoker:
    """Runs what a schedule invokes through :class:`~core.sync.service.SyncService`."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._livesyncs: set[str] = set()  # sources with a tick in progress here

    async def __call__(self, schedule: Schedule) -> FireResult:
        from core.repo.errors import Conflict

        if schedule.action == "liveSync":
            return await self._livesync(schedule)
        mapping = schedule.target
        try:
            run = await self.service.reconcile(mapping)
        except Conflict as exc:
            if not schedule.config.concurrentExecution:
                return FireResult("SKIPPED", f"skipped: {mapping} still running")
            return FireResult("FAILED", str(exc))
        except SfsyncError as exc:
            return FireResult("FAILED", str(exc))
        state = run.get("state")
        message = f"reconcile {mapping}: {state}"
        if run.get("failureReason"):
            message += f" ({run['failureReason']})"
        return FireResult("SUCCESS" if state == "SUCCESS" else "FAILED", message, run.get("_id"))


    async def _livesync(self, schedule: Schedule) -> FireResult:
        """One liveSync tick of the schedule's source (``SyncService.livesync``); with ``concurrentExecution``
        false, a firing while this process's previous tick of the source still runs is SKIPPED (another
        process's tick racing this one loses its page to the stage's revision check and FAILS)."""
        source = schedule.target
        if source in self._livesyncs and not schedule.config.concurrentExecution:
            return FireResult("SKIPPED", f"skipped: liveSync of {source} still running")
        self._livesyncs.add(source)
        try:
            answer = await self.service.livesync(source)
        except SfsyncError as exc:
            return FireResult("FAILED", str(exc))
        finally:
            self._livesyncs.discard(source)
        tick = answer.get("sfsync") or {}
        message = (f"liveSync {schedule.target}: {tick.get('status')}, {tick.get('changes', 0)} change(s), "
                   f"token {(answer.get('connectorData') or {}).get('syncToken')}")
        if tick.get("message"):
            message += f" ({tick['message']})"
        return FireResult("SUCCESS" if tick.get("status") == "SUCCESS" else "FAILED", message)


@dataclass
class Firing:
    """A firing started by this process."""

    schedule: Schedule
    fire_time: datetime
    started: datetime
    missed: int = 0
    task: asyncio.Task[FireResult] | None = field(default=None, repr=False)


class Scheduler:
    """Fires the schedules of ``conf_dir`` with state in ``repo`` (see the module)."""

    def __init__(self, conf_dir: Path, repo: Any, invoke: Invoker, *, clock: Clock | None = None,
                 mappings: Callable[[], list[str] | None] | None = None,
                 on_fire: Callable[[str], None] | None = None,
                 on_error: Callable[[ConfigError], None] | None = None) -> None:
        self.conf_dir = conf_dir
        self.repo = repo
        self.invoke = invoke
        self.clock: Clock = clock or SystemClock()
        self._mappings = mappings or (lambda: None)
        self.on_fire = on_fire or (lambda line: log.info("%s", line))
        self.on_error = on_error or (lambda exc: log.error("%s", exc))
        self.schedules: dict[str, Schedule] = {}
        self.errors: dict[str, ConfigError] = {}
        self._seen: dict[Path, tuple[int, int]] = {}
        self.running: dict[str, Firing] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    @classmethod
    def for_project(cls, project: Any, *, service: Any = None, **options: Any) -> Scheduler:
        """Over ``project``'s files and repository, firing through ``service`` (a SyncService; made when None)."""
        if service is None:
            from core.sync.service import SyncService

            service = SyncService(project)

        def mappings() -> list[str] | None:
            try:
                return [m.name for m in service.mappings()]
            except ConfigError:
                return None  # sync.json itself is broken: a reconcile's mapping is checked when it fires

        return cls(project.conf_dir, service.repo, SyncInvoker(service), mappings=mappings, **options)

    # ---- files -------------------------------------------------------------------------------------------
    def load(self) -> list[ConfigError]:
        """Read the schedule files again if any changed; the errors of files newly found broken."""
        paths = schedule_files(self.conf_dir)
        seen: dict[Path, tuple[int, int]] = {}
        for path in paths:
            with contextlib.suppress(OSError):
                st = path.stat()
                seen[path] = (st.st_mtime_ns, st.st_size)
        if seen == self._seen:
            return []
        mappings = self._mappings()
        new_errors = []
        schedules: dict[str, Schedule] = {}
        errors: dict[str, ConfigError] = {}
        for path in seen:
            sid = schedule_id(path)
            try:
                schedules[sid] = load_schedule(path, mappings=mappings)
            except ConfigError as exc:
                errors[sid] = exc
                if self._seen.get(path) != seen[path] or sid not in self.errors:
                    new_errors.append(exc)
                    self.on_error(exc)
        self.schedules, self.errors, self._seen = schedules, errors, seen
        return new_errors

    # ---- state ---------------------------------------------------------------------------------------------
    def _state(self, schedule: Schedule, now: datetime) -> dict[str, Any] | None:
        """The schedule's shared state (registered now when new); None while disabled (its state dropped)."""
        if not schedule.config.enabled:
            if self.repo.schedules.get(schedule.id) is not None:
                self.repo.schedules.forget(schedule.id)
            return None
        return self.repo.schedules.register(schedule.id, to_ms(now))

    def next_fire(self, schedule: Schedule, now: datetime | None = None) -> datetime | None:
        """When ``schedule`` fires next (a due time not yet fired counts as now); None when disabled or done."""
        now = now or self.clock.now()
        state = self.repo.schedules.get(schedule.id)
        if not schedule.config.enabled:
            return None
        anchor = from_ms(state["anchor"]) if state else now
        return schedule.next_after(_after(state, anchor), anchor)

    # ---- firing --------------------------------------------------------------------------------------------
    async def tick(self) -> list[Firing]:
        """One pass: claim and start every due firing; the firings this process started."""
        self.load()
        now = self.clock.now()
        started = []
        for schedule in list(self.schedules.values()):
            firing = await asyncio.to_thread(self._decide, schedule, now)
            if firing is not None:
                firing.task = asyncio.create_task(self._fire(firing), name=f"sfsync-schedule-{schedule.id}")
                self.running[f"{schedule.id}@{to_ms(firing.fire_time)}"] = firing
                started.append(firing)
        return started

    def _decide(self, schedule: Schedule, now: datetime) -> Firing | None:
        state = self._state(schedule, now)
        if state is None or state["paused"]:
            return None
        anchor = from_ms(state["anchor"])
        due = schedule.due(_after(state, anchor), now, anchor)
        if due is None:
            return None
        first, last, count = due
        misfired = now - first > MISFIRE_THRESHOLD
        if misfired and schedule.config.misfirePolicy == "doNothing" and now - last > MISFIRE_THRESHOLD:
            result = {"status": "SKIPPED", "fireTime": iso(last), "ended": iso(now),
                      "message": f"missed {count} fire time{'s' * (count != 1)} from {iso(first)} to {iso(last)} "
                                 f"(misfirePolicy doNothing: waiting for the next time)"}
            if self.repo.schedules.pass_over(schedule.id, to_ms(last), result):
                self.on_fire(f"{iso(now)} {schedule.id}: {result['message']}")
            return None
        missed = count - 1
        if not self.repo.schedules.claim(schedule.id, to_ms(last), to_ms(now), missed=missed):
            return None  # another process fired it
        return Firing(schedule, last, now, missed)

    async def _fire(self, firing: Firing) -> FireResult:
        schedule = firing.schedule
        late = f" (late: {firing.missed} missed fire time{'s' * (firing.missed != 1)}, misfirePolicy " \
               f"fireAndProceed)" if firing.missed else ""
        self.on_fire(f"{iso(firing.started)} {schedule.id}: firing {schedule.action} {schedule.target} for "
                     f"{iso(firing.fire_time)}{late}")
        try:
            result = await self.invoke(schedule)
        except asyncio.CancelledError:
            result = FireResult("FAILED", "stopped with the scheduler")
            await asyncio.to_thread(self._record, firing, result)
            raise
        except Exception as exc:  # noqa: BLE001 - a firing's failure is its result, never the scheduler's end
            log.exception("schedule %s failed", schedule.id)
            result = FireResult("FAILED", f"{type(exc).__name__}: {exc}")
        await asyncio.to_thread(self._record, firing, result)
        self.on_fire(f"{iso(self.clock.now())} {schedule.id}: {result.status} {result.message}")
        return result

    def _record(self, firing: Firing, result: FireResult) -> None:
        now = self.clock.now()
        record = {**result.to_dict(), "fireTime": iso(firing.fire_time), "started": iso(firing.started),
                  "ended": iso(now)}
        if firing.missed:
            record["missed"] = firing.missed
        try:
            self.repo.schedules.finish(firing.schedule.id, to_ms(firing.fire_time), record, to_ms(now))
        finally:
            self.running.pop(f"{firing.schedule.id}@{to_ms(firing.fire_time)}", None)

    async def drain(self) -> None:
        """Wait for every firing this process started."""
        tasks = [f.task for f in list(self.running.values()) if f.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- the loop ------------------------------------------------------------------------------------------
    def _next_wake(self, now: datetime) -> datetime:
        wake = now + POLL
        for schedule in self.schedules.values():
            nxt = self.next_fire(schedule, now)
            if nxt is not None and nxt < wake:
                wake = max(nxt, now)
        return wake

    async def run(self) -> None:
        """Tick until :meth:`stop`; then cancel the firings still running (their runs end CANCELED)."""
        self._wake = asyncio.Event()
        try:
            while not self._stopping:
                await self.tick()
                if self._stopping:
                    break
                wake = await asyncio.to_thread(self._next_wake, self.clock.now())
                await self.clock.sleep_until(wake, self._wake)
                self._wake.clear()
        finally:
            for firing in list(self.running.values()):
                if firing.task is not None:
                    firing.task.cancel()
            await self.drain()

    def stop(self) -> None:
        """Ask :meth:`run` to end (call on its loop, e.g. from a signal handler or ``call_soon_threadsafe``)."""
        self._stopping = True
        self._wake.set()
