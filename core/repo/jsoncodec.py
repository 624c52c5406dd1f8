"""The stored JSON's codec: orjson on the hot path, the standard library for what orjson refuses.

A 100k-user reconciliation encodes every managed object and audit entry once and decodes every object it
reads; orjson does both several times faster than ``json``. Its output is the same compact UTF-8 text for
the values the repository stores; for what it refuses (integers beyond 64 bits, non-string keys, lone
surrogates) and for NaN/Infinity (which orjson would silently turn into ``null``) the standard library
answers exactly as before.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

#: datetimes and dataclasses go through ``default`` as with ``json`` (str(), or refused), not orjson's own format
_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_std_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_std_encode_default = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def _has_non_finite(value: Any) -> bool:
    """Whether a float in ``value`` (nested in dicts, lists, tuples) is NaN or infinite. Asked of nearly every
    page (its text has a ``null``), so a loop that skips the common scalars by exact type: twice as fast as
    a recursive ``isinstance`` walk."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        v = pop()
        kind = type(v)
        if kind is str or v is None or kind is int or kind is bool:
            continue
        if kind is dict:
            extend(v.values())
        elif kind is list or kind is tuple:
            extend(v)
        elif isinstance(v, float):
            if not math.isfinite(v):
                return True
        elif isinstance(v, dict):
            extend(v.values())
        elif isinstance(v, (list, tuple)):
            extend(v)
    return False


def encode(obj: Any) -> str:
    """Compact JSON text (``separators=(",", ":")``, non-ASCII as is), as ``json`` would write it."""
    try:
        text = orjson.dumps(obj, option=_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return _std_encode(obj)
    if "null" in text and _has_non_finite(obj):  # orjson writes NaN/Infinity as null; json does not
        return _std_encode(obj)
    return text


def encode_any(obj: Any) -> str:
    """:func:`encode`, with values JSON has no type for written as their ``str()`` (audit entries)."""
    try:
        text = orjson.dumps(obj, default=str, option=_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return _std_encode_default(obj)
    if "null" in text and _has_non_finite(obj):
        return _std_encode_default(obj)
    return text


def decode(text: str | bytes) -> Any:
    """The stored text back as Python values (``json`` for what orjson refuses, e.g. huge integers)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
