"""IDM's synchronization endpoints beyond reconciliation: ``audit/sync`` (implicit sync's and liveSync's events,
apart from ``audit/recon``), ``repo/link`` queries, and ``sync`` (``getLinkedResources``, ``performAction``).

A route module of its own (as ``activity_routes``): the routes are added in ``core.api.app`` and documented by
:func:`sync_openapi`, which ``core.api.openapi`` calls.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.api import crest
from core.api.routes import json_response

# --- audit/sync -------------------------------------------------------------------------------------------

async def audit_sync(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.query_sync_audit(crest.query_parameters(request)))


async def audit_sync_entry(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.sync_audit_entry(request.path_params["entry_id"]))


# --- repo/link --------------------------------------------------------------------------------------------

async def repo_link(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.query_links(crest.query_parameters(request)))


async def repo_link_entry(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.link(request.path_params["link_id"]))


SYNC_ROUTES = [
    Route("/openidm/audit/sync", audit_sync, methods=["GET"]),
    Route("/openidm/audit/sync/{entry_id}", audit_sync_entry, methods=["GET"]),
    Route("/openidm/repo/link", repo_link, methods=["GET"]),
    Route("/openidm/repo/link/{link_id}", repo_link_entry, methods=["GET"]),
]


def sync_openapi(query_params: list[dict[str, Any]], errors: Any, json_: Any, query: Any, pretty: Any) -> tuple[
        dict[str, Any], dict[str, Any]]:
    """The OpenAPI paths of :data:`SYNC_ROUTES` and their schemas (helpers passed in from ``core.api.openapi``)."""
    nullable_text = {"type": "string", "nullable": True}
    sync_entry = {"type": "object", "required": ["_id", "timestamp", "eventName", "mapping", "sourceObjectId"],
                  "description": "IDM's sync audit event: one per mapping an implicit sync or a liveSync change ran",
                  "properties": {
                      "_id": {"type": "string"}, "transactionId": nullable_text, "timestamp": {"type": "string"},
                      "eventName": {"type": "string", "enum": ["sync"]}, "userId": nullable_text,
                      "trackingIds": {"type": "array", "nullable": True, "items": {"type": "string"}},
                      "action": nullable_text, "exception": nullable_text, "linkQualifier": nullable_text,
                      "mapping": {"type": "string"}, "message": nullable_text, "messageDetail": {"nullable": True},
                      "situation": nullable_text, "sourceObjectId": {"type": "string"},
                      "status": {"type": "string", "nullable": True, "enum": ["SUCCESS", "FAILURE", None]},
                      "targetObjectId": nullable_text}}
    entry_id = {"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/openidm/audit/sync": {"get": {
            "summary": "Query sync audit events (implicit sync and liveSync), e.g. "
                       "sourceObjectId eq \"managed/user/ID\"", "operationId": "querySyncAudit",
            "parameters": query_params,
            "responses": {"200": json_({"type": "object"}, "IDM's query result of SyncAuditEntry objects"),
                          **errors(400, 429)}}},
        "/openidm/audit/sync/{entry_id}": {
            "parameters": [entry_id],
            "get": {"summary": "One sync audit event", "operationId": "readSyncAudit", "parameters": [pretty],
                    "responses": {"200": json_({"$ref": "#/components/schemas/SyncAuditEntry"}, "the event"),
                                  **errors(404)}}},
    }
    text = {"type": "string"}
    link = {"type": "object", "required": ["_id", "_rev", "linkType", "linkQualifier", "firstId", "secondId"],
            "description": "IDM's link: linkType is the mapping that owns the links; firstId its source side, "
                           "secondId its target side (reversed for a mapping with links: OTHER)",
            "properties": {k: text for k in ("_id", "_rev", "linkType", "linkQualifier", "firstId", "secondId")}}
    paths["/openidm/repo/link"] = {"get": {
        "summary": "Query links, e.g. linkType eq \"systemSalesforceUser_managedUser\" and firstId eq \"005…\"",
        "operationId": "queryLinks", "parameters": query_params,
        "responses": {"200": json_({"type": "object"}, "IDM's query result of Link objects"), **errors(400, 429)}}}
    paths["/openidm/repo/link/{link_id}"] = {
        "parameters": [{"name": "link_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {"summary": "One link", "operationId": "readLink", "parameters": [pretty],
                "responses": {"200": json_({"$ref": "#/components/schemas/Link"}, "the link"), **errors(404)}}}
    return paths, {"SyncAuditEntry": sync_entry, "Link": link}
