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
from core.api.errors import ApiError
from core.api.routes import _action, json_response

#: performAction's actions (IDM's ten)
ACTIONS = ("CREATE", "UPDATE", "DELETE", "LINK", "UNLINK", "EXCEPTION", "IGNORE", "REPORT", "NOREPORT", "ASYNC")

# --- audit/sync -------------------------------------------------------------------------------------------

async def audit_sync(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.query_sync_audit(crest.query_parameters(request)))


async def audit_sync_entry(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.sync_audit_entry(request.path_params["entry_id"]))


# --- repo/link --------------------------------------------------------------------------------------------

async def repo_link(request: Request) -> Response:
    """GET: query the links; POST: IDM's link command (:func:`repo_link_command`). One route, so a 405 names
    both methods in Allow."""
    if request.method == "POST":
        return await repo_link_command(request)
    backend = request.app.state.backend
    return json_response(request, await backend.query_links(crest.query_parameters(request)))


async def repo_link_entry(request: Request) -> Response:
    backend = request.app.state.backend
    return json_response(request, await backend.link(request.path_params["link_id"]))


# --- sync ------------------------------------------------------------------------------------------------

def _param(request: Request, name: str, example: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise ApiError(400, f"The {name} parameter is required, e.g. {name}={example}")
    return value


#: the parameters each sync action takes (the OpenAPI selector below says the same)
NOTIFY = ("notifyCreate", "notifyUpdate", "notifyDelete")
_SYNC_PARAMS = {"getLinkedResources": ("resourceName",),
                "performAction": ("mapping", "sourceId", "targetId", "action", "linkQualifier"),
                **{n: ("resourceContainer", "resourceId") for n in NOTIFY}}
#: resource path / id, as the server splits it (the last "/" separates them; neither side empty)
RESOURCE_PATTERN = r"^[\s\S]+/[^/]+$"


async def sync_action(request: Request) -> Response:
    """``sync?_action=getLinkedResources&resourceName=managed/user/ID``: the objects linked to it (IDM's array);
    ``sync?_action=performAction&mapping=M&sourceId=ID&action=A[&targetId=T]``: that action, whatever the
    situation, answered ``{"status": "OK"}`` (a failed action: a 409 in IDM's error shape with the reason)."""
    sync = request.app.state.backend.sync
    which = _action(request, ("getLinkedResources", "performAction", *NOTIFY), "sync")
    allowed = {"_action", "_prettyPrint", *_SYNC_PARAMS[which]}
    extra = sorted(k for k in request.query_params if k not in allowed)
    if extra:  # the document's selector: each action takes exactly its own parameters
        raise ApiError(400, f"{extra[0]}: not a parameter of sync?_action={which}")
    if which in NOTIFY:
        return json_response(request, await _notify(request, which))
    raw = (await request.body()).strip()
    if raw and raw != b"{}":
        raise ApiError(400, f"sync?_action={which} takes no request body (only the notify actions do)")
    if which == "getLinkedResources":
        resource, _, object_id = _param(request, "resourceName", "managed/user/ID").rpartition("/")
        if not resource or not object_id:
            raise ApiError(400, "resourceName: expected a resource path and an id, e.g. managed/user/ID")
        return json_response(request, await sync.linked_resources(resource, object_id))
    mapping = _param(request, "mapping", "systemSalesforceUser_managedUser")
    source_id = _param(request, "sourceId", "ID")
    action = _param(request, "action", "LINK")
    if action not in ACTIONS:  # an action's exact name, as IDM's ReconAction.valueOf
        raise ApiError(400, f"action: {action!r} is not one of {', '.join(ACTIONS)}")
    qualifier = request.query_params.get("linkQualifier")
    if qualifier not in (None, "default"):
        raise ApiError(400, "linkQualifier: only the default link qualifier is supported")
    result = await sync.perform_action(mapping, source_id, action, request.query_params.get("targetId") or None)
    if result.result != "SUCCESSFUL":
        # the action cannot be done in this state (CREATE over an existing target, LINK with no target, a
        # refused write): 409 with the reason, as a conflict with the objects' state rather than a server fault
        raise ApiError(409, f"performAction {action} on {mapping} for {source_id} failed: {result.message}")
    return json_response(request, {"status": "OK"})


async def _notify(request: Request, which: str) -> list[dict[str, Any]]:
    """``sync?_action=notifyCreate|notifyUpdate|notifyDelete&resourceContainer=P&resourceId=ID`` with the body
    ``{newValue}`` / ``{oldValue, newValue}`` / ``{oldValue}``: the object's implicit sync, run as if that change
    had been made; IDM's ``syncDetails`` array (one entry per mapping whose source is the container)."""
    container = _param(request, "resourceContainer", "managed/user").strip("/")
    object_id = _param(request, "resourceId", "ID")
    raw = await request.body()
    body = await crest.json_body(request, expect=dict) if raw.strip() else {}
    values: dict[str, dict[str, Any] | None] = {}
    for key in ("oldValue", "newValue"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            raise ApiError(400, f"{key}: expected an object (or null)")
        values[key] = value
    extra = sorted(k for k in body if k not in ("oldValue", "newValue"))
    if extra:
        raise ApiError(400, f"{extra[0]}: not a field of {which}'s body (oldValue, newValue)")
    if which != "notifyDelete" and values["newValue"] is None:
        raise ApiError(400, f"newValue: {which} needs the object's new value")
    if which == "notifyDelete" and values["newValue"] is not None:
        raise ApiError(400, "newValue: notifyDelete takes only oldValue (the object is gone)")
    if which == "notifyCreate" and values["oldValue"] is not None:
        raise ApiError(400, "oldValue: notifyCreate takes only newValue (there was no object before)")
    new = dict(values["newValue"], _id=object_id) if values["newValue"] is not None else None
    return await request.app.state.backend.sync.notify(container, object_id, values["oldValue"], new)


async def sync_mappings(request: Request) -> Response:
    """``GET sync/mappings?_queryFilter=true``: the mappings of conf/sync.json in file order (IDM's query result;
    a filter over the mapping objects' fields, e.g. ``source eq "managed/user"``)."""
    from core.repo import FilterSyntaxError
    from core.sync import filter_matching

    query_filter = request.query_params.get("_queryFilter")
    extra = sorted(k for k in request.query_params if k not in ("_queryFilter", "_prettyPrint"))
    if extra:
        raise ApiError(400, f"{extra[0]}: not supported on sync/mappings (the mappings are few: no paging)")
    if not query_filter:
        raise ApiError(400, "_queryFilter is required, e.g. _queryFilter=true")
    sync = request.app.state.backend.sync
    try:
        found = [dict(raw) for raw in filter_matching(query_filter, [m.raw for m in sync.mappings()])]
    except FilterSyntaxError as exc:
        raise ApiError(400, f"_queryFilter: {exc}") from None
    return json_response(request, {"result": found, "resultCount": len(found), "pagedResultsCookie": None,
                                   "totalPagedResultsPolicy": "NONE", "totalPagedResults": -1,
                                   "remainingPagedResults": -1})


async def repo_link_command(request: Request) -> Response:
    """``POST repo/link?_action=command&commandId=delete-mapping-links&mapping=X``: that mapping's links
    deleted (IDM's one documented link command); ``{"result": N}``, the number deleted."""
    from starlette.concurrency import run_in_threadpool

    _action(request, ("command",), "repo/link")
    command = _param(request, "commandId", "delete-mapping-links")
    if command != "delete-mapping-links":
        raise ApiError(400, f"commandId: {command!r} is not supported (the one link command is "
                            "delete-mapping-links)")
    extra = sorted(k for k in request.query_params if k not in ("_action", "commandId", "mapping", "_prettyPrint"))
    if extra:
        raise ApiError(400, f"{extra[0]}: not a parameter of delete-mapping-links")
    mapping = _param(request, "mapping", "systemSalesforceUser_managedUser")
    sync = request.app.state.backend.sync
    return json_response(request, {"result": await run_in_threadpool(sync.delete_mapping_links, mapping)})


SYNC_ROUTES = [
    Route("/openidm/sync/mappings", sync_mappings, methods=["GET"]),
    Route("/openidm/sync", sync_action, methods=["POST"]),
    Route("/openidm/audit/sync", audit_sync, methods=["GET"]),
    Route("/openidm/audit/sync/{entry_id}", audit_sync_entry, methods=["GET"]),
    Route("/openidm/repo/link", repo_link, methods=["GET", "POST"]),
    Route("/openidm/repo/link/{link_id}", repo_link_entry, methods=["GET"]),
]


def sync_openapi(query_params: list[dict[str, Any]], errors: Any, json_: Any, query: Any, pretty: Any,
                 mappings: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI paths of :data:`SYNC_ROUTES` and their schemas (helpers passed in from ``core.api.openapi``)."""
    from core.api.openapi import _branch, _selector
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
    linked = {"type": "object", "required": ["resourceName", "content", "linkQualifier", "linkType"],
              "properties": {"resourceName": text, "content": {"type": "object", "nullable": True},
                             "linkQualifier": text, "linkType": text, "error": text,
                             "mappings": {"type": "array", "items": {"type": "object", "properties": {
                                 "name": text, "type": {"type": "string", "enum": ["source", "target"]}}}}}}
    perform = _branch("performAction", ("mapping", "sourceId", "action"),
                      mapping=({"type": "string", "enum": list(mappings)} if mappings
                               else {"type": "string", "minLength": 1}),
                      sourceId={"type": "string", "minLength": 1}, targetId={"type": "string"},
                      linkQualifier={"type": "string", "enum": ["default"]})
    perform["properties"]["action"] = {"type": "string", "enum": list(ACTIONS)}  # (_branch's own first argument)
    paths["/openidm/sync"] = {"post": {
        "summary": "getLinkedResources (the objects linked to resourceName) or performAction (an action for a "
                   "source through a mapping, whatever its situation)", "operationId": "syncAction",
        "parameters": [
            _selector("action", "getLinkedResources with resourceName (e.g. managed/user/ID), or performAction with "
                      "mapping, sourceId and action (targetId: default the linked or the one correlated target; "
                      "linkQualifier: default only), or notifyCreate/notifyUpdate/notifyDelete with "
                      "resourceContainer (e.g. managed/user) and resourceId",
                      _branch("getLinkedResources", ("resourceName",),
                              resourceName={"type": "string", "pattern": RESOURCE_PATTERN}),
                      perform,
                      *[_branch(n, ("resourceContainer", "resourceId"),
                                resourceContainer={"type": "string", "pattern": "[^/]"},
                                resourceId={"type": "string", "minLength": 1}) for n in NOTIFY]),
            pretty],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "description": "notify*: {newValue} (create), {oldValue, newValue} (update, oldValue optional), "
                           "{oldValue} (delete); the other actions take no body",
            "properties": {"oldValue": {"type": "object", "nullable": True},
                           "newValue": {"type": "object", "nullable": True}}}}}},
        "responses": {"200": json_({"anyOf": [{"type": "array", "items": {"$ref": "#/components/schemas/LinkedResource"}},
                                              {"type": "object", "required": ["status"], "properties": {
                                                  "status": {"type": "string", "enum": ["OK"]}}},
                                              {"type": "array", "items": {"$ref": "#/components/schemas/SyncDetail"}}]},
                                   "getLinkedResources: the linked objects; performAction: {\"status\": \"OK\"}; "
                                   "notify*: the syncDetails, one per mapping whose source is resourceContainer"),
                      **errors(400, 409)}}}
    paths["/openidm/sync/mappings"] = {"get": {
        "summary": "The mappings of conf/sync.json in file order (e.g. _queryFilter=true, or source eq \"managed/user\")",
        "operationId": "queryMappings",
        "parameters": [{"name": "_queryFilter", "in": "query", "required": True,
                        "schema": {"type": "string", "format": "crest-query-filter"}},
                       pretty],
        "responses": {"200": json_({"type": "object", "required": ["result", "resultCount"], "properties": {
            "result": {"type": "array", "items": {"type": "object"}}, "resultCount": {"type": "integer"}}},
            "IDM's query result of mapping objects"), **errors(400)}}}
    paths["/openidm/repo/link"]["post"] = {
        "summary": "delete-mapping-links: delete every link of a mapping (link type)", "operationId": "linkCommand",
        "parameters": [
            _selector("command", "_action=command&commandId=delete-mapping-links&mapping=<link type>",
                      _branch("command", ("commandId", "mapping"),
                              commandId={"type": "string", "enum": ["delete-mapping-links"]},
                              mapping={"type": "string", "minLength": 1})),
            pretty],
        "responses": {"200": json_({"type": "object", "required": ["result"], "properties": {
            "result": {"type": "integer", "description": "the number of links deleted"}}}, "how many were deleted"),
            **errors(400)}}
    detail = {"type": "object", "required": ["mapping", "result", "targetObjectSet"], "properties": {
        "mapping": text, "result": {"type": "string", "enum": ["SUCCESSFUL", "FAILED", "SKIPPED"]},
        "targetObjectSet": text, "situation": {"type": "string", "nullable": True},
        "action": {"type": "string", "nullable": True}, "targetId": {"type": "string", "nullable": True},
        "message": text}}
    return paths, {"SyncAuditEntry": sync_entry, "Link": link, "LinkedResource": linked, "SyncDetail": detail}
