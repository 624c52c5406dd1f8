"""liveSync stage objects: IDM's ``repo/synchronisation/pooledSyncStage/<SOURCE>`` (``<SOURCE>`` the source path
without ``/``, upper-cased: ``SYSTEMSALESFORCEUSER``), one JSON object per source with an integer revision.

IDM saves a stage with a revision-checked update; so does :meth:`SyncStages.put` (``rev``: the revision read).
A put joins the caller's transaction, so a liveSync page's writes and the token that moves past them commit
together: a crash before COMMIT leaves both unwritten, and two processes racing on one source cannot both
advance the token (the later COMMIT finds the revision moved and rolls its page back).
"""

from __future__ import annotations

import json
from typing import Any

from core.repo.db import Database
from core.repo.errors import PreconditionFailed


def stage_id(source: str) -> str:
    """IDM's id of a source's stage: ``system/salesforce/User`` -> ``SYSTEMSALESFORCEUSER``."""
    return source.replace("/", "").upper()


class SyncStages:
    """The ``sync_stages`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, sid: str) -> dict[str, Any] | None:
        """The stage (``_id``, ``_rev`` as a string, the stored fields), or None."""
        row = self.db.conn().execute("SELECT rev, data FROM sync_stages WHERE id = ?", (sid,)).fetchone()
        if row is None:
            return None
        return {"_id": sid, "_rev": str(row[0]), **json.loads(row[1])}

    def put(self, sid: str, data: dict[str, Any], rev: str | None) -> dict[str, Any]:
        """Create (``rev`` None: the stage must not exist) or replace at revision ``rev``; the stored stage.
        A stage changed meanwhile (or created meanwhile) is a :class:`PreconditionFailed`."""
        body = {k: v for k, v in data.items() if k not in ("_id", "_rev")}
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT rev FROM sync_stages WHERE id = ?", (sid,)).fetchone()
            current = None if row is None else str(row[0])
            if current != rev:
                raise PreconditionFailed(f"repo/synchronisation/pooledSyncStage/{sid}: revision {rev} is no longer "
                                         f"current ({current}); another liveSync of this source ran meanwhile")
            new_rev = 1 if row is None else int(row[0]) + 1
            conn.execute("INSERT OR REPLACE INTO sync_stages (id, rev, data) VALUES (?, ?, ?)", (sid, new_rev, text))
        return {"_id": sid, "_rev": str(new_rev), **body}

    def delete(self, sid: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sync_stages WHERE id = ?", (sid,))
