"""IDM's system objects over REST: ``system/salesforce/User`` read, query, create (``?_action=create``), update
(``PUT``), patch (``PATCH``) and delete (deactivate), through the Salesforce connector (``core.salesforce.systemobjects``).

The connector is implicit sync's (``SyncService.implicit_connector``): one connector, one access token and its
keep-alive connections for every request, on its own loop. ``POST …/User?_action=liveSync`` stays in
``core.api.routes`` (``object_set_action``), which hands ``create`` here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.api import crest
from core.api.errors import ApiError
from core.api.routes import json_response


def _check_connector(name: str) -> None:
    if name != "salesforce":
        raise ApiError(404, f"Resource 'system/{name}' not found (the one connector is system/salesforce)")


async def _call(request: Request, method: str, *args: Any) -> Any:
    """``SystemObjects(...).method(*args)`` on the shared connector's loop, from a worker thread."""
    name, object_type = request.path_params["name"], request.path_params["object_type"]
    _check_connector(name)
    backend = request.app.state.backend

    def main() -> Any:
        from core.salesforce import RecordError, SystemObjects

        if not backend.project.provisioner_path.exists():  # no connector configured: IDM has no such resource
            raise ApiError(404, f"Resource 'system/{name}/{object_type}' not found: no connector is configured "
                                f"(conf/{backend.project.provisioner_path.name} is missing)")
        connector, loop = backend.sync.implicit_connector.get()
        if not connector.config.enabled:
            raise ApiError(404, f"Resource 'system/{name}/{object_type}' not found: the connector is disabled "
                                f"({backend.project.provisioner_path.name}: enabled is false)")
        if object_type not in connector.config.objectTypes:
            raise ApiError(404, f"Resource 'system/{name}/{object_type}' not found (objectTypes declares "
                                f"{', '.join(connector.config.objectTypes) or 'none'})")
        if method == "exists":  # only the checks above: the object set is there (else a 404)
            return None
        objects = SystemObjects(connector, object_type, name)
        try:
            return asyncio.run_coroutine_threadsafe(getattr(objects, method)(*args), loop).result()
        except RecordError as exc:  # Salesforce refused the record: the caller's mistake, in IDM's shape
            status = 409 if (exc.error_code or "").startswith("DUPLICATE") else 400
            raise ApiError(status, str(exc)) from None

    return await run_in_threadpool(main)


async def create_object(request: Request) -> Response:
    """``POST system/salesforce/User?_action=create`` (called by ``routes.object_set_action``)."""
    await _call(request, "exists")  # an object set that is not there is a 404 whatever the body
    body = await crest.json_body(request, expect=dict)
    if body.get("_id") is not None:
        raise ApiError(400, "_id: Salesforce chooses a new record's Id; send none")
    obj = await _call(request, "create", body, crest.fields_param(request.query_params))
    location = str(request.url.replace(query="").path).rstrip("/") + "/" + str(obj["_id"])
    return json_response(request, obj, status=201, headers={"Location": location})


async def query_objects(request: Request) -> Response:
    params = crest.query_parameters(request)
    if params.sort_keys:
        raise ApiError(400, "_sortKeys: system objects are answered in Id order; sorting is not supported")
    if params.paged_results_offset:
        raise ApiError(400, "_pagedResultsOffset: not supported on system objects; page with _pagedResultsCookie")
    if params.total_paged_results_policy != "NONE":
        raise ApiError(400, "_totalPagedResultsPolicy: only NONE on system objects")
    return json_response(request, await _call(request, "query", params.query_filter, params.fields,
                                              params.page_size, params.paged_results_cookie))


def _no_revision(request: Request) -> None:
    rev = crest.revision(request)
    if rev not in (None, "*"):
        raise ApiError(400, "If-Match: Salesforce records have no _rev; send none (or *)")


async def object_instance(request: Request) -> Response:
    object_id = request.path_params["object_id"]
    fields = crest.fields_param(request.query_params)
    if request.method == "GET":
        return json_response(request, await _call(request, "read", object_id, fields))
    _no_revision(request)
    if request.method == "DELETE":
        await _call(request, "exists")  # an object set that is not there is a 404
        if request.path_params["object_type"] != "User":
            raise ApiError(400, "DELETE: only Users can be deleted (deactivated) through sfsync")
        return json_response(request, await _call(request, "delete", object_id, fields))
    if request.method == "PATCH":
        return json_response(request, await _patch(request, object_id, fields))
    if request.headers.get("If-None-Match") is not None:
        raise ApiError(400, "If-None-Match: Salesforce chooses a new record's Id; create with POST ?_action=create")
    body = await crest.json_body(request, expect=dict)
    return json_response(request, await _call(request, "update", object_id, body, fields))


async def _patch(request: Request, object_id: str, fields: Any) -> Any:
    """IDM's patch of a system object: the operations applied to the record as read (every declared attribute),
    then the attributes that differ sent as one update (Salesforce has no revisions: no If-Match)."""
    from core.repo import ValidationError, apply_patch

    await _call(request, "exists")  # an object set that is not there is a 404 whatever the body
    operations = await crest.json_body(request, expect=list)
    current = await _call(request, "read", object_id, None)
    try:
        patched = apply_patch(current, operations)
    except ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    if patched.get("_id") != current.get("_id"):
        raise ApiError(400, "_id: a record's Salesforce Id cannot be patched")
    body = {k: v for k, v in patched.items() if k not in ("_id", "_rev") and current.get(k, None) != v}
    return await _call(request, "update", object_id, body, fields)


SYSTEM_ROUTES = [  # the object set's path (GET: query, POST: create/liveSync) is one route in core/api/routes.py
    Route("/openidm/system/{name}/{object_type}/{object_id}", object_instance,
          methods=["GET", "PUT", "PATCH", "DELETE"]),
]


def system_openapi(paths: dict[str, Any], query_params: list[dict[str, Any]], errors: Any, json_: Any,
                   query: Any, pretty: Any, fields: Any, action: Any) -> dict[str, Any]:
    """Adds :data:`SYSTEM_ROUTES` to ``paths`` (the object set's path is shared with liveSync's POST, which
    gains ``_action=create``); the ``SystemObject`` schema."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": ["salesforce"]}}
    object_type = {"name": "object_type", "in": "path", "required": True,
                   "schema": {"type": "string", "example": "User"}}
    ref = {"$ref": "#/components/schemas/SystemObject"}
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": True,
        "properties": {n: {"type": "string"} for n in ("Username", "Email", "LastName", "FirstName", "Alias",
                                                       "ProfileId", "Title")},
        "description": "attributes under objectTypes' names (e.g. Username, Email, LastName, Alias, ProfileId)"}}}}
    keep = ("query", "_fields", "_pageSize", "_pagedResultsCookie", "_prettyPrint")
    set_path = paths.setdefault("/openidm/system/{name}/{object_type}", {"parameters": [name, object_type]})
    set_path["get"] = {
        "summary": "Query Salesforce records: eq, co, sw, pr, and, or, ! over declared attributes (in Id order)",
        "operationId": "querySystemObjects",
        "parameters": [p for p in query_params if p["name"] in keep],
        "responses": {"200": json_({"$ref": "#/components/schemas/QueryResult"}, "SystemObject results"),
                      **errors(400, 404)}}
    post = set_path["post"]
    post["summary"] = "Create a record (_action=create), or liveSync the object set (_action=liveSync)"
    post["parameters"] = [action("liveSync", "create"), fields,
                          *[p for p in post["parameters"] if p["name"] not in ("_action", "_fields")]]
    post["requestBody"] = {"required": False, "content": body["content"]}
    post["responses"]["201"] = json_(ref, "create: the new record (_id = its Salesforce Id)")
    # 409: a duplicate record; 405: an object_type with '/' names a record's path, which takes no POST
    post["responses"].update(errors(405, 409))
    paths["/openidm/system/{name}/{object_type}/{object_id}"] = {
        "parameters": [name, object_type, {"name": "object_id", "in": "path", "required": True,
                                           "schema": {"type": "string"}}],
        "get": {"summary": "Read a Salesforce record", "operationId": "readSystemObject",
                "parameters": [fields, pretty],
                "responses": {"200": json_(ref, "the record"), **errors(404)}},
        "put": {"summary": "Update a Salesforce record (the attributes that differ are sent)",
                "operationId": "updateSystemObject", "requestBody": body, "parameters": [fields, pretty],
                "responses": {"200": json_(ref, "the record as updated"), **errors(400, 404, 409)}},
        "patch": {"summary": "Patch a Salesforce record (IDM's operations on the record as read; the attributes "
                           "that differ are sent)", "operationId": "patchSystemObject",
                  "requestBody": {"required": True, "content": {"application/json": {"schema": {
                      "type": "array", "items": {"$ref": "#/components/schemas/PatchOperation"}}}}},
                  "parameters": [fields, pretty],
                  "responses": {"200": json_(ref, "the record as patched"), **errors(400, 404, 409)}},
        "delete": {"summary": "Deactivate a Salesforce User (IsActive false: Salesforce cannot delete Users)",
                   "operationId": "deleteSystemObject", "parameters": [fields, pretty],
                   "responses": {"200": json_(ref, "the record, deactivated"), **errors(404)}},
    }
    return {"SystemObject": {"type": "object", "required": ["_id"], "additionalProperties": True,
                             "properties": {"_id": {"type": "string", "description": "the Salesforce Id"}}}}
