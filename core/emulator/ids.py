"""Salesforce record ids: 15-character case-sensitive ids and their 18-character case-safe form.

Clients compare ids, slice key prefixes (``005`` User, ``00e`` Profile, ``00D`` Organization) and some
convert 15 <-> 18 characters, so the emulator mints ids with the real shape and checksum rather than
arbitrary strings.
"""

from __future__ import annotations

import re
from functools import lru_cache

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")

USER_PREFIX = "005"
PROFILE_PREFIX = "00e"
ORG_PREFIX = "00D"
LOCATOR_PREFIX = "01g"
LICENSE_PREFIX = "100"


@lru_cache(maxsize=65536)
def _chunk(chunk: str) -> str:
    bits = 0
    for i, ch in enumerate(chunk):
        if "A" <= ch <= "Z":
            bits |= 1 << i
    return _SUFFIX[bits]


def checksum(id15: str) -> str:
    """The 3-character suffix: for each 5-character chunk, bit i is set when character i is upper case."""
    return _chunk(id15[0:5]) + _chunk(id15[5:10]) + _chunk(id15[10:15])


def to18(id15: str) -> str:
    """The 18-character form of a 15-character id (18-character ids are returned unchanged)."""
    if len(id15) == 18:
        return id15
    return id15 + checksum(id15)


def _upper_bits(text: str) -> int:
    return sum(1 << i for i, ch in enumerate(text) if "A" <= ch <= "Z")


_PAIRS = [a + b for a in _BASE62 for b in _BASE62]           # base-62 digit pairs, 0..3843
_PAIR_BITS = [_upper_bits(p) for p in _PAIRS]


@lru_cache(maxsize=1024)
def _high(high: int) -> tuple[str, int]:
    """The first seven base-62 digits and the upper-case bits of the last three of them (ids are minted
    in sequence, so this changes once every 3,844 ids)."""
    text = _base62(high, 7)
    return text, _upper_bits(text[4:])


def make_id(prefix: str, number: int, pod: str = "Dn") -> str:
    """An 18-character id: key prefix, a two-character pod, a reserved ``0``, then ``number`` in base 62
    (nine digits). Fast enough to mint 100,000 ids in a fraction of a second."""
    high, low = divmod(number, 3844)
    high_text, high_bits = _high(high)
    head = prefix + pod + "0"
    digits = high_text + _PAIRS[low]
    suffix = _chunk(head[:5]) + _chunk(head[5] + digits[:4]) + _SUFFIX[high_bits | _PAIR_BITS[low] << 3]
    return head + digits + suffix


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits))


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
