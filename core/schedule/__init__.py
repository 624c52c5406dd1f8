"""Schedules in IDM's own format (``conf/schedule-*.json``), fired once per fire time across processes.

- :mod:`core.schedule.cron`: Quartz expressions (checked, converted, evaluated by croniter);
- :mod:`core.schedule.config`: the files (``parse_schedule``, ``load_schedules``), fire times;
- :mod:`core.schedule.scheduler`: :class:`Scheduler` (injectable :class:`Clock`), misfire and overlap rules;
- :mod:`core.schedule.jobs`: IDM's ``scheduler/job`` objects, and the writes back to ``conf/``;
- :mod:`core.schedule.runner`: :class:`SchedulerThread` for ``sfsync serve``;
- :mod:`core.schedule.describe`: expressions and intervals in words, for front ends.
State shared by processes lives in the repository (``Repository.schedules``, ``core/repo/schedules.py``).
"""

from core.schedule.config import (
    ID_PATTERN,
    Loaded,
    Schedule,
    ScheduleConfig,
    load_schedule,
    load_schedules,
    parse_schedule,
    schedule_files,
    schedule_id,
    schedule_path,
    system_zone,
)
from core.schedule.cron import CronError, QuartzCron
from core.schedule.describe import CronExplanation, describe_cron, describe_interval, explain_cron
from core.schedule.jobs import Jobs
from core.schedule.runner import SchedulerThread
from core.schedule.scheduler import (
    MISFIRE_THRESHOLD,
    Clock,
    FireResult,
    Firing,
    Scheduler,
    SyncInvoker,
    SystemClock,
    iso,
)

__all__ = [
    "ID_PATTERN", "Jobs", "MISFIRE_THRESHOLD", "Clock", "CronError", "CronExplanation", "FireResult", "Firing", "Loaded",
    "QuartzCron", "Schedule", "ScheduleConfig", "Scheduler", "SchedulerThread", "SyncInvoker", "SystemClock",
    "describe_cron", "describe_interval", "explain_cron", "iso", "load_schedule", "load_schedules", "parse_schedule",
    "schedule_files", "schedule_id", "schedule_path", "system_zone",
]
