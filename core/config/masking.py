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
