"""Fixtures for the scheduler tests: a fake clock (no sleeping), a recording invoker, schedule files."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.repo import Repository
from core.schedule import FireResult, Schedule, Scheduler
from tests.api.conftest import user_account_mapping  # noqa: F401 - used by test_firing

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """``now()`` is set by the test; ``sleep_until`` jumps to the time asked for, at once. ``stop_at``: the
    scheduler given is stopped once the clock reaches that time."""

    def __init__(self, now: datetime) -> None:
        self.t = now
        self.scheduler: Scheduler | None = None
        self.stop_at: datetime | None = None
        self.sleeps: list[datetime] = []

    def now(self) -> datetime:
        return self.t

    def set(self, moment: datetime) -> None:
        self.t = moment

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        self.sleeps.append(when)
        self.t = max(self.t, when)
        if self.stop_at is not None and self.t >= self.stop_at and self.scheduler is not None:
            self.scheduler.stop()
        await asyncio.sleep(0)


class Recorder:
    """An invoker that records when each schedule fired (by the scheduler's clock) and succeeds."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.fired: list[tuple[str, datetime]] = []

    async def __call__(self, schedule: Schedule) -> FireResult:
        self.fired.append((schedule.id, self.clock.now()))
        return FireResult("SUCCESS", f"fired {schedule.id}")


def at(text: str) -> datetime:
    """A UTC time from ``2026-05-01T10:00:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write_schedule(conf: Path, job_id: str, **config) -> Path:
    body = {"enabled": True, "type": "cron", "invokeService": "sync",
            "invokeContext": {"action": "reconcile", "mapping": "userAccount"}, **config}
    path = conf / f"schedule-{job_id}.json"
    conf.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=4))
    return path


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    (tmp_path / "conf").mkdir()
    return tmp_path / "conf"


@pytest.fixture
def repo(tmp_path: Path):
    repository = Repository.open(tmp_path / "db" / "sfsync.sqlite3")
    yield repository
    repository.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at("2026-05-01T09:59:30"))


@pytest.fixture
def make_scheduler(conf: Path, clock: FakeClock):
    """``make_scheduler(repo, invoke=None)``: a Scheduler over ``conf`` on the fake clock (a Recorder by default)."""

    def make(repository, invoke=None, **options) -> tuple[Scheduler, Recorder | None]:
        recorder = None
        if invoke is None:
            invoke = recorder = Recorder(clock)
        scheduler = Scheduler(conf, repository, invoke, clock=clock, on_fire=lambda line: None, **options)
        clock.scheduler = scheduler
        return scheduler, recorder

    return make
