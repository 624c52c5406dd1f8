"""JSON Schema's regular expressions (ECMA-262) checked with Python's :mod:`re`, with ECMA-262's meaning.

A JSON Schema ``pattern`` (managed.json's, and the OpenAPI document's) is an ECMA-262 regular expression; the
same text means something else to Python's ``re``: ``$`` also matches before a final newline, ``\\s`` takes
in U+001C..U+001F and U+0085 (and leaves out U+FEFF), ``\\d`` and ``\\w`` take in every script's digits and
letters, and ``.`` matches ``\\r``, U+2028 and U+2029. :func:`ecma_regex` rewrites those to what ECMA-262 says
(without the ``u`` flag's extras), so the server accepts exactly what a JSON Schema validator accepts.
``\\S``, ``\\D`` and ``\\W`` inside a character class are kept as Python's (no class can hold a complement);
sfsync's own patterns spell their classes out.
"""

from __future__ import annotations

import functools
import re

#: ECMA-262's WhiteSpace and LineTerminator: what its ``\s`` matches (written so Python and ECMA agree)
SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_INSIDE = {"s": SPACE, "d": "0-9", "w": "A-Za-z0-9_"}
_OUTSIDE = {"s": f"[{SPACE}]", "S": f"[^{SPACE}]", "d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]",
            "W": "[^A-Za-z0-9_]"}


def translate(pattern: str) -> str:
    """``pattern`` (ECMA-262) as a Python regular expression with the same meaning (see the module)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            if in_class and n in _INSIDE:
                out.append(_INSIDE[n])
            elif not in_class and n in _OUTSIDE:
                out.append(_OUTSIDE[n])
            else:
                out.append(c + n)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[":
                c = "\\["  # a literal in ECMA-262; Python warns of a future nested set
            out.append(c)
        elif c == "[":
            negated = pattern[i + 1:i + 2] == "^"
            start = i + 1 + negated
            if pattern[start:start + 1] == "]":  # ECMA-262's [] (nothing) and [^] (anything)
                out.append("[\\s\\S]" if negated else "(?!)")
                i = start + 1
                continue
            in_class = True
            out.append("[^" if negated else "[")
            i = start
            continue
        elif c == "$":
            out.append("\\Z")  # the end of the input only
        elif c == ".":
            out.append("[^\\n\\r\\u2028\\u2029]")
        else:
            out.append(c)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=256)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """The compiled :func:`translate` of ``pattern``; use ``.search`` as JSON Schema does (unanchored)."""
    return re.compile(translate(pattern))
