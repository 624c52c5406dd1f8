"""mask_secret's contract: a long token shows 4+4 characters, a short secret shows nothing of itself."""

from __future__ import annotations

import string

import pytest
from pydantic import SecretStr

from core.config.masking import ENCRYPTED_MASK, PASSWORD_MASK, is_secret_name, mask_secret, mask_secrets


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


@pytest.mark.parametrize("name", ["password", "Password", "passphrase", "clientSecret", "refreshToken",
                                  "access_token", "credentials", "privateKey", "PRIVATE_KEY", "apiKey", "api_key"])
def test_a_field_named_like_a_secret_is_secret(name: str) -> None:
    """Any of the secret words, anywhere in the name, in any case."""
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["userName", "mail", "givenName", "key", "private", "api", "pass"])
def test_an_ordinary_field_is_not_secret(name: str) -> None:
    """Names that only resemble a secret word are left alone."""
    assert not is_secret_name(name)


def test_mask_secrets_masks_by_field_kind() -> None:
    """A token keeps its ends, a password shows nothing, a non-text secret shows nothing, ``None`` stays
    ``None``, a ``$crypto`` object is just "encrypted", and every other field is kept as it is."""
    token = "5Aep" + "k" * 40 + "x7Q2"
    data = {"refreshToken": token, "userPassword": "correct horse battery staple", "clientSecret": 12345,
            "apiKey": None, "privateKey": {"$crypto": {"value": "x"}}, "accessToken": {"plain": "object"},
            "mail": "a@b.c", "count": 3}
    assert mask_secrets(data) == {
        "refreshToken": "5Aep…x7Q2", "userPassword": PASSWORD_MASK, "clientSecret": PASSWORD_MASK,
        "apiKey": None, "privateKey": ENCRYPTED_MASK, "accessToken": PASSWORD_MASK,
        "mail": "a@b.c", "count": 3}


def test_mask_secrets_walks_nested_objects_and_lists_without_touching_the_input() -> None:
    """Secrets deep in objects and lists are masked, ``$crypto`` anywhere is replaced, and the data given is
    not modified."""
    data = {"a": {"b": [{"password": "pw"}, {"$crypto": {}}, "plain", 1]}, "top": [[{"secretSauce": "s"}]]}
    masked = mask_secrets(data)
    assert masked == {"a": {"b": [{"password": PASSWORD_MASK}, ENCRYPTED_MASK, "plain", 1]},
                      "top": [[{"secretSauce": "…"}]]}
    assert data["a"]["b"][0] == {"password": "pw"}
    assert mask_secrets({"$crypto": {"value": 1}}) == ENCRYPTED_MASK
    assert mask_secrets("text") == "text" and mask_secrets(None) is None
    assert mask_secrets({1: "one"}) == {1: "one"}


def test_sixteen_characters_are_enough_to_show_the_ends() -> None:
    """16 is the first length that shows its first and last four (8 of 16: half, never more)."""
    assert mask_secret("abcdefghijklmnop") == "abcd…mnop"
