"""``SchedulerThread``: a :class:`~core.schedule.scheduler.Scheduler` on a thread with its own event loop, so a
server (``sfsync serve``) runs the project's schedules beside its requests without sharing its loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from core.errors import ConfigError
from core.schedule.scheduler import Scheduler


class SchedulerThread:
    """``start()`` runs the project's schedules in the background; ``stop()`` ends them (firings still running
    are cancelled: their runs end CANCELED) and closes what it opened."""

    def __init__(self, project: Any, *, on_fire: Callable[[str], None] | None = None,
                 on_error: Callable[[ConfigError], None] | None = None) -> None:
        self.project = project
        self._options = {"on_fire": on_fire, "on_error": on_error}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.scheduler: Scheduler | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="sfsync-scheduler", daemon=True)

    def start(self) -> SchedulerThread:
        self._thread.start()
        self._ready.wait(30)
        return self

    def _main(self) -> None:
        from core.sync.service import SyncService

        service = SyncService(self.project)
        try:
            asyncio.run(self._run(service))
        finally:
            service.close()

    async def _run(self, service: Any) -> None:
        self._loop = asyncio.get_running_loop()
        self.scheduler = Scheduler.for_project(self.project, service=service, **self._options)
        self._ready.set()
        await self.scheduler.run()

    def stop(self, timeout: float = 60) -> None:
        if self._loop is not None and self.scheduler is not None:
            try:
                self._loop.call_soon_threadsafe(self.scheduler.stop)
            except RuntimeError:  # the loop has already ended
                pass
        self._thread.join(timeout)
