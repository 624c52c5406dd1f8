"""Salesforce record ids: 15-character case-sensitive ids and their 18-character case-safe form.

Clients compare ids, slice key prefixes (``005`` User, ``00e`` Profile, ``00D`` Organization) and some
convert 15 <-> 18 characters, so the emulator mints ids with the real shape and checksum rather than
arbitrary strings.
"""

from __future__ import annotations

import re

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")

USER_PREFIX = "005"
PROFILE_PREFIX = "00e"
ORG_PREFIX = "00D"
LOCATOR_PREFIX = "01g"
LICENSE_PREFIX = "100"


def checksum(id15: str) -> str:
    """The 3-character suffix: for each 5-character chunk, bit i is set when character i is upper case."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX[bits])
    return "".join(out)


def to18(id15: str) -> str:
    """The 18-character form of a 15-character id (18-character ids are returned unchanged)."""
    if len(id15) == 18:
        return id15
    return id15 + checksum(id15)


def make_id(prefix: str, number: int, pod: str = "Dn") -> str:
    """An 18-character id: key prefix, a two-character pod, a reserved ``0``, then ``number`` in base 62."""
    digits = []
    for _ in range(9):
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    return to18(prefix + pod + "0" + "".join(reversed(digits)))


def is_id(value: object) -> bool:
    """True when ``value`` has the shape of a 15- or 18-character Salesforce id."""
    return isinstance(value, str) and bool(_ID_RE.match(value))


def normalize(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when ``value`` is not id-shaped.

    An 18-character id whose suffix does not match its first 15 characters is refused, as Salesforce does.
    """
    if not is_id(value):
        return None
    if len(value) == 15:
        return to18(value)
    if checksum(value[:15]) != value[15:].upper():
        return None
    return value[:15] + checksum(value[:15])
