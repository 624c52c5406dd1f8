"""mask_secret's contract: a long token shows 4+4 characters, a short secret shows nothing of itself."""

from __future__ import annotations

import string

import pytest
from pydantic import SecretStr

from core.config.masking import mask_secret


def shown(masked: str) -> int:
    """How many characters of the secret a masked form reveals."""
    return len(masked.replace("…", ""))


@pytest.mark.parametrize("length", range(1, 16))
def test_a_short_secret_shows_nothing_of_itself(length: int) -> None:
    """Under 16 characters 4+4 would be half the secret or more: the mask is ``…`` alone."""
    secret = (string.ascii_letters * 2)[:length]
    assert mask_secret(secret) == "…"
    assert mask_secret(SecretStr(secret)) == "…"


@pytest.mark.parametrize("length", [8, 9, 12, 15, 16, 17, 24, 40, 88])
def test_no_secret_is_ever_shown_half_or_more(length: int) -> None:
    """Whatever the length, at most half of a secret's characters appear (and only from 16 on)."""
    secret = ("5AepQ7x" * 20)[:length]
    masked = mask_secret(secret)
    assert masked != secret and shown(masked) <= length // 2, masked


def test_a_long_token_shows_its_first_and_last_four() -> None:
    """Enough to tell two tokens apart: ``5Aep…x7Q2``."""
    token = "5Aep" + "k" * 40 + "x7Q2"
    assert mask_secret(token) == "5Aep…x7Q2"
    assert mask_secret(SecretStr(token)) == "5Aep…x7Q2"


@pytest.mark.parametrize("empty", [None, "", SecretStr("")])
def test_no_secret_is_not_set(empty) -> None:
    assert mask_secret(empty) == "(not set)"
