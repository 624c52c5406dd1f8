"""Committing reconciliation pages in a second thread while the engine decides the next one; a remote target's
writes sent a few pages deep, so the network never idles between pages."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

#: pages whose remote writes may be on the network at once (each a batch of calls bounded by the connector)
SEND_DEPTH = 2


class PageWriter:
    """Commits a page in a second thread while the engine decides the next one.

    SQLite does its inserts with the GIL released, so on two cores a page's commit overlaps the next page's
    Python work. Commits run one at a time, in the order the pages were handed over. Without a sender, depth
    one: the engine waits for page N's commit before handing over page N+1 (and checks for a cancel there),
    and before any stage change, so progress and stages stay in order. Page N+1 is decided against the state
    before page N's commit; its records are other sources, and the repository's unique constraints still
    refuse a duplicate. Without a pool, pages commit in the caller's thread.

    With a sender (a remote target: :meth:`submit`'s ``send`` writes the page to Salesforce), each page's
    sending starts when it is handed over, in a thread of its own, and up to :data:`SEND_DEPTH` pages are in
    flight: page N+1's calls queue behind page N's in the connector, which keeps its bounded number of calls
    on the network across the pages; page N's commit (links, audit) runs once its sending is done, still in
    order. A page whose writes share a key (a target id) with a page in flight waits for it first, so one
    target's writes never overtake each other. After a failure no later page is committed (their sending
    is still waited for: nothing keeps running once the run has ended).
    """

    def __init__(self, pool: ThreadPoolExecutor | None, *, sending: bool = False) -> None:
        self._pool = pool
        #: the threads that send pages' remote writes (its own, shut down by :meth:`close`)
        self._sender = ThreadPoolExecutor(SEND_DEPTH, thread_name_prefix="sfsync-send") \
            if sending and pool is not None else None
        self._owned = False
        self._pending: deque[tuple[Future[None], frozenset[Any]]] = deque()
        self._failed = False

    @property
    def parallel(self) -> bool:
        """Whether pages commit in the second thread (else :meth:`submit` commits in the caller's)."""
        return self._pool is not None

    @property
    def depth(self) -> int:
        """Pages that may be in flight at once (handed over, not yet committed)."""
        return SEND_DEPTH if self._sender is not None else 1

    def submit(self, fn: Callable[..., None], *args: Any, send: Callable[[], None] | None = None,
               keys: Collection[Any] = ()) -> None:
        """Hand over a page: ``send()`` (its remote writes, if any) then ``fn(*args)`` (its commit). Returns once
        it is under way; waits first for the oldest page when :attr:`depth` pages are in flight, and for any
        page in flight that writes one of ``keys``. An earlier page's error is raised here."""
        keyset = frozenset(keys)
        while self._pending and (len(self._pending) >= self.depth
                                 or any(keyset & held for _, held in self._pending)):
            self._wait_oldest()
        if self._pool is None:
            if send is not None:
                send()
            fn(*args)
            return
        sending = None
        if send is not None and self._sender is not None:
            sending = self._sender.submit(send)
        elif send is not None:
            fn = _after(send, fn)
        self._pending.append((self._pool.submit(self._commit, sending, fn, *args), keyset))

    def _commit(self, sending: Future[None] | None, fn: Callable[..., None], *args: Any) -> None:
        """In the commit thread: the page's sending awaited, then its commit, unless an earlier page failed."""
        try:
            if sending is not None:
                sending.result()
            if self._failed:
                raise _Skipped("an earlier page failed")
            fn(*args)
        except BaseException:
            self._failed = True
            raise

    def _wait_oldest(self) -> None:
        future, _ = self._pending.popleft()
        try:
            future.result()
        except BaseException:
            self._failed = True
            raise

    def wait(self) -> None:
        """Until every page in flight is committed; the first error (if any) is raised here."""
        while self._pending:
            self._wait_oldest()
        self._failed = False

    def drain(self) -> None:
        """Wait, ignoring the pages' errors (the run is failing already)."""
        while self._pending:
            try:
                self._wait_oldest()
            except Exception:  # noqa: BLE001 - the first error is the one reported
                log.debug("commit after a failure failed too", exc_info=True)
        self._failed = False   # what is handed over next (a thread's clean-up) runs again

    def close(self) -> None:
        self.drain()
        if self._sender is not None:
            self._sender.shutdown(wait=True)
        if self._pool is not None and self._owned:
            self._pool.shutdown(wait=True)

    @classmethod
    def owning(cls, *, sending: bool = False) -> PageWriter:
        """A writer with its own commit thread (and, ``sending``, its own threads to send remote writes)."""
        writer = cls(ThreadPoolExecutor(1, thread_name_prefix="sfsync-commit"), sending=sending)
        writer._owned = True
        return writer


class _Skipped(Exception):
    """A page not committed because an earlier one failed (never the error reported)."""


def _after(first: Callable[[], None], then: Callable[..., None]) -> Callable[..., None]:
    def both(*args: Any) -> None:
        first()
        then(*args)
    return both
