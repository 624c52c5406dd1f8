"""App-wide messages: what thread workers post back to the event loop.

Workers never touch widgets; they post one of these and an ``@on`` handler on the App or a screen owns
the state change (harlequin's invariant). High-frequency messages coalesce with ``can_replace`` (toolong),
so a 100,000-record reconciliation never floods the queue: only the newest pending update is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from core.sync import UserDetail


@dataclass
class ConnectionState(Message):
    """The header's connection facts changed (org, user, API usage from ``Sforce-Limit-Info``)."""

    org: str | None = None
    user: str | None = None
    api_usage: tuple[int, int] | None = None
    logged_in: bool | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ConnectionState)


@dataclass
class RunProgress(Message):
    """A reconciliation run object (IDM's recon status shape) as it stands now."""

    run: dict[str, Any]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgress) and message.run.get("_id") == self.run.get("_id")


@dataclass
class RunFinished(Message):
    """A run reached SUCCESS, FAILED or CANCELED."""

    run: dict[str, Any]


@dataclass
class RunsListed(Message):
    """The run history, newest first, as the repository holds it (includes runs started by the CLI or REST)."""

    runs: list[dict[str, Any]]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunsListed)


@dataclass
class AuditLoaded(Message):
    """One run's audit entries (already filtered by situation/status)."""

    run_id: str
    entries: list[dict[str, Any]]
    total: int


@dataclass
class MappingsLoaded(Message):
    """The mappings of ``sync.json``."""

    mappings: list[Any]


@dataclass
class ThemeLoaded(Message):
    """The theme remembered in ``sfsync.toml`` (None when none was chosen yet)."""

    theme: str | None


@dataclass
class ConnectorLoaded(Message):
    """The provisioner file as ``core.config`` read it (a ``ProvisionerConfig``)."""

    config: Any


@dataclass
class ConnectorTested(Message):
    """IDM's ``system?_action=test`` object for the Salesforce connector."""

    result: dict[str, Any]


@dataclass
class ConnectorSaved(Message):
    """The provisioner file was written."""

    path: str
    changed: list[str] = field(default_factory=list)


@dataclass
class LoginStarted(Message):
    """The login flow is listening: show the authorize URL and the callback address."""

    authorize_url: str
    callback: str
    timeout: float


@dataclass
class LoginOutcome(Message):
    """The login finished: who logged in to which org, or why not."""

    ok: bool
    detail: str
    org: str | None = None
    user: str | None = None


@dataclass
class UsersCounted(Message):
    """The number of managed users matching the current filter."""

    generation: int
    total: int


@dataclass
class UsersPageLoaded(Message):
    """One page of managed users for the virtual table."""

    generation: int
    offset: int
    rows: list[dict[str, Any]]


@dataclass
class UserDetailLoaded(Message):
    """A managed user, its link and the linked Salesforce record fetched live (or why it could not be)."""

    detail: UserDetail


@dataclass
class UserActivityLoaded(Message):
    """The user's newest activity audit entries (who changed it, when, what), newest first."""

    entries: list[dict[str, Any]]
    error: str | None = None


@dataclass
class UserSaved(Message):
    """A managed user was saved; ``results`` holds each mapping's implicit-sync result."""

    user: dict[str, Any]
    results: dict[str, Any]


@dataclass
class UserInvalid(Message):
    """The edit broke ``managed.json``'s rules: field name -> reason."""

    errors: dict[str, str]


@dataclass
class UserReconciled(Message):
    """A managed user was reconciled by id through every mapping that touches it: the runs, in order."""

    runs: list[dict[str, Any]]


@dataclass
class SchedulesLoaded(Message):
    """Every ``conf/schedule-*.json`` as a ``ScheduleRow`` (tui/backend.py), broken files included."""

    rows: list[Any]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SchedulesLoaded)


@dataclass
class SchedulePaused(Message):
    """A schedule was paused (``paused`` True) or resumed, in the repository."""

    schedule_id: str
    paused: bool


@dataclass
class ScheduleSaved(Message):
    """``conf/schedule-<id>.json`` was written; ``row`` is the schedule as it now loads."""

    row: Any


@dataclass
class ScheduleRefused(Message):
    """Saving a schedule was refused: the field core named (None: the whole schedule) and why."""

    field: str | None
    reason: str
