"""Planner statistics for tables that grow in bulk: ANALYZE in the background as a table doubles.

A reconciliation into an empty repository COPYs 100,000 rows in a minute; PostgreSQL's autovacuum looks at a
table once a minute (``autovacuum_naptime``), so for most of the run the planner has no statistics and takes
``firstid = ANY(<a page of 2,000 ids>)`` as matching most of the table: a sequential scan of ``openidm.links``
per page, the run quadratic in its size (73 s of a 100,000-user run). With statistics it is an index scan.

So every committed insert is counted per table, and when the rows added since the table's last ANALYZE reach
the rows it had then (at least :data:`FIRST_ANALYZE`), one ANALYZE of that table runs on a thread and a
connection of its own (not the pool's): the page that crossed the mark does not wait for it, and ANALYZE's lock
(SHARE UPDATE EXCLUSIVE) never blocks the next page's COPY. Doubling keeps the total work linear (about two full
samples' worth over a table's growth); between ANALYZEs the planner scales the row count by the table's
current size, so the look-ups stay index scans.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

#: a table is first analyzed when this many rows were added (a smaller one is a cheap sequential scan)
FIRST_ANALYZE = 1000


class TableStatistics:
    """Counts the rows added to each table and ANALYZEs a table, in the background, each time it doubles."""

    def __init__(self, analyze: Callable[[str], None], reltuples: Callable[[str], float]) -> None:
        self._analyze = analyze
        self._reltuples = reltuples
        self._lock = threading.Lock()
        self._base: dict[str, float] = {}  # rows at the table's last ANALYZE (as far as this process knows)
        self._added: dict[str, int] = {}  # rows added (committed) since then
        self._threads: dict[str, threading.Thread] = {}
        self.analyzed: dict[str, int] = {}  # ANALYZEs run by this process, per table (for tests and benchmarks)

    def committed(self, added: Mapping[str, int]) -> None:
        """Rows added to tables by a transaction that has committed; starts the ANALYZEs now due."""
        due = []
        with self._lock:
            for table, n in added.items():
                if n <= 0:
                    continue
                if table not in self._base:
                    self._base[table] = max(0.0, self._reltuples(table))
                self._added[table] = self._added.get(table, 0) + n
                running = self._threads.get(table)
                if self._added[table] >= max(FIRST_ANALYZE, self._base[table]) and \
                        (running is None or not running.is_alive()):
                    self._base[table] += self._added[table]
                    self._added[table] = 0
                    thread = threading.Thread(target=self._run, args=(table,), name=f"analyze {table}", daemon=True)
                    self._threads[table] = thread
                    due.append(thread)
        for thread in due:
            thread.start()

    def _run(self, table: str) -> None:
        try:
            self._analyze(table)
        except Exception as exc:  # statistics are an optimisation: a failure (the pool closing) costs speed only
            log.debug("ANALYZE %s failed: %s", table, exc)
            return
        with self._lock:
            self.analyzed[table] = self.analyzed.get(table, 0) + 1

    def wait(self, timeout: float | None = None) -> None:
        """Until the ANALYZEs started so far have ended (before closing the pool; tests)."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)


def reltuples_query(conn: Any, table: str) -> float:
    """The planner's row count of ``table`` (``-1`` when it was never analyzed)."""
    row = conn.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (table,)).fetchone()
    return float(row[0]) if row and row[0] is not None else -1.0
