"""Quartz cron expressions (IDM's ``schedule``), evaluated by the ``croniter`` library.

sfsync does not parse cron itself: an expression is checked for Quartz's own rules, its day-of-week field is
renumbered, and the result is handed to croniter (seconds first, optional year), which does the parsing and
the calendar arithmetic. What that gives, in Quartz's terms:

=================  ================================  ==============================================
field (position)   Quartz                            sfsync
=================  ================================  ==============================================
1 seconds          0-59 ``* , - /``                  as Quartz
2 minutes          0-59 ``* , - /``                  as Quartz
3 hours            0-23 ``* , - /``                  as Quartz
4 day-of-month     1-31 ``* , - / ? L W LW L-n``     as Quartz, except ``LW`` and ``L-n`` (refused, named)
5 month            1-12 or JAN-DEC ``* , - /``       as Quartz
6 day-of-week      1-7 or SUN-SAT (1 = Sunday)       as Quartz: ``* , - / ? L nL n#m`` (``nL`` only alone)
7 year (optional)  1970-2099 ``* , - /``             as Quartz
=================  ================================  ==============================================

Quartz's rule that exactly one of day-of-month and day-of-week is ``?`` is enforced; ``?`` anywhere else is
refused. Every refusal is a :class:`CronError` naming the 1-based character position of the field and the
field's name, e.g. ``position 9 (day-of-month "LW"): LW (last weekday of the month) is not supported``.
Times are computed in the schedule's ``timeZone`` (``zoneinfo``) and returned in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from croniter import CroniterBadDateError, CroniterError, croniter

FIELD_NAMES = ("seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year")
DOM, DOW = 3, 5
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # Quartz 1..7
_DAY = r"(?:[1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)"
_DOW_RANGE = re.compile(rf"^(?P<a>{_DAY})(?:-(?P<b>{_DAY}))?(?:/(?P<step>\d+))?$")
_DOW_ALL = re.compile(r"^\*(?:/(?P<step>\d+))?$")
_DOW_LAST = re.compile(rf"^(?P<a>{_DAY})?L$")
_DOW_NTH = re.compile(rf"^(?P<a>{_DAY})#(?P<n>\d+)$")
#: a neutral value per field, so one field can be checked by the library on its own
_NEUTRAL = ("0", "0", "0", "*", "*", "*", "*")


class CronError(ValueError):
    """A Quartz expression sfsync refuses; ``position`` is 1-based in the expression (the field's start)."""

    def __init__(self, message: str, position: int = 1) -> None:
        super().__init__(message)
        self.position = position


def _croniter_day(token: str) -> int:
    """A Quartz day-of-week (1-7 or a name, 1 = Sunday) as croniter's number (0 = Sunday)."""
    return (int(token) - 1) if token.isdigit() else _DAYS.index(token)


def _dow_item(item: str) -> str | None:
    """One comma-separated item of the day-of-week field in croniter's numbering, or None if not Quartz's."""
    if m := _DOW_ALL.match(item):
        return item
    if m := _DOW_RANGE.match(item):
        a = _croniter_day(m["a"])
        if m["b"] is None and m["step"] is not None:  # Quartz "a/n": from a to Saturday, every n
            return f"{a}-6/{m['step']}"
        text = str(a) if m["b"] is None else f"{a}-{_croniter_day(m['b'])}"
        return text + (f"/{m['step']}" if m["step"] else "")
    if m := _DOW_LAST.match(item):
        return "6" if m["a"] is None else f"L{_croniter_day(m['a'])}"  # "L" alone is Saturday in Quartz
    if m := _DOW_NTH.match(item):
        return f"{_croniter_day(m['a'])}#{m['n']}"
    return None


@dataclass(frozen=True)
class QuartzCron:
    """A checked Quartz expression; :meth:`next_after` gives fire times."""

    expression: str
    converted: str

    @classmethod
    def parse(cls, expression: str) -> QuartzCron:
        if not isinstance(expression, str) or not expression.strip():
            raise CronError("a Quartz cron expression is required, e.g. \"0 0/15 * * * ?\"", 1)
        spans = [(m.start() + 1, m.group().upper()) for m in re.finditer(r"\S+", expression)]
        if len(spans) not in (6, 7):
            raise CronError(f"a Quartz expression has 6 or 7 fields (seconds minutes hours day-of-month month "
                            f"day-of-week [year]), this one has {len(spans)}", 1)
        fields = [text for _, text in spans]

        def fail(index: int, reason: str) -> CronError:
            pos, text = spans[index]
            return CronError(f"position {pos} ({FIELD_NAMES[index]} \"{text}\"): {reason}", pos)

        for index, text in enumerate(fields):
            if "?" in text and (index not in (DOM, DOW) or text != "?"):
                raise fail(index, "? (no specific value) is allowed only alone, in day-of-month or day-of-week")
        if (fields[DOM] == "?") == (fields[DOW] == "?"):
            index = DOW if fields[DOM] != "?" else DOM
            raise fail(index, "exactly one of day-of-month and day-of-week must be ? (Quartz cannot combine "
                              "them), e.g. \"0 0 2 * * ?\" or \"0 0 2 ? * MON\"")
        for item in fields[DOM].split(","):
            if item == "LW":
                raise fail(DOM, "LW (last weekday of the month) is not supported; use L or a W day")
            if re.fullmatch(r"L-\d+", item):
                raise fail(DOM, "L-n (n days before the last day) is not supported; use L")
        converted = list(fields)
        converted[DOM] = "*" if fields[DOM] == "?" else fields[DOM]
        if fields[DOW] == "?":
            converted[DOW] = "*"
        else:
            items = [_dow_item(item) for item in fields[DOW].split(",")]
            if any(item is None for item in items):
                raise fail(DOW, "days are 1-7 or SUN-SAT (1 = Sunday), with - , / L or #, e.g. MON-FRI, "
                                "6L (last Friday), 2#1 (first Monday)")
            converted[DOW] = ",".join(item for item in items if item is not None)
        for index in range(len(converted)):  # which field the library refuses, with its position
            probe = list(_NEUTRAL[:len(converted)])
            probe[index] = converted[index]
            if not croniter.is_valid(" ".join(probe), second_at_beginning=True):
                raise fail(index, "not a valid value for this field")
        text = " ".join(converted)
        if not croniter.is_valid(text, second_at_beginning=True):
            raise CronError(f"position 1: \"{expression}\" is not a valid Quartz expression", 1)
        return cls(expression, text)

    def next_after(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """The first fire time strictly after ``moment`` (aware), in UTC; None when there is none any more."""
        start = moment.astimezone(zone)
        try:
            it = croniter(self.converted, start, second_at_beginning=True)
            nxt: datetime = it.get_next(datetime)
        except CroniterBadDateError:
            return None
        except CroniterError as exc:  # pragma: no cover - parse() has checked the expression
            raise CronError(str(exc)) from None
        return nxt.astimezone(UTC)


def validate(expression: str) -> None:
    """Raise :class:`CronError` unless ``expression`` is a Quartz expression sfsync runs."""
    QuartzCron.parse(expression)
