"""Object ids and revisions: UUID4 ``_id``s in bulk, IDM-style ``_rev``s, and ``If-Match`` matching.

``_rev`` is 16 hex digits like IDM's DS-backed repository shows them (``"00000000cfe1fccf"``): the first 8
count the object's writes (0 on create), the last 8 are a CRC-32 of its content, so it changes on every
write and two objects rarely share one.
"""

from __future__ import annotations

import os
import zlib

#: the variant nibble (RFC 4122: binary 10xx) for each random hex digit, uniform over 8, 9, a, b
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def new_ids(n: int) -> list[str]:
    """``n`` random UUID4 strings (RFC 4122 version and variant bits), from one ``os.urandom`` call; built
    as text (version digit set, variant digit mapped) since a recon page asks for thousands at a time."""
    h = os.urandom(16 * n).hex()
    variant = _VARIANT
    return [f"{h[k:k + 8]}-{h[k + 8:k + 12]}-4{h[k + 13:k + 16]}-{variant[h[k + 16]]}{h[k + 17:k + 20]}-{h[k + 20:k + 32]}"
            for k in range(0, 32 * n, 32)]


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
