"""Links in IDM's ``openidm.links`` (``objectid``, ``rev``, ``linktype`` = the owning mapping,
``linkqualifier``, ``firstid``, ``secondid``; a page inserted by one COPY), with IDM's two UNIQUE indexes: an object is linked to at most one
object on the other side, enforced by PostgreSQL across processes. The same contract as core/repo/links.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import psycopg

from core.repo.linkstore import Link, LinkRow, LinkStoreBase
from core.repo.pgdb import PgDatabase
from core.repo.pgmanaged import _chunks
from core.repo.pgquery import PgCollection, run_pg_query
from core.repo.query import QueryRequest

LINK_COLLECTION = PgCollection(
    "openidm.links", "jsonb_build_object('linkType', linktype, 'linkQualifier', linkqualifier, 'firstId', firstid, "
    "'secondId', secondid)", tiebreak="objectid", key_order=("linkType", "linkQualifier", "firstId", "secondId"),
    columns={"linkType": "linktype", "linkQualifier": "linkqualifier", "firstId": "firstid", "secondId": "secondid"})

_COLS = "objectid, linktype, firstid, secondid, linkqualifier"


class PgLinks(LinkStoreBase):
    """The link table; every look-up takes a list of ids."""

    FIRST = "firstid"
    SECOND = "secondid"

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    def _select(self, column: str, link_type: str, ids: list[str], qualifier: str) -> Iterator[Sequence[str]]:
        for part in _chunks(ids):
            yield from self.db.fetchall(f"SELECT {_COLS} FROM openidm.links WHERE linktype = %s "
                                        f"AND linkqualifier = %s AND {column} = ANY(%s)", (link_type, qualifier, list(part)))

    def _pairs(self, column: str, other: str, link_type: str, ids: list[str], qualifier: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in _chunks(ids):
            out.update(self.db.fetchall(f"SELECT {column}, {other} FROM openidm.links WHERE linktype = %s "
                                        f"AND linkqualifier = %s AND {column} = ANY(%s)", (link_type, qualifier, list(part))))
        return out

    def _delete(self, column: str, link_type: str, ids: list[str], qualifier: str) -> int:
        n = 0
        for part in _chunks(ids):
            n += self.db.execute(f"DELETE FROM openidm.links WHERE linktype = %s AND linkqualifier = %s "
                                 f"AND {column} = ANY(%s)", (link_type, qualifier, list(part)))
        return n

    def insert(self, rows: Sequence[LinkRow]) -> None:
        """Insert rows from :meth:`prepare` (one COPY); a side already linked is a Conflict and nothing of the
        rows is written."""
        if not rows:
            return
        try:
            with self.db.savepoint():  # the caller's transaction survives a refused page
                self.db.copy_rows("openidm.links", ("objectid", "linktype", "firstid", "secondid", "linkqualifier",
                                                    "rev"), rows)
        except psycopg.errors.UniqueViolation:
            raise self._conflict(rows) from None

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
