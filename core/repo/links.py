"""Links between a source and a target object, stored as IDM stores them (``repo/link``).

A link is ``{linkType, linkQualifier, firstId, secondId}``; ``linkType`` is the name of the mapping that owns
the links (a mapping with ``links: OTHER`` reuses OTHER's, reversed: the engine decides which side is
``first``). Each side is unique per ``(linkType, linkQualifier)``: an object is linked to at most one
object on the other side, which the UNIQUE constraints enforce even across processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from core.repo.db import Database, chunks, insert_many, placeholders
from core.repo.linkstore import Link, LinkRow, LinkStoreBase
from core.repo.query import Collection, QueryRequest, run_query

#: ``repo/link`` as a CREST collection: every field of IDM's link object is a column (``data`` is built)
LINK_COLLECTION = Collection("links", {"linkType": "link_type", "linkQualifier": "link_qualifier",
                                       "firstId": "first_id", "secondId": "second_id"}, has_rev=True,
                             data_column="json_object('linkType', link_type, 'linkQualifier', link_qualifier, "
                                         "'firstId', first_id, 'secondId', second_id)")

__all__ = ["LINK_COLLECTION", "Link", "LinkRow", "Links"]

_COLS = "id, link_type, first_id, second_id, link_qualifier"
_INSERT_COLS = ("id", "link_type", "first_id", "second_id", "link_qualifier", "rev")


def _link(row: tuple[str, str, str, str, str]) -> Link:
    return Link(*row)


class Links(LinkStoreBase):
    """The link table; every look-up takes a list of ids and answers in chunks."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _select(self, column: str, link_type: str, ids: list[str], qualifier: str) -> Iterator[Sequence[str]]:
        conn = self.db.conn()
        for part in chunks(ids):
            yield from conn.execute(f"SELECT {_COLS} FROM links WHERE link_type = ? AND link_qualifier = ? "
                                    f"AND {column} IN ({placeholders(len(part))})", [link_type, qualifier, *part])

    def _pairs(self, column: str, other: str, link_type: str, ids: list[str], qualifier: str) -> dict[str, str]:
        out: dict[str, str] = {}
        conn = self.db.conn()
        for part in chunks(ids):
            out.update(conn.execute(f"SELECT {column}, {other} FROM links WHERE link_type = ? AND link_qualifier = ? "
                                    f"AND {column} IN ({placeholders(len(part))})", [link_type, qualifier, *part]))
        return out

    def _delete(self, column: str, link_type: str, ids: list[str], qualifier: str) -> int:
        n = 0
        conn = self.db.conn()
        for part in chunks(ids):
            n += conn.execute(f"DELETE FROM links WHERE link_type = ? AND link_qualifier = ? "
                              f"AND {column} IN ({placeholders(len(part))})", [link_type, qualifier, *part]).rowcount
        return n

    def insert(self, rows: Sequence[LinkRow]) -> None:
        """Insert rows from :meth:`prepare` in one statement; a side already linked is a Conflict (nothing of
        the rows is then written)."""
        if not rows:
            return
        with self.db.transaction() as conn:
            try:
                insert_many(conn, "links", _INSERT_COLS, rows)
            except sqlite3.IntegrityError:
                raise self._conflict(rows) from None

    def iter_links(self, link_type: str, batch: int = 10_000) -> Iterator[Link]:
        """Every link of a type (all qualifiers), in batches so no long read transaction is held."""
        last = 0
        conn = self.db.conn()
        while True:
            rows = conn.execute(f"SELECT seq, {_COLS} FROM links WHERE seq > ? AND link_type = ? ORDER BY seq LIMIT ?",
                                (last, link_type, batch)).fetchall()
            for row in rows:
                yield _link(row[1:])
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def query(self, request: QueryRequest) -> dict[str, object]:
        """IDM's query result over ``repo/link`` (``linkType eq X and firstId eq I``, …), link objects as
        :meth:`Link.as_idm` shows them."""
        return run_query(self.db.conn(), LINK_COLLECTION, request)

    def get(self, link_id: str) -> dict[str, str] | None:
        """One link by its ``_id``, as IDM's ``repo/link/<id>`` answers it."""
        row = self.db.conn().execute(f"SELECT {_COLS} FROM links WHERE id = ?", (link_id,)).fetchone()
        return _link(row).as_idm() if row else None

    def count(self, link_type: str) -> int:
        return int(self.db.conn().execute("SELECT count(*) FROM links WHERE link_type = ?",
                                          (link_type,)).fetchone()[0])
