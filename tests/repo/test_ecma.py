"""JSON Schema patterns (ECMA-262) checked by Python with ECMA-262's meaning (core/repo/ecma.py)."""

from __future__ import annotations

import pytest

from core.repo.ecma import ecma_regex
from core.repo.schema import EMAIL_PATTERN


@pytest.mark.parametrize(("pattern", "value", "matches"), [
    ("^a$", "a", True),
    ("^a$", "a\n", False),                 # Python's $ also matches before a final newline
    ("^\\s$", "\x1d", False),              # U+001C..U+001F and U+0085 are \s to Python only
    ("^\\s$", "\x85", False),
    ("^\\s$", "\ufeff", True),             # U+FEFF is \s to ECMA-262 only
    ("^\\s$", "\u2003", True),
    ("^[^\\s@]+$", "a\x1fb", True),
    ("^\\d$", "\u0663", False),            # ARABIC-INDIC DIGIT THREE: \d to Python only
    ("^\\w+$", "é", False),
    ("^.$", "\r", False), ("^.$", "\u2028", False), ("^.$", "x", True),
    ("^[]$", "", False), ("^[^]$", "\n", True),
    ("^[\\]a]$", "]", True),
    ("^[$]$", "$", True),                  # $ inside a class is the character
    ("b", "abc", True),                    # unanchored, as JSON Schema's pattern is
])
def test_patterns_mean_what_ecma_262_says(pattern, value, matches):
    assert (ecma_regex(pattern).search(value) is not None) is matches


@pytest.mark.parametrize(("mail", "ok"), [("a@b.co", True), ("a\x1d@b.co", True), ("a b@c.de", False),
                                          ("a@b.co\n", False), ("a\u00a0@b.co", False), ("a@b", False)])
def test_the_email_policy_is_the_documents_pattern(mail, ok):
    assert (ecma_regex(EMAIL_PATTERN).search(mail) is not None) is ok
