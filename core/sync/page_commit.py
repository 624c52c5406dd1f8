"""Committing a reconciliation page in a second thread while the engine decides the next one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class PageWriter:
    """Commits a page in a second thread while the engine decides the next one.

    SQLite does its inserts with the GIL released, so on two cores a page's commit overlaps the next page's
    Python work. Depth one: the engine waits for page N's commit before handing over page N+1 (and checks
    for a cancel there), and before any stage change, so progress and stages stay in order. Page N+1 is
    decided against the state before page N's commit; its records are other sources, and the repository's
    unique constraints still refuse a duplicate. Without a pool, pages commit in the caller's thread.
    """

    def __init__(self, pool: ThreadPoolExecutor | None) -> None:
        self._pool = pool
        self._owned = False
        self._pending: Future[None] | None = None

    @property
    def parallel(self) -> bool:
        """Whether pages commit in the second thread (else :meth:`submit` commits in the caller's)."""
        return self._pool is not None

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self.wait()
        if self._pool is None:
            fn(*args)
        else:
            self._pending = self._pool.submit(fn, *args)

    def wait(self) -> None:
        """Until the page in flight is committed; its error (if any) is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def drain(self) -> None:
        """Wait, ignoring the page's error (the run is failing already)."""
        try:
            self.wait()
        except Exception:  # noqa: BLE001 - the first error is the one reported
            log.debug("commit after a failure failed too", exc_info=True)

    def close(self) -> None:
        self.drain()
        if self._pool is not None and self._owned:
            self._pool.shutdown(wait=True)

    @classmethod
    def owning(cls) -> PageWriter:
        writer = cls(ThreadPoolExecutor(1, thread_name_prefix="sfsync-commit"))
        writer._owned = True
        return writer
