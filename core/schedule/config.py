"""IDM's schedule files, ``conf/schedule-<id>.json``: reading, checking, fire times.

A file is IDM's (``reference/idm-beyond-the-sample.md`` §3.1) with IDM's defaults: ``enabled`` true,
``persisted`` true (8.x), ``type`` cron, ``repeatInterval`` 0, ``repeatCount`` -1, ``misfirePolicy``
fireAndProceed, ``concurrentExecution`` false, ``invokeLogLevel`` info. Unknown keys are kept. What sfsync runs:

- ``invokeService`` ``sync`` (or ``org.forgerock.openidm.sync``) with ``invokeContext`` ``{"action": "reconcile",
  "mapping": NAME}``: a reconciliation of a mapping of ``conf/sync.json``;
- ``invokeService`` ``provisioner`` with ``{"action": "liveSync", "source": "system/<name>/<type>"}``: one liveSync
  tick of that source (``SyncService.livesync``, :mod:`core.sync.livesync`);
- any other service (``script``, ``taskscanner``, …) or action is refused at load, naming the file and field.

A refused file is a :class:`~core.errors.ConfigError` naming the file, line and column where the field is, the
field, and for a cron expression the position in it; the other schedules load regardless.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic import ValidationError as PydanticError

from core.config.jsonfile import display_path, load_json
from core.errors import ConfigError
from core.schedule.cron import CronError, QuartzCron

FILE_PREFIX = "schedule-"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SERVICES = {"sync": "reconcile", "provisioner": "liveSync"}
IDM_SERVICE_PREFIX = "org.forgerock.openidm."


class ScheduleConfig(BaseModel):
    """The keys of a schedule file IDM defines, with IDM's defaults; others are kept as they are."""

    model_config = ConfigDict(extra="allow")

    enabled: StrictBool = True
    persisted: StrictBool = True
    recoverable: StrictBool = False
    concurrentExecution: StrictBool = False
    type: Literal["cron", "simple"] = "cron"
    schedule: StrictStr | None = None
    repeatInterval: StrictInt = Field(0, ge=0)
    repeatCount: StrictInt = Field(-1, ge=-1)
    startTime: StrictStr | None = None
    endTime: StrictStr | None = None
    timeZone: StrictStr | None = None
    misfirePolicy: Literal["fireAndProceed", "doNothing"] = "fireAndProceed"
    invokeService: StrictStr
    invokeContext: dict[str, Any]
    invokeLogLevel: Literal["trace", "debug", "info", "warn", "error", "fatal"] = "info"


#: what a job object shows for a key the file leaves out
DEFAULTS: dict[str, Any] = {name: f.default for name, f in ScheduleConfig.model_fields.items() if not f.is_required()}


def schedule_id(path: str | os.PathLike[str]) -> str:
    """IDM's convention: ``conf/schedule-<id>.json`` is the job ``<id>``."""
    return Path(path).name[len(FILE_PREFIX):-len(".json")]


def schedule_path(conf_dir: Path, job_id: str) -> Path:
    return conf_dir / f"{FILE_PREFIX}{job_id}.json"


def system_zone() -> tzinfo:
    """The machine's zone (IDM's default ``timeZone``): ``$TZ``, else ``/etc/localtime``'s name, else its offset."""
    for name in (os.environ.get("TZ", "").lstrip(":"), _localtime_name()):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
    return datetime.now().astimezone().tzinfo or UTC


def _localtime_name() -> str:
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return ""
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""


def _line_col(text: str | None, keys: tuple[str, ...]) -> tuple[int | None, int | None]:
    """Where ``keys`` (a path of object keys) is in ``text``: the line and the column of its value."""
    if not text:
        return None, None
    pos = 0
    for key in keys:
        m = re.compile(r'"' + re.escape(key) + r'"\s*:\s*').search(text, pos)
        if m is None:
            return None, None
        pos = m.end()
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


@dataclass
class Schedule:
    """One checked schedule: its config, and the times it fires."""

    id: str
    config: ScheduleConfig
    data: dict[str, Any]  # the file's own object (unknown keys, key order)
    path: Path | None = None
    text: str | None = None  # the file's text as read (a save of unchanged data writes it back as it was)
    cron: QuartzCron | None = None
    zone: tzinfo = field(default=UTC)
    start: datetime | None = None
    end: datetime | None = None

    @property
    def action(self) -> str:
        return str(self.config.invokeContext["action"])

    @property
    def target(self) -> str:
        """The mapping (reconcile) or source (liveSync) a firing works on."""
        ctx = self.config.invokeContext
        return str(ctx["mapping"] if self.action == "reconcile" else ctx["source"])

    def describe(self) -> str:
        when = self.config.schedule if self.cron else f"every {self.config.repeatInterval} ms"
        return f"{self.id}: {self.action} {self.target} ({self.config.type} {when})"

    # ---- fire times ----------------------------------------------------------------------------------------
    def _simple_base(self, anchor: datetime) -> datetime:
        return self.start if self.start is not None and self.start > anchor else anchor

    def next_after(self, moment: datetime, anchor: datetime) -> datetime | None:
        """The first fire time strictly after ``moment``; a simple schedule's times start at ``anchor`` (when it
        was first seen), or at its startTime when that is later, as IDM starts a job "now" by default."""
        if self.cron is not None:
            floor = moment
            if self.start is not None and self.start - timedelta(seconds=1) > floor:
                floor = self.start - timedelta(seconds=1)
            nxt = self.cron.next_after(floor, self.zone)
        else:
            base = self._simple_base(anchor)
            interval = timedelta(milliseconds=self.config.repeatInterval)
            if moment < base:
                k = 0
            elif not interval:
                return None  # every repeat is at base (back to back): they coalesce into one firing
            else:
                k = (moment - base) // interval + 1
            if self.config.repeatCount >= 0 and k > self.config.repeatCount:
                return None
            nxt = base + k * interval
        if nxt is not None and self.end is not None and nxt > self.end:
            return None
        return nxt

    def due(self, after: datetime, now: datetime, anchor: datetime, cap: int = 1000,
            ) -> tuple[datetime, datetime, int] | None:
        """``(first, last, count)`` of the fire times in ``(after, now]``, or None; ``count`` stops at ``cap``."""
        first = self.next_after(after, anchor)
        if first is None or first > now:
            return None
        last, count = first, 1
        if self.cron is None and self.config.repeatInterval:
            interval = timedelta(milliseconds=self.config.repeatInterval)
            base = self._simple_base(anchor)
            k_last = (now - base) // interval
            if self.config.repeatCount >= 0:
                k_last = min(k_last, self.config.repeatCount)
            last = base + k_last * interval
            if self.end is not None:
                while last > self.end:
                    last -= interval
            return first, last, int((last - first) / interval) + 1
        while count < cap:
            nxt = self.next_after(last, anchor)
            if nxt is None or nxt > now:
                break
            last, count = nxt, count + 1
        return first, last, count


def _zone(name: str | None, where: str, text: str | None) -> tzinfo:
    if not name:
        return system_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        line, col = _line_col(text, ("timeZone",))
        raise ConfigError(f"unknown time zone {name!r} (an IANA name such as UTC or Europe/Paris)",
                          path=where, field="timeZone", line=line, column=col) from None


def _time(value: str | None, key: str, zone: tzinfo, where: str, text: str | None) -> datetime | None:
    """IDM's ``yyyy-MM-dd'T'HH:mm:ss[+hh:mm]``; without an offset, in the schedule's zone; empty = none."""
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        line, col = _line_col(text, (key,))
        raise ConfigError(f"{value!r} is not a time like 2026-05-01T02:00:00 or 2026-05-01T02:00:00+02:00",
                          path=where, field=key, line=line, column=col) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def parse_schedule(job_id: str, data: Any, *, path: Path | None = None, text: str | None = None,
                   mappings: list[str] | None = None) -> Schedule:
    """Check one schedule object; a :class:`ConfigError` names the file (or ``scheduler/job/<id>``) and field.

    ``mappings``: the names in sync.json, so a reconcile of an unknown mapping is refused at load.
    """
    where = display_path(path) if path is not None else f"scheduler/job/{job_id}"

    def refuse(message: str, *keys: str) -> ConfigError:
        line, col = _line_col(text, keys)
        return ConfigError(message, path=where, field=".".join(keys) or None, line=line, column=col)

    if not ID_PATTERN.match(job_id):
        raise refuse(f"the schedule id {job_id!r} may hold only letters, digits, '.', '_' and '-'")
    if not isinstance(data, dict):
        raise refuse("a schedule is a JSON object")
    try:
        config = ScheduleConfig.model_validate(data)
    except PydanticError as exc:
        err = exc.errors()[0]
        keys = tuple(str(k) for k in err["loc"])
        message = "is required" if err["type"] == "missing" else err["msg"]
        raise refuse(message, *keys) from None
    service = config.invokeService.removeprefix(IDM_SERVICE_PREFIX).lower()
    if service not in SERVICES:
        raise refuse(f"{config.invokeService!r} is not supported by sfsync (supported: \"sync\" with action "
                     f"reconcile, \"provisioner\" with action liveSync)", "invokeService")
    action = config.invokeContext.get("action")
    if action != SERVICES[service]:
        raise refuse(f"{action!r} is not an action sfsync runs with invokeService {config.invokeService!r} "
                     f"(expected {SERVICES[service]!r})", "invokeContext", "action")
    if action == "reconcile":
        mapping = config.invokeContext.get("mapping")
        if not isinstance(mapping, str) or not mapping:
            raise refuse("a reconcile needs the mapping's name, e.g. \"systemSalesforceUser_managedUser\"",
                         "invokeContext", "mapping")
        if mappings is not None and mapping not in mappings:
            raise refuse(f"no mapping named {mapping!r} in conf/sync.json (known: {', '.join(mappings) or 'none'})",
                         "invokeContext", "mapping")
    else:
        source = config.invokeContext.get("source")
        if not isinstance(source, str) or not source.startswith("system/"):
            raise refuse("a liveSync needs its source, e.g. \"system/salesforce/User\"", "invokeContext", "source")
    zone = _zone(config.timeZone, where, text)
    cron = None
    if config.type == "cron":
        if config.schedule is None:
            raise refuse("a cron schedule needs a Quartz expression, e.g. \"0 0/15 * * * ?\"", "schedule")
        try:
            cron = QuartzCron.parse(config.schedule)
        except CronError as exc:
            line, col = _line_col(text, ("schedule",))
            raise ConfigError(str(exc), path=where, field="schedule", line=line,
                              column=None if col is None else col + exc.position) from None
    start = _time(config.startTime, "startTime", zone, where, text)
    end = _time(config.endTime, "endTime", zone, where, text)
    if start is not None and end is not None and end < start:
        raise refuse("endTime is before startTime", "endTime")
    return Schedule(job_id, config, dict(data), path, text, cron, zone, start, end)


def load_schedule(path: Path, *, mappings: list[str] | None = None) -> Schedule:
    data, text = load_json(path)
    return parse_schedule(schedule_id(path), data, path=path, text=text, mappings=mappings)


@dataclass
class Loaded:
    """The project's schedules that load, and a ConfigError per file that does not."""

    schedules: dict[str, Schedule]
    errors: list[ConfigError]


def schedule_files(conf_dir: Path) -> list[Path]:
    return sorted(p for p in conf_dir.glob(f"{FILE_PREFIX}*.json") if p.is_file())


def load_schedules(conf_dir: Path, *, mappings: list[str] | None = None) -> Loaded:
    """Every ``conf/schedule-*.json``; a broken one is reported and the others load."""
    loaded = Loaded({}, [])
    for path in schedule_files(conf_dir):
        try:
            schedule = load_schedule(path, mappings=mappings)
        except ConfigError as exc:
            loaded.errors.append(exc)
        else:
            loaded.schedules[schedule.id] = schedule
    return loaded
