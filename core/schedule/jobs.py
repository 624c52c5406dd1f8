"""IDM's ``scheduler/job`` objects over the project's schedule files and the repository's schedule state.

A job is the file's object with IDM's defaults filled in, plus ``_id`` (the file name after ``schedule-``),
``invokeService`` as IDM echoes it (``org.forgerock.openidm.sync``), ``triggers``, ``previousRunDate``,
``nextRunDate`` and sfsync's ``lastResult``. Creating, replacing and deleting a job writes
``conf/schedule-<id>.json`` atomically, so IDM can take the project back (IDM itself keeps REST-made jobs
out of ``conf/``; the issue asks for the files). A replace keeps the file's key order and style, keeps keys
the body still has, and leaves out defaults the file did not spell (a GET then PUT of a job writes the
file back byte for byte). Pausing is trigger state, as in IDM: it lives in the repository, not the file.
"""

from __future__ import annotations

import builtins
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.config.jsonfile import load_json, save_json_atomic
from core.errors import ConfigError
from core.repo.errors import NotFound, PreconditionFailed
from core.schedule.config import (
    DEFAULTS,
    IDM_SERVICE_PREFIX,
    Schedule,
    load_schedules,
    parse_schedule,
    schedule_path,
)
from core.schedule.scheduler import from_ms, iso, to_ms

#: what a job object adds to the file's keys; never written to a file
READ_ONLY = ("_id", "_rev", "triggers", "previousRunDate", "nextRunDate", "lastResult")
GROUP = "scheduler-service-group"


class Jobs:
    """``scheduler/job`` for one project: ``conf_dir`` holds the files, ``repo`` the shared state."""

    def __init__(self, conf_dir: Path, repo: Any, mappings: list[str] | None = None) -> None:
        self.conf_dir = conf_dir
        self.repo = repo
        self.mappings = mappings

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _load(self, job_id: str) -> Schedule:
        path = schedule_path(self.conf_dir, job_id)
        if not path.is_file():
            raise NotFound(f"Schedule {job_id} not found")
        data, text = load_json(path)
        return parse_schedule(job_id, data, path=path, text=text, mappings=self.mappings)

    def to_job(self, schedule: Schedule) -> dict[str, Any]:
        state = self.repo.schedules.get(schedule.id)
        now = self._now()
        job: dict[str, Any] = {"_id": schedule.id, **DEFAULTS, **schedule.data}
        service = str(job["invokeService"])
        if not service.startswith(IDM_SERVICE_PREFIX):
            job["invokeService"] = IDM_SERVICE_PREFIX + service
        paused = bool(state and state["paused"])
        nxt = None
        if schedule.config.enabled:
            anchor = from_ms(state["anchor"]) if state else now
            after = from_ms(state["lastFire"]) if state and state["lastFire"] is not None else anchor
            nxt = schedule.next_after(after, anchor)
        previous = state["lastResult"].get("fireTime") if state and state.get("lastResult") else None
        job["triggers"] = [] if not schedule.config.enabled else [{
            "_id": f"{GROUP}.trigger-{schedule.id}", "group": GROUP, "jobKey": f"{GROUP}.{schedule.id}",
            "state": "PAUSED" if paused else "NORMAL", "nodeId": None}]
        job["previousRunDate"] = previous
        job["nextRunDate"] = iso(nxt)
        job["lastResult"] = state.get("lastResult") if state else None
        return job

    # ---- reads ---------------------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        """Every job whose file loads (a broken file is no job; ``sfsync scheduler --check`` names it)."""
        loaded = load_schedules(self.conf_dir, mappings=self.mappings)
        return [self.to_job(s) for s in loaded.schedules.values()]

    def read(self, job_id: str) -> dict[str, Any]:
        return self.to_job(self._load(job_id))

    # ---- writes --------------------------------------------------------------------------------------------
    def put(self, job_id: str, body: dict[str, Any], create_only: bool = False) -> tuple[dict[str, Any], bool]:
        """Create or replace ``conf/schedule-<id>.json``; ``(job, created)``. ``create_only``: If-None-Match."""
        path = schedule_path(self.conf_dir, job_id)
        exists = path.is_file()
        if exists and create_only:
            raise PreconditionFailed(f"Schedule {job_id} already exists")
        original, text = load_json(path) if exists else ({}, None)
        if not isinstance(original, dict):
            original = {}
        data = _file_object(original, body, exists)
        schedule = parse_schedule(job_id, data, mappings=self.mappings)  # refused: a 400 naming the field
        mode = (os.stat(path).st_mode & 0o777) if exists else 0o644
        save_json_atomic(path, data, mode, original_text=text)
        if not exists:
            self.repo.schedules.forget(job_id)  # an older job of that id: this one starts now
        schedule.path = path
        return self.to_job(schedule), not exists

    def check(self, body: dict[str, Any]) -> None:
        """Refuse (ConfigError naming the field) a body that would not be a valid new job; writes nothing."""
        parse_schedule("check", _file_object({}, body, False), mappings=self.mappings)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        job_id = str(uuid.uuid4())
        job, _ = self.put(job_id, body, create_only=True)
        return job

    def delete(self, job_id: str) -> dict[str, Any]:
        job = self.read(job_id)
        try:
            schedule_path(self.conf_dir, job_id).unlink()
        except FileNotFoundError:
            raise NotFound(f"Schedule {job_id} not found") from None
        except OSError as exc:
            raise ConfigError(f"cannot delete: {exc.strerror}", path=str(schedule_path(self.conf_dir, job_id))) \
                from None
        self.repo.schedules.forget(job_id)
        return job

    def pause(self, job_id: str, paused: bool) -> None:
        self._load(job_id)  # 404 for an unknown job
        self.repo.schedules.set_paused(job_id, paused, to_ms(self._now()))

    def pause_all(self, paused: bool) -> None:
        for schedule in load_schedules(self.conf_dir, mappings=self.mappings).schedules.values():
            self.repo.schedules.set_paused(schedule.id, paused, to_ms(self._now()))

    def executing(self) -> builtins.list[dict[str, Any]]:
        """The jobs firing now, in every process on this project (they share the repository)."""
        out = []
        for fire in self.repo.schedules.executing():
            try:
                job = self.read(fire["scheduleId"])
            except (NotFound, ConfigError):
                continue
            job["firing"] = {"fireTime": iso(from_ms(fire["fireTime"])), "node": fire["node"],
                             "started": iso(from_ms(fire["started"]))}
            out.append(job)
        return out


def _same(key: str, old: Any, new: Any) -> bool:
    if key == "invokeService" and isinstance(old, str) and isinstance(new, str):
        return old.removeprefix(IDM_SERVICE_PREFIX) == new.removeprefix(IDM_SERVICE_PREFIX)
    return bool(old == new and type(old) is type(new))


def _file_object(original: dict[str, Any], body: dict[str, Any], exists: bool) -> dict[str, Any]:
    """What the file holds after a PUT of ``body``: the file's order and spelling for what did not change; a
    new file holds the body as sent (less the read-only keys)."""
    body = {k: v for k, v in body.items() if k not in READ_ONLY}
    out: dict[str, Any] = {}
    for key, value in original.items():
        if key in body:
            out[key] = value if _same(key, value, body[key]) else body[key]
    for key, value in body.items():
        if key in out:
            continue
        if exists and key not in original and key in DEFAULTS and _same(key, DEFAULTS[key], value):
            continue  # a default a GET filled in
        out[key] = value
    return out
