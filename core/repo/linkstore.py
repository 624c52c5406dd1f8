"""What both link stores share (SQLite's core/repo/links.py, PostgreSQL's core/repo/pglinks.py): the link
object, the rows a page of links inserts, the argument checks, which side a look-up answers by, and the
Conflict that names the side already linked. The backends keep only their SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from core.repo.errors import Conflict
from core.repo.ids import new_ids


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


#: a stored link: (id, linkType, firstId, secondId, linkQualifier, rev)
LinkRow = tuple[str, str, str, str, str, str]


class LinkStoreBase:
    """The backend-free part of a link table; subclasses name their two id columns and add the SQL."""

    #: the backend's columns of the first and the second side
    FIRST = "first_id"
    SECOND = "second_id"
    db: Any

    # ------------------------------------------------------------------------------------ what the backend answers

    def _select(self, column: str, link_type: str, ids: list[str], qualifier: str) -> Iterable[Sequence[str]]:
        """``(id, linkType, firstId, secondId, linkQualifier)`` of the links whose ``column`` is among ``ids``."""
        raise NotImplementedError

    def _pairs(self, column: str, other: str, link_type: str, ids: list[str], qualifier: str) -> dict[str, str]:
        """``{column value: other value}`` of the links whose ``column`` is among ``ids``."""
        raise NotImplementedError

    def _delete(self, column: str, link_type: str, ids: list[str], qualifier: str) -> int:
        """Delete the links whose ``column`` is among ``ids``; how many went."""
        raise NotImplementedError

    def insert(self, rows: Sequence[LinkRow]) -> None:
        raise NotImplementedError

    def iter_links(self, link_type: str, batch: int = 10_000) -> Iterator[Link]:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------ look-ups

    def _by(self, column: str, link_type: str, ids: Iterable[str], qualifier: str) -> dict[str, Link]:
        out: dict[str, Link] = {}
        for row in self._select(column, link_type, list(dict.fromkeys(ids)), qualifier):
            link = Link(*row)
            out[link.first_id if column == self.FIRST else link.second_id] = link
        return out

    def by_first(self, link_type: str, ids: Iterable[str], qualifier: str = "default") -> dict[str, Link]:
        """``{first_id: Link}`` for the ids that are linked."""
        return self._by(self.FIRST, link_type, ids, qualifier)

    def by_second(self, link_type: str, ids: Iterable[str], qualifier: str = "default") -> dict[str, Link]:
        """``{second_id: Link}`` for the ids that are linked."""
        return self._by(self.SECOND, link_type, ids, qualifier)

    def other_sides(self, link_type: str, ids: Iterable[str], *, given: str = "first_id",
                    qualifier: str = "default") -> dict[str, str]:
        """For each linked id among ``ids`` (the ``given`` side, ``first_id`` or ``second_id``), the id on the
        other side: the look-up a reconciliation page makes, without building :class:`Link` objects."""
        if given not in ("first_id", "second_id"):
            raise ValueError(f"given: first_id or second_id, not {given!r}")
        col, other = (self.FIRST, self.SECOND) if given == "first_id" else (self.SECOND, self.FIRST)
        return self._pairs(col, other, link_type, list(dict.fromkeys(ids)), qualifier)

    # ------------------------------------------------------------------------------------ writes

    @staticmethod
    def prepare(link_type: str, pairs: Sequence[tuple[str, str]], qualifier: str = "default") -> list[LinkRow]:
        """The rows :meth:`link_many` inserts, made without touching storage."""
        ids = new_ids(len(pairs))
        return [(ids[k], link_type, f, s, qualifier, "0") for k, (f, s) in enumerate(pairs)]

    def link_many(self, link_type: str, pairs: Sequence[tuple[str, str]], qualifier: str = "default",
                  ) -> list[Link]:
        """Create links ``(first_id, second_id)`` in one transaction; a side already linked is a Conflict."""
        rows = self.prepare(link_type, pairs, qualifier)
        self.insert(rows)
        return [Link(*row[:5]) for row in rows]

    def link(self, link_type: str, first_id: str, second_id: str, qualifier: str = "default") -> Link:
        return self.link_many(link_type, [(first_id, second_id)], qualifier)[0]

    def _conflict(self, rows: Sequence[LinkRow]) -> Conflict:
        """The Conflict for rows a UNIQUE index refused: the first side already linked (or linked twice)."""
        link_type, qualifier = rows[0][1], rows[0][4]
        pairs = [(r[2], r[3]) for r in rows]
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

    def unlink(self, link_type: str, *, first_id: str | None = None, second_id: str | None = None,
               qualifier: str = "default") -> int:
        """Remove the link of one side (either id); how many links went (0 or 1)."""
        if (first_id is None) == (second_id is None):
            raise ValueError("unlink takes exactly one of first_id, second_id")
        column, value = (self.FIRST, first_id) if first_id is not None else (self.SECOND, second_id)
        with self.db.transaction():
            return self._delete(column, link_type, [str(value)], qualifier)

    def unlink_many(self, link_type: str, *, first_ids: Iterable[str] = (), second_ids: Iterable[str] = (),
                    qualifier: str = "default") -> int:
        n = 0
        with self.db.transaction():
            for column, ids in ((self.FIRST, list(first_ids)), (self.SECOND, list(second_ids))):
                if ids:
                    n += self._delete(column, link_type, ids, qualifier)
        return n
