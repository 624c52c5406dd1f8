"""Quartz cron expressions and simple intervals in words ("every 15 minutes", "at 02:00 every day").

Pure functions for front ends (the TUI's schedule form and list). :func:`describe_cron` knows the common
shapes — every n seconds/minutes/hours, fixed times of day, day-of-week lists and ranges, days of the month
(``L``, ``15W``), ``6L`` and ``2#1``, months, a single year — and answers None for any other shape rather
than guess; :func:`explain_cron` then falls back to the next fire times. A step is put in words only when it
divides its field evenly (``0/15`` minutes is every 15 minutes; ``0/7`` is not every 7 minutes: it restarts
each hour), so the words are never wrong, only sometimes missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from core.schedule.cron import DOM, DOW, QuartzCron

DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")  # Quartz 1..7
_DAY_ABBR = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
_MONTH_ABBR = tuple(m[:3].upper() for m in MONTH_NAMES)
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
#: at most this many fixed times of day are listed ("at 02:00 and 14:00")
MAX_TIMES = 4


class _NoWords(Exception):
    """A shape :func:`describe_cron` does not put in words."""


@dataclass(frozen=True)
class _Field:
    """One field reduced to what the describer handles: ``all``, a ``step`` (start, n) or ``values``."""

    kind: str  # "all" | "step" | "values"
    values: tuple[int, ...] = ()
    start: int = 0
    step: int = 0
    ranged: tuple[int, int] | None = None  # "a-b" (one range, kept for "Monday to Friday")


def _number(token: str, names: tuple[str, ...] = (), base: int = 0) -> int:
    if token.isdigit():
        return int(token)
    if token in names:
        return names.index(token) + base
    raise _NoWords


def _field(text: str, low: int, high: int, names: tuple[str, ...] = (), base: int = 0) -> _Field:
    if text in ("*", "?"):
        return _Field("all")
    if m := re.fullmatch(r"(\*|\w+)/(\d+)", text):
        start = low if m[1] == "*" else _number(m[1], names, base)
        return _Field("step", start=start, step=int(m[2]))
    values: list[int] = []
    ranged = None
    for item in text.split(","):
        if m := re.fullmatch(r"(\w+)-(\w+)", item):
            a, b = _number(m[1], names, base), _number(m[2], names, base)
            if b < a:
                raise _NoWords  # a wrapping range: rare, left to the fire times
            values.extend(range(a, b + 1))
            if "," not in text:
                ranged = (a, b)
        else:
            values.append(_number(item, names, base))
    if any(v < low or v > high for v in values):
        raise _NoWords
    return _Field("values", tuple(sorted(set(values))), ranged=ranged)


def _even_step(f: _Field, size: int) -> bool:
    """True when a step fires at equal intervals for ever: it divides the field and starts in the first step."""
    return f.kind == "step" and 0 < f.step < size and size % f.step == 0 and f.start < f.step


def _plural(n: int, unit: str) -> str:
    return f"every {unit}" if n == 1 else f"every {n} {unit}s"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _time(h: int, m: int, s: int) -> str:
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def _single(f: _Field) -> int | None:
    return f.values[0] if f.kind == "values" and len(f.values) == 1 else None


def _hours_window(hours: _Field) -> str:
    """``between 09:00 and 17:59`` for an hour range; "" for every hour."""
    if hours.kind == "all":
        return ""
    if hours.ranged is not None:
        a, b = hours.ranged
        return f" between {a:02d}:00 and {b:02d}:59"
    if hours.kind == "values":
        return " during hour" + ("s " if len(hours.values) > 1 else " ") + _join([f"{h:02d}" for h in hours.values])
    raise _NoWords


def _time_part(sec: _Field, minute: _Field, hour: _Field) -> tuple[str, bool]:
    """The time-of-day words, and whether they are fixed times ("at …", which then say "every day")."""
    s, m = _single(sec), _single(minute)
    if sec.kind == "all" and minute.kind == "all" and hour.kind == "all":
        return "every second", False
    if _even_step(sec, 60) and minute.kind == "all":
        start = f" from second {sec.start}" if sec.start else ""
        return _plural(sec.step, "second") + start + _hours_window(hour), False
    if s is None:
        raise _NoWords
    at_second = f", at second {s}" if s else ""
    if minute.kind == "all":
        return "every minute" + at_second + _hours_window(hour), False
    if _even_step(minute, 60):
        start = f" from minute {minute.start}" if minute.start else ""
        return _plural(minute.step, "minute") + start + at_second + _hours_window(hour), False
    if m is None:
        if minute.kind == "values" and hour.kind == "values" and len(minute.values) * len(hour.values) <= MAX_TIMES:
            times = [_time(h, mm, s) for h in hour.values for mm in minute.values]
            return "at " + _join(times), True
        raise _NoWords
    past = f" at minute {m}" if m else ""
    if hour.kind == "all":
        return "every hour" + past + at_second, False
    if _even_step(hour, 24):
        start = f" from {hour.start:02d}:00" if hour.start else ""
        return _plural(hour.step, "hour") + past + at_second + start, False
    if hour.kind == "values" and hour.ranged is not None and len(hour.values) > 2:
        a, b = hour.ranged
        return f"every hour{past}{at_second} from {a:02d}:{m:02d} to {b:02d}:{m:02d}", False
    if hour.kind == "values" and len(hour.values) <= MAX_TIMES:
        return "at " + _join([_time(h, m, s) for h in hour.values]), True
    raise _NoWords


def _days_of_week(text: str) -> str:
    if m := re.fullmatch(r"(\w+)L", text):
        return f"on the last {DAY_NAMES[_number(m[1], _DAY_ABBR, 1) - 1]} of the month"
    if m := re.fullmatch(r"(\w+)#([1-5])", text):
        return f"on the {_ORDINALS[int(m[2])]} {DAY_NAMES[_number(m[1], _DAY_ABBR, 1) - 1]} of the month"
    if text == "L":
        return "on Saturdays"
    f = _field(text, 1, 7, _DAY_ABBR, 1)
    if f.kind != "values":
        raise _NoWords
    if f.values == (2, 3, 4, 5, 6):
        return "on weekdays"
    if f.values == (1, 7):
        return "at weekends"
    if f.ranged is not None and len(f.values) > 2:
        return f"on {DAY_NAMES[f.ranged[0] - 1]} to {DAY_NAMES[f.ranged[1] - 1]}"
    return "on " + _join([DAY_NAMES[d - 1] + "s" for d in f.values])


def _days_of_month(text: str) -> str:
    if text == "L":
        return "on the last day of the month"
    if m := re.fullmatch(r"(\d+)W", text):
        return f"on the weekday nearest day {int(m[1])} of the month"
    f = _field(text, 1, 31)
    if f.kind == "step":  # Quartz's 1/5: days 1, 6, 11, … of each month (it restarts on the 1st)
        return f"every {f.step} days of the month from day {f.start}"
    if f.kind != "values":
        raise _NoWords
    days = [str(d) for d in f.values]
    return f"on day{'s' if len(days) > 1 else ''} {_join(days)} of the month"


def _months(text: str) -> str:
    f = _field(text, 1, 12, _MONTH_ABBR, 1)
    if f.kind == "all":
        return ""
    if f.kind == "step" and 12 % f.step == 0 and f.start <= f.step:
        start = f" from {MONTH_NAMES[f.start - 1]}" if f.start > 1 else ""
        return f"every {f.step} months{start}"
    if f.kind != "values":
        raise _NoWords
    if f.ranged is not None and len(f.values) > 2:
        return f"from {MONTH_NAMES[f.ranged[0] - 1]} to {MONTH_NAMES[f.ranged[1] - 1]}"
    return "in " + _join([MONTH_NAMES[v - 1] for v in f.values])


def describe_cron(expression: str) -> str | None:
    """``expression`` (a Quartz cron) in words, or None for a shape not put in words.

    Raises :class:`~core.schedule.cron.CronError` when the expression is not valid (checked by the parser the
    scheduler uses). Examples: ``0 0/15 * * * ?`` every 15 minutes; ``0 0 2 * * ?`` at 02:00 every day;
    ``0/30 * * * * ?`` every 30 seconds; ``0 30 8 ? * MON-FRI`` at 08:30 on weekdays.
    """
    QuartzCron.parse(expression)
    fields = expression.upper().split()
    try:
        sec, minute, hour = (_field(fields[i], 0, high) for i, high in ((0, 59), (1, 59), (2, 23)))
        when, fixed = _time_part(sec, minute, hour)
        days = ""
        if fields[DOW] != "?" and fields[DOW] != "*":
            days = _days_of_week(fields[DOW])
        elif fields[DOM] not in ("?", "*"):
            days = _days_of_month(fields[DOM])
        months = _months(fields[4])
        year = ""
        if len(fields) == 7 and fields[6] != "*":
            if not fields[6].isdigit():
                raise _NoWords
            year = f"in {fields[6]}"
    except (_NoWords, IndexError, ValueError, KeyError):
        return None
    parts = [when]
    if days:
        parts.append(days)
    elif fixed and not months and not year:
        parts.append("every day")
    if months:
        parts.append(months)
    if year:
        parts.append(year)
    return " ".join(parts)


def describe_interval(milliseconds: int) -> str:
    """A simple schedule's ``repeatInterval`` in words: ``every 30 seconds``, ``every 2 hours``."""
    if milliseconds <= 0:
        return "once"
    for unit, size in (("day", 86_400_000), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000)):
        if milliseconds % size == 0:
            return _plural(milliseconds // size, unit)
    return f"every {milliseconds:,} ms"


def next_fire_times(cron: QuartzCron, zone: tzinfo, after: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after`` (UTC; fewer when the expression ends)."""
    times: list[datetime] = []
    moment = after
    while len(times) < count:
        nxt = cron.next_after(moment, zone)
        if nxt is None:
            break
        times.append(nxt)
        moment = nxt
    return times


@dataclass(frozen=True)
class CronExplanation:
    """What a form shows under an expression: the words (None when not put in words) and the next times."""

    words: str | None
    next_times: list[datetime] = field(default_factory=list)


def explain_cron(expression: str, zone: tzinfo, after: datetime, count: int = 3) -> CronExplanation:
    """Words for ``expression`` and its next ``count`` fire times after ``after`` in ``zone`` (UTC times).

    Raises :class:`~core.schedule.cron.CronError` for an expression the scheduler refuses.
    """
    cron = QuartzCron.parse(expression)
    return CronExplanation(describe_cron(expression), next_fire_times(cron, zone, after, count))
