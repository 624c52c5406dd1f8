"""``insert_many``: a page inserted by one statement stores exactly what ``executemany`` would."""

from __future__ import annotations

import sqlite3

import pytest

from core.repo.db import insert_many

AWKWARD = [
    ("plain", "ascii text", None),
    ("quotes", 'say "hi" \\ and \'bye\'', 7),
    ("unicode", "Zoë Ørsted — 東京 🙂", -3),
    ("controls", "tab\tnew\nline\r\x01", 2**62),
    ("json-looking", '{"a": [1, 2]}', 0),
    ("empty", "", None),
]


def _table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT, n INTEGER)")
    return conn


@pytest.mark.parametrize("rows", [
    AWKWARD,
    [("nul", "before\x00after", 1)],  # JSON would carry it, but SQLite text functions stop at NUL: executemany
], ids=["one-statement", "nul-falls-back"])
def test_rows_come_back_exactly(rows):
    conn = _table()
    insert_many(conn, "t", ("k", "v", "n"), rows)
    got = conn.execute("SELECT k, v, n, typeof(v), typeof(n) FROM t ORDER BY rowid").fetchall()
    assert [(k, v, n) for k, v, n, *_ in got] == [tuple(r) for r in rows]
    assert all(tv in ("text", "null") and tn in ("integer", "null") for *_, tv, tn in got)


def test_a_unique_violation_writes_nothing_of_the_page():
    conn = _table()
    conn.execute("INSERT INTO t VALUES ('taken', 'x', 1)")
    with pytest.raises(sqlite3.IntegrityError):
        insert_many(conn, "t", ("k", "v", "n"), [("new1", "a", 1), ("taken", "b", 2), ("new2", "c", 3)])
    assert conn.execute("SELECT k FROM t").fetchall() == [("taken",)]


class _Recorder:
    """A connection that notes which way the rows went."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.calls = conn, []

    def execute(self, sql, params=()):
        self.calls.append("one statement")
        return self.conn.execute(sql, params)

    def executemany(self, sql, rows):
        self.calls.append("row by row")
        return self.conn.executemany(sql, rows)


@pytest.mark.parametrize("limit, way", [(10**9, "one statement"), (100, "row by row")])
def test_a_page_larger_than_the_payload_limit_goes_row_by_row(monkeypatch, limit, way):
    from core.repo import db

    monkeypatch.setattr(db, "MAX_PAYLOAD", limit)
    conn = _Recorder(_table())
    insert_many(conn, "t", ("k", "v", "n"), AWKWARD)
    assert conn.calls == [way]
    assert conn.conn.execute("SELECT count(*) FROM t").fetchone()[0] == len(AWKWARD)
