"""Errors the local org answers with, in Salesforce's own shapes.

The data API answers a JSON array of ``{"message", "errorCode"[, "fields"]}``; composite results use
``statusCode`` instead of ``errorCode``; the OAuth endpoints answer ``{"error", "error_description"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DataApiError(Exception):
    """One error of the data API; ``status`` is the HTTP status of the whole response."""

    status: int
    code: str
    message: str
    fields: list[str] | None = None

    def body(self) -> dict:
        out: dict = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            out["fields"] = self.fields
        return out

    def record_error(self) -> dict:
        """The per-record form used inside SaveResults (``statusCode``, always with ``fields``)."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


@dataclass
class WriteError(Exception):
    """A record refused by the org's rules; holds every error found (Salesforce reports them together)."""

    errors: list[DataApiError] = field(default_factory=list)


@dataclass
class OAuthError(Exception):
    """An OAuth endpoint error: ``{"error": ..., "error_description": ...}`` with HTTP 400 unless told."""

    error: str
    description: str
    status: int = 400


def not_found() -> DataApiError:
    return DataApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> DataApiError:
    return DataApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
