"""Object ids and revisions: UUID4 ``_id``s in bulk, IDM-style ``_rev``s, and ``If-Match`` matching.

``_rev`` is 16 hex digits like IDM's DS-backed repository shows them (``"00000000cfe1fccf"``): the first 8
count the object's writes (0 on create), the last 8 are a CRC-32 of its content, so it changes on every
write and two objects rarely share one.
"""

from __future__ import annotations

import os
import zlib


def new_ids(n: int) -> list[str]:
    """``n`` random UUID4 strings (RFC 4122 version and variant bits), from one ``os.urandom`` call."""
    raw = bytearray(os.urandom(16 * n))
    out = []
    for k in range(0, 16 * n, 16):
        raw[k + 6] = (raw[k + 6] & 0x0F) | 0x40
        raw[k + 8] = (raw[k + 8] & 0x3F) | 0x80
        h = raw[k:k + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def next_rev(previous: str | None, data: str) -> str:
    """The revision after ``previous`` (None: a new object) for the stored JSON ``data``."""
    count = 0
    if previous is not None:
        try:
            count = int(previous[:8], 16) + 1
        except ValueError:
            count = 1
    return f"{count & 0xFFFFFFFF:08x}{zlib.crc32(data.encode()):08x}"


def matches_rev(current: str, wanted: str | None) -> bool:
    """``If-Match``: absent or ``*`` matches any revision; quotes around an ETag are ignored."""
    return wanted is None or wanted.strip() in ("*", "") or wanted.strip().strip('"') == current
