"""IDM's ``/openidm/audit/activity``: who changed what, queried with IDM's filters (core/repo/activity.py).

Also where a REST change learns who made it: :class:`ActorMiddleware` (inside authentication) sets
:data:`REQUEST_ACTOR` to the authenticated admin and a transaction id for the request, and the backend's
writes hand :func:`request_actor` to the core services, which record it in the activity audit.
"""

from __future__ import annotations

import contextvars
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.api import crest
from core.api.routes import json_response

#: the actor of the request being handled (None outside a request: tests calling the backend directly)
REQUEST_ACTOR: contextvars.ContextVar[Any] = contextvars.ContextVar("sfsync_request_actor", default=None)


def request_actor() -> Any:
    """The :class:`~core.repo.activity.Actor` of the current request; outside one (a direct backend call),
    ``sfsync`` with origin rest."""
    from core.repo import Actor

    actor = REQUEST_ACTOR.get()
    return actor if actor is not None else Actor("sfsync", "rest")


class ActorMiddleware:
    """Sets :data:`REQUEST_ACTOR` from the user the authentication layer admitted (``scope["state"]["user"]``).

    The handlers run in this task, so the context variable is theirs for the request; each request is one
    transaction (``transactionId``) of the activity audit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = (scope.get("state") or {}).get("user") if scope["type"] == "http" else None
        if user is None:
            await self.app(scope, receive, send)
            return
        from core.repo import Actor

        token = REQUEST_ACTOR.set(Actor.rest(str(user)))
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_ACTOR.reset(token)


async def audit_activity(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.query_activity(crest.query_parameters(request)))


async def audit_activity_entry(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.activity_entry(request.path_params["entry_id"]))


ACTIVITY_ROUTES = [
    Route("/openidm/audit/activity", audit_activity, methods=["GET"]),
    Route("/openidm/audit/activity/{entry_id}", audit_activity_entry, methods=["GET"]),
]


def activity_openapi(query_params: list[dict[str, Any]], errors: Any, json_: Any, pretty: Any) -> tuple[
        dict[str, Any], dict[str, Any]]:
    """The OpenAPI paths of :data:`ACTIVITY_ROUTES` and the ``ActivityEntry`` schema (helpers passed in from
    ``core.api.openapi``)."""
    text = {"type": "string"}
    nullable_text = {"type": "string", "nullable": True}
    snapshot = {"type": "object", "nullable": True, "additionalProperties": True,
                "description": "the object before (after) the change, secrets masked; null for a create "
                               "(delete)"}
    entry = {"type": "object", "required": ["_id", "timestamp", "eventName", "userId", "objectId", "operation",
                                            "status"], "properties": {
        "_id": text, "timestamp": text, "eventName": {"type": "string", "enum": ["activity"]},
        "transactionId": text, "userId": text, "runAs": text, "objectId": text,
        "operation": {"type": "string", "enum": ["CREATE", "UPDATE", "PATCH", "DELETE", "ACTION"]},
        "before": snapshot, "after": snapshot, "changedFields": {"type": "array", "items": text},
        "revision": nullable_text, "status": {"type": "string", "enum": ["SUCCESS", "FAILURE"]},
        "message": text, "passwordChanged": {"type": "boolean"},
        "origin": {"type": "string", "enum": ["rest", "tui", "cli", "sfsync"],
                   "description": "sfsync's: the front end the change came through"}}}
    paths = {
        "/openidm/audit/activity": {"get": {
            "summary": "Query activity audit entries (who changed what)", "operationId": "queryActivityAudit",
            "parameters": query_params,
            "responses": {"200": json_({"type": "object"}, "IDM's query result of ActivityEntry objects"),
                          **errors(400)}}},
        "/openidm/audit/activity/{entry_id}": {
            "parameters": [{"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"summary": "One activity audit entry", "operationId": "readActivityAudit",
                    "parameters": [pretty],
                    "responses": {"200": json_({"$ref": "#/components/schemas/ActivityEntry"}, "the entry"),
                                  **errors(404)}}},
    }
    return paths, {"ActivityEntry": entry}
