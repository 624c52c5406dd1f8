"""``SchedulerThread``: a :class:`~core.schedule.scheduler.Scheduler` run through :func:`core.runner.start`
(a thread with its own event loop), so a server (``sfsync serve``) runs the project's schedules beside its
requests without sharing its loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError
from core.runner import Cancel, Run, start
from core.schedule.scheduler import Scheduler

if TYPE_CHECKING:
    from core.config import ConfigWatcher


class SchedulerThread:
    """``start()`` runs the project's schedules in the background; ``stop()`` ends them (firings still running
    are cancelled: their runs end CANCELED) and closes what it opened."""

    def __init__(self, project: Any, *, on_fire: Callable[[str], None] | None = None,
                 on_error: Callable[[ConfigError], None] | None = None,
                 config: ConfigWatcher | None = None) -> None:
        self.project = project
        #: the project's files as its service sees them: the server's ConfigWatcher, shared (a new one if None)
        self.config = config
        self._options = {"on_fire": on_fire, "on_error": on_error}
        self.scheduler: Scheduler | None = None
        self._ready = threading.Event()
        self._run: Run[None] | None = None

    def start(self) -> SchedulerThread:
        self._run = start(self._main, name="sfsync-scheduler")
        self._ready.wait(30)
        return self

    async def _main(self, cancel: Cancel) -> None:
        from core.sync import SyncService

        service = SyncService(self.project, config=self.config)
        try:
            self.scheduler = Scheduler.for_project(self.project, service=service, **self._options)
            cancel.on_cancel(self.scheduler.stop)
            self._ready.set()
            await self.scheduler.run()
        finally:
            self._ready.set()
            service.close()

    def stop(self, timeout: float = 60) -> None:
        if self._run is not None:
            self._run.cancel()
            self._run.join(timeout)
