"""Links in IDM's ``openidm.links`` (``objectid``, ``rev``, ``linktype`` = the owning mapping,
``linkqualifier``, ``firstid``, ``secondid``; a page inserted by one COPY), with IDM's two UNIQUE indexes: an object is linked to at most one
object on the other side, enforced by PostgreSQL across processes. The same contract as core/repo/links.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import psycopg

from core.repo.errors import Conflict
from core.repo.links import Link, LinkRow, Links
from core.repo.pgdb import PgDatabase
from core.repo.pgmanaged import _chunks
from core.repo.pgquery import PgCollection, run_pg_query
from core.repo.query import QueryRequest

LINK_COLLECTION = PgCollection(
    "openidm.links", "jsonb_build_object('linkType', linktype, 'linkQualifier', linkqualifier, 'firstId', firstid, "
    "'secondId', secondid)", tiebreak="objectid", key_order=("linkType", "linkQualifier", "firstId", "secondId"),
    columns={"linkType": "linktype", "linkQualifier": "linkqualifier", "firstId": "firstid", "secondId": "secondid"})

_COLS = "objectid, linktype, firstid, secondid, linkqualifier"


class PgLinks:
    """The link table; every look-up takes a list of ids."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    def _by(self, column: str, link_type: str, ids: Iterable[str], qualifier: str) -> dict[str, Link]:
        out: dict[str, Link] = {}
        for part in _chunks(list(dict.fromkeys(ids))):
            for row in self.db.fetchall(f"SELECT {_COLS} FROM openidm.links WHERE linktype = %s AND linkqualifier = %s "
                                        f"AND {column} = ANY(%s)", (link_type, qualifier, list(part))):
                link = Link(*row)
                out[link.first_id if column == "firstid" else link.second_id] = link
        return out

    def other_sides(self, link_type: str, ids: Iterable[str], *, given: str = "first_id",
                    qualifier: str = "default") -> dict[str, str]:
        if given not in ("first_id", "second_id"):
            raise ValueError(f"given: first_id or second_id, not {given!r}")
        col, other = ("firstid", "secondid") if given == "first_id" else ("secondid", "firstid")
        out: dict[str, str] = {}
        for part in _chunks(list(dict.fromkeys(ids))):
            out.update(self.db.fetchall(f"SELECT {col}, {other} FROM openidm.links WHERE linktype = %s "
                                        f"AND linkqualifier = %s AND {col} = ANY(%s)", (link_type, qualifier, list(part))))
        return out

    def by_first(self, link_type: str, ids: Iterable[str], qualifier: str = "default") -> dict[str, Link]:
        return self._by("firstid", link_type, ids, qualifier)

    def by_second(self, link_type: str, ids: Iterable[str], qualifier: str = "default") -> dict[str, Link]:
        return self._by("secondid", link_type, ids, qualifier)

    def link_many(self, link_type: str, pairs: Sequence[tuple[str, str]], qualifier: str = "default") -> list[Link]:
        rows = self.prepare(link_type, pairs, qualifier)
        self.insert(rows)
        return [Link(*row[:5]) for row in rows]

    prepare = staticmethod(Links.prepare)

    def insert(self, rows: Sequence[LinkRow]) -> None:
        """Insert rows from :meth:`prepare` (one pipelined statement); a side already linked is a Conflict and
        nothing of the rows is written."""
        if not rows:
            return
        try:
            with self.db.savepoint():  # the caller's transaction survives a refused page
                self.db.copy_rows("openidm.links", ("objectid", "linktype", "firstid", "secondid", "linkqualifier",
                                                    "rev"), rows)
        except psycopg.errors.UniqueViolation:
            raise self._conflict(rows[0][1], [(r[2], r[3]) for r in rows], rows[0][4]) from None

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
        if (first_id is None) == (second_id is None):
            raise ValueError("unlink takes exactly one of first_id, second_id")
        column, value = ("firstid", first_id) if first_id is not None else ("secondid", second_id)
        return self.db.execute(f"DELETE FROM openidm.links WHERE linktype = %s AND linkqualifier = %s AND {column} = %s",
                               (link_type, qualifier, value))

    def unlink_many(self, link_type: str, *, first_ids: Iterable[str] = (), second_ids: Iterable[str] = (),
                    qualifier: str = "default") -> int:
        n = 0
        with self.db.transaction():
            for column, ids in (("firstid", list(first_ids)), ("secondid", list(second_ids))):
                for part in _chunks(ids):
                    n += self.db.execute(f"DELETE FROM openidm.links WHERE linktype = %s AND linkqualifier = %s "
                                         f"AND {column} = ANY(%s)", (link_type, qualifier, list(part)))
        return n

    def iter_links(self, link_type: str, batch: int = 10_000) -> Iterator[Link]:
        last = ""
        while True:
            rows = self.db.fetchall(f"SELECT {_COLS} FROM openidm.links WHERE linktype = %s AND objectid > %s "
                                    "ORDER BY objectid LIMIT %s", (link_type, last, batch))
            for row in rows:
                yield Link(*row)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def query(self, request: QueryRequest) -> dict[str, object]:
        return run_pg_query(self.db, LINK_COLLECTION, request)

    def get(self, link_id: str) -> dict[str, str] | None:
        row = self.db.fetchone(f"SELECT {_COLS} FROM openidm.links WHERE objectid = %s", (link_id,))
        return Link(*row).as_idm() if row else None

    def count(self, link_type: str) -> int:
        row = self.db.fetchone("SELECT count(*) FROM openidm.links WHERE linktype = %s", (link_type,))
        return int(row[0]) if row else 0
