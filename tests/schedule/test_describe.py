"""Quartz expressions in words (core/schedule/describe.py): the common shapes, and None where words would guess."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.schedule import CronError, QuartzCron
from core.schedule.describe import describe_cron, describe_interval, explain_cron, next_fire_times


@pytest.mark.parametrize(("expression", "words"), [
    ("0 0/15 * * * ?", "every 15 minutes"),
    ("0 */15 * * * ?", "every 15 minutes"),
    ("0 5/15 * * * ?", "every 15 minutes from minute 5"),
    ("0 0 2 * * ?", "at 02:00 every day"),
    ("0/30 * * * * ?", "every 30 seconds"),
    ("*/10 * * * * ?", "every 10 seconds"),
    ("* * * * * ?", "every second"),
    ("0 * * * * ?", "every minute"),
    ("30 * * * * ?", "every minute, at second 30"),
    ("0 0 * * * ?", "every hour"),
    ("0 30 * * * ?", "every hour at minute 30"),
    ("0 0 0/2 * * ?", "every 2 hours"),
    ("0 15 */6 * * ?", "every 6 hours at minute 15"),
    ("0 30 8 ? * MON-FRI", "at 08:30 on weekdays"),
    ("0 30 8 ? * 2-6", "at 08:30 on weekdays"),
    ("0 0 10 ? * SAT,SUN", "at 10:00 at weekends"),
    ("0 0 9 ? * MON", "at 09:00 on Mondays"),
    ("0 0 9 ? * 2,4,6", "at 09:00 on Mondays, Wednesdays and Fridays"),
    ("0 0 9 ? * TUE-THU", "at 09:00 on Tuesday to Thursday"),
    ("0 0 2,14 * * ?", "at 02:00 and 14:00 every day"),
    ("0 0,30 9 * * ?", "at 09:00 and 09:30 every day"),
    ("15 0 2 * * ?", "at 02:00:15 every day"),
    ("0 0 0 1 * ?", "at 00:00 on day 1 of the month"),
    ("0 0 0 1,15 * ?", "at 00:00 on days 1 and 15 of the month"),
    ("0 0 23 L * ?", "at 23:00 on the last day of the month"),
    ("0 0 6 15W * ?", "at 06:00 on the weekday nearest day 15 of the month"),
    ("0 0 22 ? * 6L", "at 22:00 on the last Friday of the month"),
    ("0 0 8 ? * 2#1", "at 08:00 on the first Monday of the month"),
    ("0 0 0 1 JAN ?", "at 00:00 on day 1 of the month in January"),
    ("0 0 3 ? * SUN 2027", "at 03:00 on Sundays in 2027"),
    ("0 0 0 ? JAN,JUL MON", "at 00:00 on Mondays in January and July"),
    ("0 0/5 9-17 ? * MON-FRI", "every 5 minutes between 09:00 and 17:59 on weekdays"),
    ("0 0 9-17 * * ?", "every hour from 09:00 to 17:00"),
    ("0 0 0 1 1/3 ?", "at 00:00 on day 1 of the month every 3 months"),
])
def test_common_shapes_in_words(expression, words):
    assert describe_cron(expression) == words


@pytest.mark.parametrize("expression", [
    "0 0/7 * * * ?",      # 0, 7, … 56 then 0 again: not every 7 minutes
    "0 0 0/5 * * ?",      # likewise for hours
    "0 0/15 */2 * * ?",   # a step in two fields
    "0 1,2,3 4,5 * * ?",  # six times: too many to list
    "0 0 0 ? * MON 2026-2028",
])
def test_other_shapes_get_no_words(expression):
    assert describe_cron(expression) is None


def test_an_invalid_expression_raises_the_parsers_error_with_its_position():
    with pytest.raises(CronError) as info:
        describe_cron("0 0 2 LW * ?")
    assert info.value.position == 7 and "LW" in str(info.value)


def test_explain_gives_the_next_three_times_in_the_schedules_zone():
    after = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    explained = explain_cron("0 0 2 * * ?", ZoneInfo("Europe/Paris"), after)
    assert explained.words == "at 02:00 every day"
    assert explained.next_times == [datetime(2026, 5, d, 0, 0, tzinfo=UTC) for d in (2, 3, 4)]  # 02:00 CEST
    odd = explain_cron("0 0/7 * * * ?", UTC, after)
    assert odd.words is None
    assert [t.minute for t in odd.next_times] == [7, 14, 21]


def test_next_fire_times_stop_when_the_expression_ends():
    cron = QuartzCron.parse("0 0 0 1 1 ? 2027")
    times = next_fire_times(cron, UTC, datetime(2026, 5, 1, tzinfo=UTC), count=3)
    assert times == [datetime(2027, 1, 1, tzinfo=UTC)]


@pytest.mark.parametrize(("ms", "words"), [
    (30_000, "every 30 seconds"), (1000, "every second"), (900_000, "every 15 minutes"),
    (3_600_000, "every hour"), (7_200_000, "every 2 hours"), (86_400_000, "every day"), (1500, "every 1,500 ms"),
    (0, "once"),
])
def test_simple_intervals_in_words(ms, words):
    assert describe_interval(ms) == words
