"""Salesforce failures as typed errors, so callers decide by type and users read one clear sentence.

Messages never carry a token or secret: they are built from Salesforce's ``errorCode``/``message`` and
OAuth's ``error``/``error_description``, which Salesforce itself shows to end users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import SfsyncError


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of Salesforce's error array (``errorCode`` in REST, ``statusCode`` in collections)."""

    error_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f" [{', '.join(self.fields)}]" if self.fields else ""
        return f"{self.error_code}: {self.message}{where}"

    @classmethod
    def from_json(cls, item: object) -> ErrorDetail:
        if not isinstance(item, dict):
            return cls("UNKNOWN_ERROR", str(item))
        code = item.get("errorCode") or item.get("statusCode") or item.get("error") or "UNKNOWN_ERROR"
        message = item.get("message") or item.get("error_description") or ""
        fields = item.get("fields") or []
        return cls(str(code), str(message), [str(f) for f in fields] if isinstance(fields, list) else [])


class SalesforceError(SfsyncError):
    """Salesforce refused a request; carries the HTTP status and Salesforce's first error."""

    #: to a REST client, Salesforce failing is a gateway error (its own 404 is not the client's missing object)
    http_status = 502

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None,
                 fields: list[str] | None = None, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields or [])
        self.details = list(details or [])

    @classmethod
    def from_details(cls, status: int, details: list[ErrorDetail]) -> SalesforceError:
        first = details[0] if details else ErrorDetail(f"HTTP_{status}", f"HTTP {status}")
        text = "; ".join(str(d) for d in details) if details else str(first)
        return cls(text, status=status, error_code=first.error_code, fields=first.fields, details=details)


class AuthError(SalesforceError):
    """The credentials no longer work (``invalid_grant``, no refresh token, client refused): log in again."""


class TransientError(SalesforceError):
    """A failure that may pass (network, 5xx, request limit, row lock); raised once retries are exhausted."""


class RecordNotFound(SalesforceError):
    """The record or resource does not exist in Salesforce (HTTP 404)."""


class RecordError(SalesforceError):
    """Salesforce refused one record (a required field, a duplicate username, a bad value)."""


class LoginError(SfsyncError):
    """The interactive login did not complete: denied, timed out, cancelled, or the port is busy."""
