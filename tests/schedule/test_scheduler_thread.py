"""``SchedulerThread`` (``sfsync serve``'s schedules): started through ``core.runner``, it fires beside the
caller, and ``stop()`` ends it and closes what it opened."""

from __future__ import annotations

import threading
import time

from core.config import Project
from core.repo import Repository
from core.schedule import SchedulerThread
from tests.schedule.conftest import write_schedule
from tests.schedule.test_scheduler_command import project_with_users


def test_the_thread_fires_then_stops_on_request(tmp_path):
    root = project_with_users(tmp_path / "p")
    write_schedule(root / "conf", "often", type="simple", repeatInterval=1000)
    fired: list[str] = []
    done = threading.Event()

    def on_fire(line: str) -> None:
        fired.append(line)
        if "often: SUCCESS" in line:
            done.set()

    scheduler = SchedulerThread(Project(root), on_fire=on_fire).start()
    try:
        assert done.wait(120), fired  # generous: a loaded machine; no time is asserted
    finally:
        scheduler.stop(60)
    assert not any(t.name == "sfsync-scheduler" and t.is_alive() for t in threading.enumerate())
    count = len(fired)
    time.sleep(1.5)  # a stopped scheduler fires no more
    assert len(fired) == count
    with Repository.for_project(Project(root)) as repo:
        assert repo.runs.list(10)[0]["state"] == "SUCCESS"
