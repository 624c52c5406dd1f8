"""The activity audit (``audit/activity``): who changed what, when, from where, with before and after.

IDM writes an activity event for every change of a resource through its router; its fields
(``idm-beyond-the-sample.md`` §1.3, table ``auditactivity``) are kept here under IDM's JSON names:
``_id``, ``timestamp``, ``eventName`` ("activity"), ``transactionId``, ``userId`` (who), ``runAs``,
``objectId`` (``managed/user/<id>``, ``config/provisioner.openicf/salesforce``, ``scheduler/job/<id>``),
``operation`` (CREATE, UPDATE, PATCH, DELETE), ``before``, ``after``, ``changedFields`` (JSON pointers),
``revision``, ``status``, ``message``, ``passwordChanged``. sfsync adds ``origin`` ("rest", "tui", "cli"):
the front end the change came through (IDM has one, its router).

Secrets never reach the table: ``before`` and ``after`` pass through
:func:`core.config.masking.mask_secrets` (fields named like a password, secret or token; ``$crypto``
objects). ``changedFields`` and ``passwordChanged`` are computed from the unmasked values, so a changed
secret is reported as changed without being shown.

A managed write and its entry are one transaction (the caller's: an entry exists exactly when the change
committed). Entries are trimmed to the newest ``keep`` (``keep_runs`` x 1,000, as the implicit-sync audit)
every :data:`TRIM_EVERY` entries and when a reconciliation ends.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.config.masking import is_secret_name, mask_secrets
from core.repo.audit import now_iso
from core.repo.db import Database, insert_many
from core.repo.errors import FieldError, ValidationError
from core.repo.jsoncodec import encode_any
from core.repo.query import Collection, QueryRequest, run_query

EVENT_NAME = "activity"
OPERATIONS = ("CREATE", "UPDATE", "PATCH", "DELETE", "ACTION")
ORIGINS = ("rest", "tui", "cli", "sfsync")
#: a trim runs when an entry's sequence number is a multiple of this (so the table holds at most keep + this)
TRIM_EVERY = 1000
#: activity entries kept per kept run (``keep_runs`` 100: the newest 100,000), as the implicit-sync audit
ENTRIES_PER_RUN = 1000

COLLECTION = Collection("activity_audit", {
    "objectId": "object_id", "transactionId": "transaction_id", "userId": "user_id",
    "operation": "operation", "origin": "origin", "timestamp": "timestamp",
}, has_rev=False)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class Actor:
    """Who makes a change and through which front end.

    ``user_id`` is IDM's ``userId``: the REST admin's name, or for the app and the command line the
    operating-system user running them. ``transaction_id`` groups the entries of one request or command.
    """

    user_id: str
    origin: str
    run_as: str | None = None
    transaction_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def local(cls, origin: str) -> Actor:
        """The person at this terminal (``tui`` or ``cli``): the OS user."""
        return cls(_os_user(), origin)

    @classmethod
    def rest(cls, username: str, transaction_id: str | None = None) -> Actor:
        """The authenticated REST admin."""
        return cls(username, "rest", transaction_id=transaction_id or str(uuid.uuid4()))


def changed_fields(before: Any, after: Any, prefix: str = "") -> list[str]:
    """JSON pointers of what differs between ``before`` and ``after`` (objects compared field by field,
    recursively; anything else as a whole). ``_id`` and ``_rev`` are not fields of the object."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[str] = []
        for key in dict.fromkeys([*before.keys(), *after.keys()]):
            if not prefix and key in ("_id", "_rev"):
                continue
            if key not in before or key not in after:
                out.append(f"{prefix}/{key}")
            else:
                out.extend(changed_fields(before[key], after[key], f"{prefix}/{key}"))
        return out
    if before == after and type(before) is type(after):
        return []
    return [prefix or "/"]


def activity_entry(object_id: str, operation: str, before: Mapping[str, Any] | None,
                   after: Mapping[str, Any] | None, actor: Actor, *, message: str = "",
                   status: str = "SUCCESS", revision: str | None = None) -> dict[str, Any]:
    """An ``audit/activity`` event in IDM's shape, secrets masked; ``_id`` and ``timestamp`` are filled in
    when it is stored."""
    if operation not in OPERATIONS:
        raise ValidationError([FieldError("operation", f"must be one of {', '.join(OPERATIONS)}")],
                              resource="audit/activity")
    changed = changed_fields(before or {}, after or {})
    if revision is None:
        source = after if after is not None else before
        revision = str(source["_rev"]) if source and source.get("_rev") is not None else None
    return {
        "eventName": EVENT_NAME,
        "transactionId": actor.transaction_id,
        "userId": actor.user_id,
        "runAs": actor.run_as or actor.user_id,
        "objectId": object_id,
        "operation": operation,
        "before": mask_secrets(dict(before)) if before is not None else None,
        "after": mask_secrets(dict(after)) if after is not None else None,
        "changedFields": changed,
        "revision": revision,
        "status": status,
        "message": message,
        "passwordChanged": any(is_secret_name(part) for pointer in changed for part in pointer.split("/")),
        "origin": actor.origin,
    }


class ActivityLog:
    """The ``audit/activity`` table of the repository."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, entry: Mapping[str, Any], *, keep: int | Callable[[], int] | None = None) -> str:
        """Store one entry (in the caller's transaction if there is one); its ``_id``. ``keep``: trim to the
        newest ``keep`` when this entry's turn comes (every :data:`TRIM_EVERY`); a callable is asked then."""
        entry_id, row = self._row(entry)
        with self.db.transaction() as conn:
            seq = conn.execute("INSERT INTO activity_audit (id, data) VALUES (?, ?)", row[0:2]).lastrowid
            if keep is not None and seq and seq % TRIM_EVERY == 0:
                self.keep_newest(keep() if callable(keep) else keep)
        return entry_id

    def add_many(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Store entries in one statement; their ids in order."""
        rows = [self._row(e) for e in entries]
        if rows:
            with self.db.transaction() as conn:
                insert_many(conn, "activity_audit", ("id", "data"), [r for _, r in rows])
        return [i for i, _ in rows]

    @staticmethod
    def _row(raw: Mapping[str, Any]) -> tuple[str, tuple[str, str]]:
        entry = {"eventName": EVENT_NAME, **raw}
        entry.setdefault("timestamp", now_iso())
        entry_id = str(entry.pop("_id", None) or uuid.uuid4())
        problems = []
        if not isinstance(entry.get("objectId"), str) or not entry["objectId"]:
            problems.append(FieldError("objectId", "is required"))
        if entry.get("operation") not in OPERATIONS:
            problems.append(FieldError("operation", f"must be one of {', '.join(OPERATIONS)}"))
        if entry.get("status") not in ("SUCCESS", "FAILURE"):
            problems.append(FieldError("status", "must be SUCCESS or FAILURE"))
        if problems:
            raise ValidationError(problems, resource="audit/activity")
        return entry_id, (entry_id, encode_any(entry))

    def get(self, entry_id: str) -> dict[str, Any] | None:
        row = self.db.conn().execute("SELECT id, data FROM activity_audit WHERE id = ?", (entry_id,)).fetchone()
        return COLLECTION.row_to_object(row) if row else None

    def query(self, request: QueryRequest | str = "true", **params: Any) -> dict[str, Any]:
        """IDM's query result over ``audit/activity``; ``request`` is a QueryRequest or a ``_queryFilter``."""
        if isinstance(request, str):
            request = QueryRequest(query_filter=request, **params)
        return run_query(self.db.conn(), COLLECTION, request)

    def for_object(self, object_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest ``limit`` entries about one object, newest first."""
        rows = self.db.conn().execute(
            "SELECT id, data FROM activity_audit WHERE object_id = ? ORDER BY seq DESC LIMIT ?",
            (object_id, max(limit, 0))).fetchall()
        return [COLLECTION.row_to_object(r) for r in rows]

    def count(self) -> int:
        return int(self.db.conn().execute("SELECT count(*) FROM activity_audit").fetchone()[0])

    def keep_newest(self, keep: int) -> int:
        """Delete the entries beyond the newest ``keep``; how many went."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT seq FROM activity_audit ORDER BY seq DESC LIMIT 1 OFFSET ?",
                               (max(keep, 0),)).fetchone()
            if row is None:
                return 0
            return conn.execute("DELETE FROM activity_audit WHERE seq <= ?", (row[0],)).rowcount


#: the provisioner file's object id, as IDM names its configuration (``config/provisioner.openicf/salesforce``)
PROVISIONER_OBJECT = "config/provisioner.openicf/salesforce"


def record_config_save(project: Any, object_id: str, before: Mapping[str, Any] | None,
                       after: Mapping[str, Any] | None, actor: Actor, *, message: str = "",
                       repo: Any = None) -> str | None:
    """Record a configuration file's save (right after its atomic write; a file is not in the repository's
    transaction): ``before`` and ``after`` are its data (plain secrets are fine: they are masked here, and
    compared unmasked for ``changedFields``). Nothing is recorded when nothing changed. The entry's id."""
    if before == after:
        return None
    operation = "CREATE" if before is None else "DELETE" if after is None else "UPDATE"
    entry = activity_entry(object_id, operation, before, after, actor, message=message)
    if repo is not None:
        return str(repo.activity.add(entry, keep=lambda: _keep(project)))
    from core.repo.repository import Repository

    project.db_dir.mkdir(parents=True, exist_ok=True)
    with Repository.for_project(project, validate=False) as own:
        return str(own.activity.add(entry, keep=lambda: _keep(project)))


def _keep(project: Any) -> int:
    try:
        from core.config.settings import Settings

        return Settings.load(project).keep_runs * ENTRIES_PER_RUN
    except Exception:  # noqa: BLE001 - retention falls back to IDM's default, as the sync audit's does
        return 100 * ENTRIES_PER_RUN
