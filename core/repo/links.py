"""Links between a source and a target object, stored as IDM stores them (``repo/link``).

A link is ``{linkType, linkQualifier, firstId, secondId}``; ``linkType`` is the name of the mapping that owns
the links (a mapping with ``links: OTHER`` reuses OTHER's, reversed: the engine decides which side is
``first``). Each side is unique per ``(linkType, linkQualifier)``: an object is linked to at most one
object on the other side, which the UNIQUE constraints enforce even across processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from core.repo.db import Database, chunks, insert_many, placeholders
from core.repo.errors import Conflict
from core.repo.ids import new_ids
from core.repo.query import Collection, QueryRequest, run_query

#: ``repo/link`` as a CREST collection: every field of IDM's link object is a column (``data`` is built)
LINK_COLLECTION = Collection("links", {"linkType": "link_type", "linkQualifier": "link_qualifier",
                                       "firstId": "first_id", "secondId": "second_id"}, has_rev=True,
                             data_column="json_object('linkType', link_type, 'linkQualifier', link_qualifier, "
                                         "'firstId', first_id, 'secondId', second_id)")


@dataclass(frozen=True)
class Link:
    """One link; ``as_idm()`` gives the object IDM's ``repo/link`` shows."""

    id: str
    link_type: str
    first_id: str
    second_id: str
    link_qualifier: str = "default"

    def as_idm(self) -> dict[str, str]:
        return {"_id": self.id, "_rev": "0", "linkType": self.link_type, "linkQualifier": self.link_qualifier,
                "firstId": self.first_id, "secondId": self.second_id}


_COLS = "id, link_type, first_id, second_id, link_qualifier"
#: a stored link: (id, linkType, firstId, secondId, linkQualifier, rev)
LinkRow = tuple[str, str, str, str, str, str]
_INSERT_COLS = ("id", "link_type", "first_id", "second_id", "link_qualifier", "rev")


def _link(row: tuple[str, str, str, str, str]) -> Link:
    return Link(*row)


class Links:
    """The link table; every look-up takes a list of ids and answers in chunks."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _by(self, column: str, link_type: str, ids: Iterable[str], qualifier: str) -> dict[str, Link]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, Link] = {}
        conn = self.db.conn()
        for part in chunks(wanted):
            sql = (f"SELECT {_COLS} FROM links WHERE link_type = ? AND link_qualifier = ? "
                   f"AND {column} IN ({placeholders(len(part))})")
            for row in conn.execute(sql, [link_type, qualifier, *part]):
                link = _link(row)
                out[link.first_id if column == "first_id" else link.second_id] = link
        return out

    def other_sides(self, link_type: str, ids: Iterable[str], *, given: str = "first_id",
                    qualifier: str = "default") -> dict[str, str]:
        """For each linked id among ``ids`` (the ``given`` side, ``first_id`` or ``second_id``), the id on the
        other side: the look-up a reconciliation page makes, without building :class:`Link` objects."""
        if given not in ("first_id", "second_id"):
            raise ValueError(f"given: first_id or second_id, not {given!r}")
        other = "second_id" if given == "first_id" else "first_id"
        wanted = list(dict.fromkeys(ids))
        out: dict[str, str] = {}
        conn = self.db.conn()
        for part in chunks(wanted):
            out.update(conn.execute(f"SELECT {given}, {other} FROM links WHERE link_type = ? AND link_qualifier = ? "
                                    f"AND {given} IN ({placeholders(len(part))})", [link_type, qualifier, *part]))
        return out

    def by_first(self, link_type: str, ids: Iterable[str], qualifier: str = "default") -> dict[str, Link]:
        """``{first_id: Link}`` for the ids that are linked."""
        return self._by("first_id", link_type, ids, qualifier)

    def by_second(self, link_type: str, ids: Iterable[str], qualifier: str = "default") -> dict[str, Link]:
        """``{second_id: Link}`` for the ids that are linked."""
        return self._by("second_id", link_type, ids, qualifier)

    def link_many(self, link_type: str, pairs: Sequence[tuple[str, str]], qualifier: str = "default",
                  ) -> list[Link]:
        """Create links ``(first_id, second_id)`` in one transaction; a side already linked is a Conflict."""
        rows = self.prepare(link_type, pairs, qualifier)
        self.insert(rows)
        return [Link(*row[:5]) for row in rows]

    @staticmethod
    def prepare(link_type: str, pairs: Sequence[tuple[str, str]], qualifier: str = "default") -> list[LinkRow]:
        """The rows :meth:`link_many` inserts, made without touching storage."""
        ids = new_ids(len(pairs))
        return [(ids[k], link_type, f, s, qualifier, "0") for k, (f, s) in enumerate(pairs)]

    def insert(self, rows: Sequence[LinkRow]) -> None:
        """Insert rows from :meth:`prepare` in one statement; a side already linked is a Conflict (nothing of
        the rows is then written)."""
        if not rows:
            return
        with self.db.transaction() as conn:
            try:
                insert_many(conn, "links", _INSERT_COLS, rows)
            except sqlite3.IntegrityError:
                link_type, qualifier = rows[0][1], rows[0][4]
                raise self._conflict(link_type, [(r[2], r[3]) for r in rows], qualifier) from None

    def _conflict(self, link_type: str, pairs: Sequence[tuple[str, str]], qualifier: str) -> Conflict:
        firsts = self.by_first(link_type, [p[0] for p in pairs], qualifier)
        seconds = self.by_second(link_type, [p[1] for p in pairs], qualifier)
        seen_first: set[str] = set()
        seen_second: set[str] = set()
        for f, s in pairs:
            if f in firsts or f in seen_first:
                return Conflict(f"link {link_type}: {f} is already linked")
            if s in seconds or s in seen_second:
                return Conflict(f"link {link_type}: {s} is already linked")
            seen_first.add(f)
            seen_second.add(s)
        return Conflict(f"link {link_type}: a side is already linked")

    def link(self, link_type: str, first_id: str, second_id: str, qualifier: str = "default") -> Link:
        return self.link_many(link_type, [(first_id, second_id)], qualifier)[0]

    def unlink(self, link_type: str, *, first_id: str | None = None, second_id: str | None = None,
               qualifier: str = "default") -> int:
        """Remove the link of one side (either id); how many links went (0 or 1)."""
        if (first_id is None) == (second_id is None):
            raise ValueError("unlink takes exactly one of first_id, second_id")
        column, value = ("first_id", first_id) if first_id is not None else ("second_id", second_id)
        with self.db.transaction() as conn:
            return conn.execute(f"DELETE FROM links WHERE link_type = ? AND link_qualifier = ? AND {column} = ?",
                                (link_type, qualifier, value)).rowcount

    def unlink_many(self, link_type: str, *, first_ids: Iterable[str] = (), second_ids: Iterable[str] = (),
                    qualifier: str = "default") -> int:
        n = 0
        with self.db.transaction() as conn:
            for column, ids in (("first_id", list(first_ids)), ("second_id", list(second_ids))):
                for part in chunks(ids):
                    n += conn.execute(f"DELETE FROM links WHERE link_type = ? AND link_qualifier = ? "
                                      f"AND {column} IN ({placeholders(len(part))})",
                                      [link_type, qualifier, *part]).rowcount
        return n

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
