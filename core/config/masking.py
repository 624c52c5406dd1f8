"""Showing a secret without revealing it: enough to tell two tokens apart, never enough to use one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr


def mask_secret(value: str | SecretStr | None) -> str:
    """``5Aep…x7Q2`` for a long secret, ``…`` for a short one, ``(not set)`` for none.

    Four characters at each end of a 40+ character token leave far too little to guess the rest;
    a short secret shows nothing at all.
    """
    from pydantic import SecretStr  # here: importing this module must not cost pydantic's import

    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not value:
        return "(not set)"
    if len(value) < 16:
        return "…"
    return f"{value[:4]}…{value[-4:]}"


#: field names whose values are secrets wherever they appear (IDM's ``password``, the provisioner's
#: ``clientSecret`` and ``refreshToken``, access tokens, keys): matched anywhere in the name, ignoring case
_SECRET_NAME = ("password", "passphrase", "secret", "token", "credential", "privatekey", "private_key",
                "apikey", "api_key")
#: what a masked value of a password-like field becomes: nothing of it is shown (a person's password may be
#: short, or a word; even a few characters help a guesser)
PASSWORD_MASK = "********"
#: what an encrypted value (an IDM ``$crypto`` object) becomes
ENCRYPTED_MASK = "(encrypted)"


def is_secret_name(name: str) -> bool:
    """Whether a field called ``name`` holds a secret (``password``, ``clientSecret``, ``refreshToken``…)."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_NAME)


def _masked_value(name: str, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, dict) and "$crypto" in value:
        return ENCRYPTED_MASK
    lowered = name.lower()
    if isinstance(value, str) and "pass" not in lowered:
        return mask_secret(value)  # a token: its ends tell two tokens apart, as everywhere sfsync shows one
    return PASSWORD_MASK


def mask_secrets(data: object, _name: str = "") -> object:
    """A copy of JSON ``data`` safe to keep in a log: every value of a field named like a secret (see
    :func:`is_secret_name`) masked (tokens as :func:`mask_secret`, passwords as :data:`PASSWORD_MASK`),
    and every ``$crypto`` object, wherever it is, replaced by :data:`ENCRYPTED_MASK`."""
    if isinstance(data, dict):
        if "$crypto" in data:
            return ENCRYPTED_MASK
        return {k: (_masked_value(k, v) if is_secret_name(str(k)) else mask_secrets(v, str(k)))
                for k, v in data.items()}
    if isinstance(data, list):
        return [mask_secrets(v, _name) for v in data]
    return data
