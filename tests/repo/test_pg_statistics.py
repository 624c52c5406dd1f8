"""Planner statistics after a bulk load (core/repo/pgstats.py): the PostgreSQL repository ANALYZEs a table in
the background as it doubles, so a page's look-up (``firstid = ANY(<2,000 ids>)``) is an index scan, not a
sequential scan of the whole table per page (what made a 100,000-user reconciliation quadratic).

Autovacuum is switched off on the tables here, so only sfsync's own ANALYZE can give the planner statistics;
the first test shows that without it the planner does scan the table, so the others can fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from core.repo import pgstats
from core.repo.pgrepository import PgRepository

PAGE = 2000
LOOKUP = ("SELECT firstid, secondid FROM openidm.links WHERE linktype = %s AND linkqualifier = %s "
          "AND firstid = ANY(%s)")


@pytest.fixture
def repo(pg_url: str) -> Iterator[PgRepository]:
    r = PgRepository.open(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for table in ("openidm.links", "openidm.managedobjects"):
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")  # type: ignore[arg-type]
    yield r
    r.close()


def _load_links(repo: PgRepository, pages: int) -> None:
    for p in range(pages):
        with repo.transaction():
            repo.link_many("m", [(f"src-{p}-{i}", f"tgt-{p}-{i}") for i in range(PAGE)])


def _plan(url: str, sql: str, params: tuple[Any, ...]) -> str:
    """The plan's nodes (type, index, index condition), as one string."""
    with psycopg.connect(url) as conn:
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()[0]  # type: ignore[index]
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        found.append(f"{node['Node Type']} {node.get('Index Name', '')} {node.get('Index Cond', '')}".strip())
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"])
    return "; ".join(found)


def _by_index(plan: str, index: str, column: str) -> bool:
    """Whether the plan reads the table only through ``index`` with ``column`` in its condition."""
    return "Seq Scan" not in plan and any(index in node and column in node.split(index, 1)[1]
                                          for node in plan.split("; "))


def _reltuples(url: str, table: str) -> float:
    with psycopg.connect(url) as conn:
        return float(conn.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
                                  (table,)).fetchone()[0])  # type: ignore[index]


def _page_ids(pages: int) -> list[str]:
    return [f"src-{pages - 1}-{i}" for i in range(PAGE)]


@pytest.mark.backends("postgresql")
def test_without_statistics_the_planner_scans_the_table(repo: PgRepository, pg_url: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(pgstats, "FIRST_ANALYZE", 10**9)  # sfsync never ANALYZEs: what the fix is for
    _load_links(repo, 10)
    repo.db.statistics.wait()
    assert repo.db.statistics.analyzed == {}
    assert _reltuples(pg_url, "openidm.links") < 0  # never analyzed
    # a sequential scan, or a walk of the whole other index (linktype and linkqualifier are the same everywhere)
    assert not _by_index(_plan(pg_url, LOOKUP, ("m", "default", _page_ids(10))), "idx_links_first", "firstid")


@pytest.mark.backends("postgresql")
def test_a_bulk_load_is_analyzed_and_looked_up_by_index(repo: PgRepository, pg_url: str) -> None:
    _load_links(repo, 10)
    repo.db.statistics.wait()
    assert repo.db.statistics.analyzed.get("openidm.links", 0) >= 1
    assert _reltuples(pg_url, "openidm.links") >= 2 * PAGE
    plan = _plan(pg_url, LOOKUP, ("m", "default", _page_ids(10)))
    assert _by_index(plan, "idx_links_first", "firstid"), plan
    # and the links really come back through that plan
    assert len(repo.links.other_sides("m", _page_ids(10))) == PAGE


@pytest.mark.backends("postgresql")
def test_managed_objects_are_analyzed_as_they_grow(pg_url: str, schema: Any) -> None:
    repo = PgRepository.open(pg_url, schema)
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE openidm.managedobjects SET (autovacuum_enabled = false)")
        for p in range(5):
            repo.create_many([{"userName": f"u{p}-{i}", "givenName": "G", "sn": "S", "mail": f"u{p}-{i}@example.com"}
                              for i in range(PAGE)])
        repo.db.statistics.wait()
        assert repo.db.statistics.analyzed.get("openidm.managedobjects", 0) >= 1
        names = [f"u4-{i}" for i in range(PAGE)]
        plan = _plan(pg_url, "SELECT objectid FROM openidm.managedobjects WHERE objecttypes_id = %s "
                     "AND lower((fullobject->>'userName') COLLATE \"C\") = ANY(%s)", (repo.users.type_id, names))
        assert _by_index(plan, "ux_sfsync_user_username", "userName"), plan
        assert sum(len(v) for v in repo.find_by("userName", names).values()) == PAGE
    finally:
        repo.close()


@pytest.mark.backends("postgresql")
def test_rows_of_a_rolled_back_transaction_are_not_counted(repo: PgRepository, pg_url: str) -> None:
    with pytest.raises(RuntimeError), repo.transaction():
        repo.link_many("m", [(f"s{i}", f"t{i}") for i in range(3 * PAGE)])
        raise RuntimeError("the page failed")
    repo.db.statistics.wait()
    assert repo.db.statistics.analyzed == {}
    assert repo.links.count("m") == 0
    _load_links(repo, 1)  # committed: 2,000 rows >= FIRST_ANALYZE
    repo.db.statistics.wait()
    assert repo.db.statistics.analyzed == {"openidm.links": 1}
