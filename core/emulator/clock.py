"""Salesforce's date-time text (``2013-05-20T20:49:32.000+0000``) and conversions.

Stored values use exactly this UTC form, so comparing and sorting them as strings is comparing instants;
that keeps 100,000-row filters and sorts cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_dt(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def now() -> str:
    return format_dt(datetime.now(UTC))


def parse_dt(text: str) -> datetime:
    """Parse ISO-8601 as Salesforce accepts it (``Z``, ``+0000``, ``+00:00``, optional milliseconds)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    elif len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit() and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"date-time without a time zone: {text!r}")
    return moment.astimezone(UTC)
