"""The app's one doorway into ``core``: plain, blocking calls meant for thread workers.

Screens reach core's data through a :class:`Backend`, called from a thread worker, and post the result as a
message (pure helpers, such as core's errors and filter building, they import from core's package APIs).
Core is asyncio: each async call runs through :func:`core.runner.start` (its own loop and thread, waited for
by the worker), never on the app's loop. Tests inject a Backend built on a temporary project.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.config import ConfigWatcher, Project

if TYPE_CHECKING:
    from core.repo import RepositoryApi
    from core.runner import Cancel
    from core.sync import RemoteLink, SyncService
    from tui.messages import UserDetailLoaded

USER_FIELDS = ("userName", "givenName", "sn", "mail", "accountStatus")
SEARCH_FIELDS = ("userName", "givenName", "sn", "mail")
T = TypeVar("T")


def words_to_filter(text: str) -> str:
    """Plain words typed in the users' search box: each word must start userName, givenName, sn or mail."""
    from core.repo import words_filter

    return words_filter(text, SEARCH_FIELDS)


def _wait(main: Callable[[Cancel], Coroutine[Any, Any, T]], what: str, cancel: threading.Event | None = None) -> T:
    """Run ``main`` through core's runner and wait for it in this (worker) thread; ``cancel`` stops it."""
    from core.runner import start

    return start(main, name=f"sfsync-tui-{what}", cancel=cancel).wait()


class Backend:
    """Everything the TUI asks of ``core``, for one project. Thread-safe; every method may block."""

    def __init__(self, project: Project, *, headless_login: bool = False) -> None:
        self.project = project
        #: log in without a browser: fetch the authorize URL ourselves (the demo org auto-approves)
        self.headless_login = headless_login
        self._lock = threading.Lock()
        self._service: SyncService | None = None
        #: the project's files as the app sees them, shared with its SyncService: each call takes the current
        #: look, read again only after a file changed (a save here, a login, an editor, another process)
        self.configs = ConfigWatcher(project)

    # ---- shared objects (opened lazily, once) -------------------------------------------------------
    @property
    def service(self) -> SyncService:
        """The project's SyncService (it opens the repository on first use)."""
        with self._lock:
            if self._service is None:
                from core.sync import SyncService

                self._service = SyncService(self.project, config=self.configs)
            return self._service

    @property
    def repo(self) -> RepositoryApi:
        """The project's repository, the service's own."""
        return self.service.repo

    def close(self) -> None:
        """Close what was opened (called when the app exits): the service closes its repository too."""
        with self._lock:
            service, self._service = self._service, None
        if service is not None:
            service.close()

    # ---- UI preferences -----------------------------------------------------------------------------
    def load_theme(self) -> str | None:
        return self.configs.current().settings.theme

    def save_theme(self, name: str) -> None:
        """Remember the Textual theme chosen in the command palette (``sfsync.toml``, ``theme``)."""
        from core.config import Settings

        settings = Settings.load(self.project)
        if settings.theme != name:
            settings.theme = name
            settings.save(self.project)

    # ---- connector ----------------------------------------------------------------------------------
    def load_connector(self) -> Any:
        """The provisioner file; a secret that cannot be decrypted shows as unset, to be typed again."""
        from core.config import ProvisionerConfig

        return ProvisionerConfig.load(self.project, strict=False)

    def save_connector(self, changes: dict[str, Any], enabled: bool | None) -> Path:
        """Apply the form's changes to the provisioner file (only what changed; unknown keys survive)."""
        from core.config import ProvisionerConfig
        from core.repo import PROVISIONER_OBJECT, Actor, record_config_save

        config = ProvisionerConfig.load(self.project, strict=False)  # a secret typed again replaces a lost one
        before = config.to_data()
        config.update_properties(**changes)
        if enabled is not None:
            config.enabled = enabled
        config.save(self.project)
        record_config_save(self.project, PROVISIONER_OBJECT, before, config.to_data(), Actor.local("tui"),
                           message="Connector screen: save", repo=self.repo)
        return self.project.provisioner_path

    def test_connector(self) -> tuple[dict[str, Any], tuple[int, int] | None]:
        """IDM's test object plus the API usage the last call reported."""
        return _wait(lambda _cancel: self._test(), "test")

    async def _test(self) -> tuple[dict[str, Any], tuple[int, int] | None]:
        from core.errors import ConfigError
        from core.salesforce import SalesforceConnector, config_error_object

        try:
            connector = SalesforceConnector.from_config(self.configs.current())
        except ConfigError as exc:  # e.g. a secret that cannot be decrypted: the reason, as REST shows it
            return config_error_object(exc), None
        async with connector:
            result = await connector.test()
            return result, connector.api_usage

    # ---- mappings and runs --------------------------------------------------------------------------
    def mappings(self) -> list[Any]:
        """The mappings of ``sync.json`` in file order (core's ``Mapping`` objects)."""
        from core.sync import SyncConfig

        config = SyncConfig.of(self.configs.current())
        return [config.get(name) for name in config.names()]

    def reconcile(self, name: str, *, dry_run: bool, on_progress: Callable[[dict[str, Any]], None],
                  cancel: threading.Event, allow_deletions: bool = False) -> dict[str, Any]:
        """Run a reconciliation to its end in this thread; ``on_progress`` gets the run object per page."""
        def progress(run: dict[str, Any]) -> None:
            on_progress(dict(run))  # a copy: the engine keeps its own

        run = _wait(lambda token: self.service.reconcile(name, dry_run=dry_run, on_progress=progress,
                                                         cancel=token.event, allow_deletions=allow_deletions),
                    f"recon-{name}", cancel)
        return run

    def reconcile_user(self, user_id: str) -> list[dict[str, Any]]:
        """reconById of this managed user through every mapping that touches it (in this thread)."""
        return _wait(lambda _cancel: self.service.reconcile_object("user", user_id), "recon-user")

    def cancel_run(self, run_id: str) -> None:
        self.service.cancel(run_id)

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Runs newest first, straight from the repository (so runs of the CLI and REST show too)."""
        return self.repo.runs.list(limit)

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self.repo.runs.get(run_id)

    def audit(self, run_id: str, situation: str | None, status: str | None, limit: int = 500) -> list[dict[str, Any]]:
        """A run's per-record audit entries (start and summary entries left out), filtered in SQL."""
        from core.repo import QueryRequest, equals_filter

        query_filter = equals_filter({"reconId": run_id, "entryType": "entry", "situation": situation,
                                      "status": status})
        result = self.repo.audit.query(QueryRequest(query_filter=query_filter, page_size=limit))
        entries = list(result["result"])
        ids = {e[k] for e in entries for k in ("sourceObjectId", "targetObjectId") if e.get(k)}
        names = self.service.names_of(sorted(ids)) if ids else {}
        for e in entries:  # who: the managed userName of either side, beside the ids
            e["_who"] = names.get(e.get("targetObjectId") or "") or names.get(e.get("sourceObjectId") or "") or ""
        return entries

    # ---- schedules (conf/schedule-*.json; state in the repository) ---------------------------------
    def _mapping_names(self) -> list[str] | None:
        from core.errors import ConfigError
        from core.sync import SyncConfig

        try:
            return SyncConfig.of(self.configs.current()).names()
        except ConfigError:
            return None  # sync.json itself is broken: a schedule's mapping cannot be checked

    def _jobs(self) -> Any:
        from core.schedule import Jobs

        return Jobs(self.project.conf_dir, self.repo, self._mapping_names())

    def schedules(self) -> list[ScheduleRow]:
        """Every schedule file as a row: its timing, IDM's job view (next fire, paused, last result) from
        ``core.schedule.jobs``, or the reason a broken file is refused."""
        from core.errors import ConfigError
        from core.schedule import load_schedule, schedule_files, schedule_id

        jobs = self._jobs()
        states = self.repo.schedules.all()
        rows = []
        for path in schedule_files(self.project.conf_dir):
            sid = schedule_id(path)
            state = states.get(sid) or {}
            try:
                schedule = load_schedule(path, mappings=jobs.mappings)
            except ConfigError as exc:
                file = self._shown_path(path)
                rows.append(_broken_row(sid, path, file, _error_text(exc, file), state))
                continue
            rows.append(_schedule_row(schedule, jobs.to_job(schedule), self._shown_path(path), state))
        return rows

    def _shown_path(self, path: Path) -> str:
        """A project file as the app names it: relative to the project folder (``conf/schedule-x.json``)."""
        try:
            return str(path.relative_to(self.project.root))
        except ValueError:
            return str(path)

    def pause_schedule(self, schedule_id: str, paused: bool) -> None:
        """Pause or resume a job: trigger state in the repository, shared by every process (``Jobs.pause``)."""
        self._jobs().pause(schedule_id, paused)

    def save_schedule(self, schedule_id: str, body: dict[str, Any], *, create: bool) -> ScheduleRow:
        """Write ``conf/schedule-<id>.json`` through ``Jobs.put`` (atomic; key order and unknown keys kept);
        ``create``: refuse when the id is taken. A refused body raises core's ConfigError naming the field."""
        from core.schedule import load_schedule, schedule_path

        jobs = self._jobs()
        job, _ = jobs.put(schedule_id, body, create_only=create)
        path = schedule_path(self.project.conf_dir, schedule_id)
        schedule = load_schedule(path, mappings=jobs.mappings)
        return _schedule_row(schedule, job, self._shown_path(path), self.repo.schedules.get(schedule_id) or {})

    def check_cron(self, expression: str, zone_name: str, now: datetime | None = None) -> CronCheck:
        """Check a Quartz expression with the scheduler's own parser and say it in words (pure and quick: the
        form calls it as you type). ``zone_name`` empty: the machine's zone, as IDM's default."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from core.schedule import CronError, explain_cron, system_zone

        name = zone_name.strip()
        try:
            zone = ZoneInfo(name) if name else system_zone()
        except (ZoneInfoNotFoundError, ValueError):
            return CronCheck(zone_error=f"unknown time zone {name!r} (an IANA name such as UTC or Europe/Paris)")
        try:
            explained = explain_cron(expression, zone, now or datetime.now(UTC))
        except CronError as exc:
            return CronCheck(error=str(exc), position=exc.position)
        return CronCheck(words=explained.words, next_times=explained.next_times, zone=str(zone), tz=zone)

    def describe_interval(self, milliseconds: int) -> str:
        """A simple schedule's repeatInterval in words (pure)."""
        from core.schedule import describe_interval

        return describe_interval(milliseconds)

    def check_zone(self, zone_name: str) -> str | None:
        """Why ``zone_name`` is not a time zone IDM accepts (None when it is, or when empty)."""
        return self.check_cron("0 0 0 * * ?", zone_name).zone_error

    # ---- login --------------------------------------------------------------------------------------
    def login_session(self) -> Any:
        """A login flow to run in a thread worker (see :mod:`tui.screens.login_session`)."""
        from tui.screens.login_session import LoginSession

        # headless (the demo): any free port, since the local org accepts any loopback callback port
        return LoginSession(self.project, headless=self.headless_login, port=0 if self.headless_login else None)

    # ---- users --------------------------------------------------------------------------------------
    def user_source(self) -> UserSource:
        return UserSource(self)

    def check_filter(self, text: str) -> str | None:
        """Why ``text`` is not a valid IDM query filter, or None when it is."""
        from core.repo import filter_error

        return filter_error(text)

    def user_detail(self, user_id: str) -> UserDetailLoaded:
        """The user, its link and the linked Salesforce record fetched live (its failure is kept, not raised)."""
        from tui.messages import UserDetailLoaded

        return UserDetailLoaded(_wait(lambda _cancel: self.service.user_detail(user_id), "user-detail"))

    def validate_user(self, obj: dict[str, Any]) -> dict[str, str]:
        """``managed.json``'s verdict on ``obj``: field -> reason (empty when valid)."""
        from core.repo import ManagedSchema

        schema = ManagedSchema.of(self.configs.current()) or ManagedSchema.load(self.project)  # none: its error
        clean = {k: v for k, v in obj.items() if v is not None and not k.startswith("_")}
        return {e.field: e.message for e in schema.validate(clean)}

    def update_user(self, user_id: str, changes: dict[str, Any], rev: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Patch the changed fields; core runs implicit sync and returns each mapping's result."""
        ops = [{"operation": "remove", "field": f"/{k}"} if v is None
               else {"operation": "replace", "field": f"/{k}", "value": v} for k, v in changes.items()]
        from core.repo import Actor

        return _wait(lambda _cancel: self.service.patch_user(user_id, ops, rev=rev, actor=Actor.local("tui")),
                     "user-save")

    def user_activity(self, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest activity audit entries of ``managed/user/<user_id>``, newest first."""
        return self.repo.activity.for_object(f"managed/user/{user_id}", limit)


@dataclass
class CronCheck:
    """A Quartz expression as the form shows it: the parser's error and its 1-based position, or the
    expression in words (None when not put in words) and its next fire times (UTC)."""

    error: str | None = None
    position: int | None = None
    words: str | None = None
    next_times: list[datetime] = field(default_factory=list)
    zone: str = ""
    zone_error: str | None = None
    tz: Any = None  # the zone itself (a tzinfo), to show the fire times in it

    @property
    def ok(self) -> bool:
        return self.error is None and self.zone_error is None


@dataclass
class ScheduleRow:
    """One ``conf/schedule-<id>.json`` for the Schedules tab (times are UTC)."""

    id: str
    file: str
    data: dict[str, Any] | None  # the file's own object (None when it is not a JSON object)
    action: str | None = None  # reconcile | liveSync
    target: str | None = None  # the mapping (reconcile) or the source (liveSync)
    type: str | None = None
    when: str = ""  # the cron expression, or the interval
    words: str | None = None
    enabled: bool | None = None
    paused: bool = False
    zone: str = ""
    misfire_policy: str = ""
    concurrent: bool = False
    next_fire: datetime | None = None
    last_fire: datetime | None = None
    last_result: dict[str, Any] | None = None
    error: str | None = None

    def concerns(self, mapping: str, source: str | None) -> bool:
        """Shown under ``mapping``: a reconcile of it, a liveSync of its source; a broken file that names
        neither under every mapping (it cannot be told whose it is)."""
        if self.action == "reconcile":
            return self.target == mapping
        if self.action == "liveSync":
            return source is not None and self.target == source
        return self.error is not None


def _error_text(exc: Any, file: str) -> str:
    """core's ConfigError with the file named as the app names it (file:line:col: field: reason)."""
    where = file if exc.line is None else f"{file}:{exc.line}:{exc.column or 1}"
    return ": ".join([where, *([exc.field] if exc.field else []), exc.detail])


def _parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _last_fire(state: dict[str, Any]) -> datetime | None:
    result = state.get("lastResult") or {}
    if result.get("fireTime"):
        return _parse_time(result["fireTime"])
    if state.get("lastFire") is not None:
        return datetime.fromtimestamp(state["lastFire"] / 1000, UTC)
    return None


def _schedule_row(schedule: Any, job: dict[str, Any], file: str, state: dict[str, Any]) -> ScheduleRow:
    from core.schedule import describe_cron, describe_interval

    config = schedule.config
    if schedule.cron is not None:
        when, words = str(config.schedule), describe_cron(str(config.schedule))
    else:
        when, words = f"{config.repeatInterval} ms", describe_interval(config.repeatInterval)
        if config.repeatCount >= 0:
            words += f", {config.repeatCount + 1} time{'s' * (config.repeatCount != 0)}"
    triggers = job.get("triggers") or []
    return ScheduleRow(
        id=schedule.id, file=file, data=dict(schedule.data), action=schedule.action, target=schedule.target,
        type=config.type, when=when, words=words, enabled=config.enabled,
        paused=bool(triggers and triggers[0].get("state") == "PAUSED") or bool(state.get("paused")),
        zone=config.timeZone or f"{schedule.zone} (the machine's)", misfire_policy=config.misfirePolicy,
        concurrent=config.concurrentExecution, next_fire=_parse_time(job.get("nextRunDate")),
        last_fire=_last_fire(state), last_result=job.get("lastResult") or state.get("lastResult"))


def _broken_row(sid: str, path: Path, file: str, error: str, state: dict[str, Any]) -> ScheduleRow:
    """A refused file: its error, and what can still be read of it (so it is listed under its mapping, and
    the form can open it to fix the field)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    row = ScheduleRow(id=sid, file=file, data=data if isinstance(data, dict) else None, error=error,
                      paused=bool(state.get("paused")), last_fire=_last_fire(state),
                      last_result=state.get("lastResult"))
    if isinstance(data, dict):
        raw_ctx = data.get("invokeContext")
        ctx: dict[str, Any] = raw_ctx if isinstance(raw_ctx, dict) else {}
        if isinstance(ctx.get("mapping"), str):
            row.action, row.target = "reconcile", ctx["mapping"]
        elif isinstance(ctx.get("source"), str):
            row.action, row.target = "liveSync", ctx["source"]
        row.type = data.get("type", "cron") if isinstance(data.get("type", "cron"), str) else None
        row.when = str(data.get("schedule") or "") if row.type != "simple" else f"{data.get('repeatInterval')} ms"
        row.enabled = data.get("enabled", True) if isinstance(data.get("enabled", True), bool) else None
    return row


class UserSource:
    """The users table's page source over ``Repository.query`` (paging and sorting in SQLite)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._link: tuple[RemoteLink | None] | None = None

    @property
    def link(self) -> RemoteLink | None:
        """How users are linked to Salesforce (sync.json's mapping between them; None: no mapping joins them),
        read on the first page (in a worker thread), not when the table is built."""
        if self._link is None:
            self._link = (self.backend.service.remote_link("user"),)
        return self._link[0]

    def count(self, query_filter: str, sort: str | None) -> int:
        """The exact number of users matching; ``Repository.query`` reads a one-row page along with it.

        That page is ordered like the table's (``sort``): unsorted it is ``ORDER BY seq LIMIT 2``, which SQLite
        answers by walking the whole table in rowid order when a filter matches few users (a prefix search
        with no hits: 0.2-0.3 s at 100,000), where the sorted page uses the filter's indexes (under 1 ms).
        """
        from core.repo import QueryRequest

        result = self.backend.repo.query(QueryRequest(
            query_filter=query_filter, fields=("_id",), page_size=1, sort_keys=(sort,) if sort else (),
            total_paged_results_policy="EXACT"))
        return int(result["totalPagedResults"])

    def page(self, query_filter: str, sort: str | None, offset: int, limit: int) -> list[dict[str, Any]]:
        from core.repo import QueryRequest

        repo = self.backend.repo
        result = repo.query(QueryRequest(
            query_filter=query_filter, page_size=limit, paged_results_offset=offset,
            sort_keys=(sort,) if sort else (), fields=("_id", *USER_FIELDS)))
        rows = list(result["result"])
        linked = self.link.remote_ids(repo, [r["_id"] for r in rows]) if self.link is not None else {}
        for row in rows:
            row["_link"] = row["_id"] in linked
        return rows
