"""Quartz expressions: converted for croniter, evaluated in the schedule's zone, refusals name the position."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.schedule import CronError, QuartzCron


def times(expr: str, start: datetime, n: int = 3, zone=UTC) -> list[str]:
    cron, out, t = QuartzCron.parse(expr), [], start
    for _ in range(n):
        t = cron.next_after(t, zone)
        out.append(t.strftime("%Y-%m-%d %a %H:%M:%S"))
    return out


START = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize("expr, expected", [
    ("0 0/15 * * * ?", ["2026-03-28 Sat 11:15:00", "2026-03-28 Sat 11:30:00", "2026-03-28 Sat 11:45:00"]),
    ("0/15 * * * * ?", ["2026-03-28 Sat 11:00:15", "2026-03-28 Sat 11:00:30", "2026-03-28 Sat 11:00:45"]),
    ("0 15 10 ? * MON-FRI", ["2026-03-30 Mon 10:15:00", "2026-03-31 Tue 10:15:00", "2026-04-01 Wed 10:15:00"]),
    ("0 0 3 ? * 1", ["2026-03-29 Sun 03:00:00", "2026-04-05 Sun 03:00:00", "2026-04-12 Sun 03:00:00"]),  # 1 = SUN
    ("0 0 3 ? * 7", ["2026-04-04 Sat 03:00:00", "2026-04-11 Sat 03:00:00", "2026-04-18 Sat 03:00:00"]),
    ("0 0 0 L * ?", ["2026-03-31 Tue 00:00:00", "2026-04-30 Thu 00:00:00", "2026-05-31 Sun 00:00:00"]),
    ("0 0 0 ? * 6L", ["2026-04-24 Fri 00:00:00", "2026-05-29 Fri 00:00:00", "2026-06-26 Fri 00:00:00"]),
    ("0 0 0 ? * 2#1", ["2026-04-06 Mon 00:00:00", "2026-05-04 Mon 00:00:00", "2026-06-01 Mon 00:00:00"]),
    ("0 0 0 15W * ?", ["2026-04-15 Wed 00:00:00", "2026-05-15 Fri 00:00:00", "2026-06-15 Mon 00:00:00"]),
    ("0 0 12 1 1 ? 2027-2028", ["2027-01-01 Fri 12:00:00", "2028-01-01 Sat 12:00:00"]),
])
def test_quartz_expressions_fire_when_quartz_would(expr, expected):
    assert times(expr, START, len(expected)) == expected


def test_a_year_field_ends_the_schedule():
    cron = QuartzCron.parse("0 0 12 1 1 ? 2027")
    assert cron.next_after(datetime(2027, 1, 1, 12, tzinfo=UTC), UTC) is None


def test_time_zone_is_honoured_and_answers_in_utc():
    paris = ZoneInfo("Europe/Paris")
    # 09:00 in Paris: 08:00 UTC in winter (CET), 07:00 UTC from 29 March (CEST)
    assert times("0 0 9 * * ?", datetime(2026, 3, 27, 12, tzinfo=UTC), 2, paris) == [
        "2026-03-28 Sat 08:00:00", "2026-03-29 Sun 07:00:00"]


@pytest.mark.parametrize("expr, position, words", [
    ("0 0 0 LW * ?", 7, "LW"),
    ("0 0 0 L-3 * ?", 7, "L-n"),
    ("0 0 0 * * *", 11, "exactly one of day-of-month and day-of-week"),
    ("0 0 0 ? * ?", 7, "exactly one"),
    ("0 61 * * * ?", 3, "minutes"),
    ("0 0 0 ? * 8", 11, "1-7 or SUN-SAT"),
    ("0 ? 0 * * ?", 3, "? (no specific value)"),
    ("0 0 0 * * ? 1900", 13, "year"),
    ("0 0 0", 1, "6 or 7 fields"),
])
def test_refusals_name_the_position(expr, position, words):
    with pytest.raises(CronError) as caught:
        QuartzCron.parse(expr)
    assert caught.value.position == position
    assert words in str(caught.value)


@pytest.mark.parametrize("expr, expected", [
    ("0 0 0 ? * 2,4", ["2026-03-30 Mon 00:00:00", "2026-04-01 Wed 00:00:00", "2026-04-06 Mon 00:00:00"]),
    ("0 0 0 ? * 2/2", ["2026-03-30 Mon 00:00:00", "2026-04-01 Wed 00:00:00", "2026-04-03 Fri 00:00:00"]),
    ("0 0 0 ? * MON-THU/2", ["2026-03-30 Mon 00:00:00", "2026-04-01 Wed 00:00:00", "2026-04-06 Mon 00:00:00"]),
    ("0 0 0 ? * */3", ["2026-03-29 Sun 00:00:00", "2026-04-01 Wed 00:00:00", "2026-04-04 Sat 00:00:00"]),
    ("0 0 0 ? * L", ["2026-04-04 Sat 00:00:00", "2026-04-11 Sat 00:00:00", "2026-04-18 Sat 00:00:00"]),
])
def test_day_of_week_lists_steps_and_last(expr, expected):
    """Lists, ``a/n`` (from a to Saturday every n), ranges with a step, ``*/n`` and ``L`` alone (Saturday)."""
    assert times(expr, START, len(expected)) == expected


@pytest.mark.parametrize("expr, position, message", [
    ("", 1, 'a Quartz cron expression is required, e.g. "0 0/15 * * * ?"'),
    ("0 0 0", 1, "a Quartz expression has 6 or 7 fields (seconds minutes hours day-of-month month day-of-week "
                 "[year]), this one has 3"),
    ("0 ? 0 * * ?", 3, 'position 3 (minutes "?"): ? (no specific value) is allowed only alone, in day-of-month '
                       "or day-of-week"),
    ("0 0 0 * * *", 11, 'position 11 (day-of-week "*"): exactly one of day-of-month and day-of-week must be ? '
                        '(Quartz cannot combine them), e.g. "0 0 2 * * ?" or "0 0 2 ? * MON"'),
    ("0 0 0 lw * ?", 7, 'position 7 (day-of-month "LW"): LW (last weekday of the month) is not supported; '
                        "use L or a W day"),
    ("0 0 0 1,LW * ?", 7, 'position 7 (day-of-month "1,LW"): LW (last weekday of the month) is not supported; '
                          "use L or a W day"),
    ("0 0 0 L-3 * ?", 7, 'position 7 (day-of-month "L-3"): L-n (n days before the last day) is not supported; '
                         "use L"),
    ("0 0 0 ? * 2,8", 11, 'position 11 (day-of-week "2,8"): days are 1-7 or SUN-SAT (1 = Sunday), with - , / L '
                          "or #, e.g. MON-FRI, 6L (last Friday), 2#1 (first Monday)"),
    ("0 61 * * * ?", 3, 'position 3 (minutes "61"): not a valid value for this field'),
])
def test_refusals_say_exactly_what_is_wrong(expr, position, message):
    """The whole message a user sees: the position, the field's name and text as read, and the rule."""
    with pytest.raises(CronError) as caught:
        QuartzCron.parse(expr)
    assert (caught.value.position, str(caught.value)) == (position, message)


def test_a_missing_expression_is_refused_and_a_good_one_is_kept_as_written():
    """``None`` is refused like an empty text; a parsed expression keeps its own text; ``validate`` passes a
    good expression and refuses a bad one; a CronError without a position points at the start."""
    from core.schedule.cron import validate

    with pytest.raises(CronError, match="is required"):
        QuartzCron.parse(None)  # type: ignore[arg-type]
    assert QuartzCron.parse("0 0 3 ? * mon").expression == "0 0 3 ? * mon"
    assert validate("0 0 3 ? * MON") is None
    with pytest.raises(CronError):
        validate("0 0 3 * * MON")
    assert CronError("any").position == 1


def test_fire_times_are_in_utc_whatever_the_machine_zone(monkeypatch):
    """The answer is in UTC, not in the zone the machine happens to run in."""
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        nxt = QuartzCron.parse("0 0 9 * * ?").next_after(START, UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert nxt.utcoffset().total_seconds() == 0 and nxt.hour == 9
