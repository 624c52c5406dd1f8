"""How the app words a failure for the user: one line, core's own message when core raised it."""

from __future__ import annotations

from core.errors import SfsyncError


def describe_error(error: BaseException | None) -> str:
    """A one-line, user-facing reason: core's own message, else the exception's type and text."""
    if error is None:
        return "unknown error"
    if isinstance(error, SfsyncError):
        return str(error)
    text = str(error).strip() or "no details"
    return f"{type(error).__name__}: {text}"
