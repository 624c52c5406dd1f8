"""The endpoints of IDM's REST API that the Salesforce sample uses, in IDM's shapes.

Handlers are thin: read and check the request (``crest``), call the :class:`~core.api.backend.ApiBackend`
(which owns threading and the core services), shape the answer. Every route here must appear in the
OpenAPI document (``core.api.openapi``); a test compares the two.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.api import crest
from core.api.backend import ApiBackend
from core.api.errors import ApiError

MANAGED_USER = "managed/user"
IMPLICIT_SYNC_HEADER = "X-Sfsync-Implicit-Sync"


def _backend(request: Request) -> ApiBackend:
    return request.app.state.backend


def dump_json(data: Any, *, pretty: bool = False) -> bytes:
    """``data`` as UTF-8 JSON, compact or indented by 2. orjson (several times cheaper than ``json``: the
    readers' answers share the interpreter with a running reconciliation); ``json`` for what orjson refuses
    (integers beyond 64 bits, non-string keys). The same JSON values as ``json.dumps`` (a float may be
    spelled differently, e.g. ``0.00001`` for ``1e-05``; NaN, which ``json`` writes as invalid JSON, is null)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2 if pretty else 0)
    except TypeError:
        return json.dumps(data, ensure_ascii=False, indent=2 if pretty else None,
                          separators=None if pretty else (",", ":")).encode()


def json_response(request: Request, data: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """JSON as IDM writes it; ``_prettyPrint=true`` indents, as IDM's CREST servlet does."""
    pretty = request.query_params.get("_prettyPrint", "").lower() == "true"
    return Response(dump_json(data, pretty=pretty), status_code=status, headers=headers,
                    media_type="application/json; charset=utf-8")


def _action(request: Request, allowed: tuple[str, ...], where: str) -> str:
    action = request.query_params.get("_action")
    if not action:
        raise ApiError(400, f"{where}: the _action parameter is required (supported: {', '.join(allowed)})")
    if action not in allowed:
        raise ApiError(400, f"Action {action} on {where} not supported (supported: {', '.join(allowed)})")
    return action


def _object_headers(obj: dict[str, Any], sync_results: dict[str, Any] | None = None) -> dict[str, str]:
    headers = {}
    if obj.get("_rev") is not None:
        headers["ETag"] = f'"{obj["_rev"]}"'
    if sync_results:
        headers[IMPLICIT_SYNC_HEADER] = json.dumps(sync_results, separators=(",", ":"), ensure_ascii=True)
    return headers


# --- system -----------------------------------------------------------------------------------------------

async def system_action(request: Request) -> Response:
    """``system?_action=test``: the seed shows the Salesforce connector's test object (not IDM's array);
    ``system?_action=liveSync&source=system/salesforce/User``: IDM's schedule form of liveSync."""
    source = request.query_params.get("source")
    if _action(request, ("test", "liveSync"), "system") == "liveSync":
        if not source:
            raise ApiError(400, "The source parameter is required, e.g. source=system/salesforce/User")
        return await _livesync(request, source)
    if source is not None:
        raise ApiError(400, "source: only with _action=liveSync (the test action tests the connector)")
    _livesync_flags(request)  # typed alike for either action: a non-boolean is a 400
    return json_response(request, await _backend(request).test_connector())


def _livesync_flags(request: Request) -> tuple[bool, bool]:
    """``allowDeletions`` and ``detailedFailure`` (booleans: anything else is a 400)."""
    return crest.bool_param(request, "allowDeletions"), crest.bool_param(request, "detailedFailure")


async def _livesync(request: Request, source: str) -> Response:
    """IDM's answer: the stage object (``connectorData.syncToken``; ``lastException`` when the tick failed,
    with ``syncDelta`` under ``detailedFailure=true``), plus sfsync's ``sfsync`` summary of the tick."""
    allow, detailed = _livesync_flags(request)
    answer = await _backend(request).livesync(source, allow_deletions=allow)
    if not detailed and isinstance(answer.get("lastException"), dict):
        answer["lastException"].pop("syncDelta", None)
    return json_response(request, answer)


async def object_set_action(request: Request) -> Response:
    """``system/salesforce/User?_action=liveSync``: one liveSync tick of that object set;
    ``?_action=create``: a new record; GET: a query (``core.api.system_routes``). One route for the path, so a
    405 names every method it takes."""
    if request.method == "GET":
        from core.api.system_routes import query_objects

        return await query_objects(request)
    name, object_type = request.path_params["name"], request.path_params["object_type"]
    if name != "salesforce":
        raise ApiError(404, f"Resource 'system/{name}' not found (the one connector is system/salesforce)")
    action = _action(request, ("liveSync", "create"), f"system/{name}/{object_type}")
    if not object_type or "/" in object_type:  # a decoded %2F: no such object set
        raise ApiError(404, f"Resource 'system/{name}/{object_type}' not found")
    if action == "create":
        from core.api.system_routes import create_object

        return await create_object(request)
    return await _livesync(request, f"system/{name}/{object_type}")


async def connector_action(request: Request) -> Response:
    """``system/salesforce?_action=test``: IDM's per-connector form of the same test."""
    name = request.path_params["name"]
    if name != "salesforce":
        raise ApiError(404, f"Resource 'system/{name}' not found (the one connector is system/salesforce)")
    _action(request, ("test",), f"system/{name}")
    return json_response(request, await _backend(request).test_connector())


# --- recon ------------------------------------------------------------------------------------------------

async def recon_collection(request: Request) -> Response:
    if request.method == "GET":
        return json_response(request, {"reconciliations": await _backend(request).runs()})
    action = _action(request, ("recon", "reconById"), "reconciliation")
    mapping = request.query_params.get("mapping")
    if not mapping:
        raise ApiError(400, "The mapping parameter is required, e.g. mapping=systemSalesforceUser_managedUser")
    if (await request.body()).strip():
        raise ApiError(400, "recon: overriding the mapping in the request body (sourceQuery, targetQuery, "
                            "runTargetPhase, ...) is not supported; send no body")
    ids = None
    given = (*request.query_params.getlist("id"), *request.query_params.getlist("ids"))
    if action == "recon" and given:
        raise ApiError(400, "id/ids: only with _action=reconById (recon reads every source object)")
    if action == "reconById":  # IDM's id=ID (7.5+); several as ids=A,B (5.x)
        ids = [i for raw in given for i in raw.split(",") if i]
        if not ids:
            raise ApiError(400, "reconById needs the source ids: id=ID (repeatable) or ids=A,B")
    backend = _backend(request)
    allow = crest.bool_param(request, "allowDeletions")
    if crest.bool_param(request, "waitForCompletion"):
        run = await backend.reconcile(mapping, allow_deletions=allow, ids=ids)
    else:
        run = await backend.start_reconcile(mapping, allow_deletions=allow, ids=ids)
    return json_response(request, {"_id": run["_id"], "state": run["state"]})


async def recon_instance(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    backend = _backend(request)
    if request.method == "GET":
        return json_response(request, await backend.run(run_id))
    _action(request, ("cancel",), "reconciliation")
    await backend.cancel(run_id)
    return json_response(request, {"_id": run_id, "action": "cancel", "status": "SUCCESS"})


# --- managed/user -----------------------------------------------------------------------------------------

async def users_collection(request: Request) -> Response:
    backend = _backend(request)
    if request.method == "GET":
        if request.query_params.get("executeOnRetrieve", "false").lower() != "false":
            # IDM's flag to run onRetrieve on each query result: not built (reads run it; see README, Scripts)
            raise ApiError(400, "executeOnRetrieve: sfsync does not run onRetrieve on query results; read the "
                                "user (GET managed/user/<id>) to get them")
        return json_response(request, await backend.query_users(crest.query_parameters(request)))
    _action(request, ("create",), MANAGED_USER)
    body = await crest.json_body(request, expect=dict)
    new_id = _body_id(body)
    obj, results = await backend.create_user(body, new_id)
    headers = _object_headers(obj, results)
    # the id percent-encoded: a header is Latin-1 text, an id any Unicode
    headers["Location"] = request.url.path.rstrip("/") + "/" + quote(obj["_id"], safe="")
    return json_response(request, _select(obj, crest.fields_param(request.query_params)), status=201,
                         headers=headers)


def _body_id(body: dict[str, Any]) -> str | None:
    """The body's ``_id`` (removed with ``_rev``): absent, or a non-empty string without '/'."""
    new_id = body.pop("_id", None)
    body.pop("_rev", None)
    if new_id is not None and (not isinstance(new_id, str) or not new_id or "/" in new_id):
        raise ApiError(400, "_id: must be a non-empty string without '/'")
    return new_id


def _select(obj: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    """``_fields`` on a single object: the named fields plus ``_id`` and ``_rev``, as IDM answers."""
    if not fields:
        return obj
    keep = {"_id", "_rev", *(f.split("/")[0] for f in fields)}
    return {k: v for k, v in obj.items() if k in keep}


async def user_instance(request: Request) -> Response:
    user_id = request.path_params["user_id"]
    backend = _backend(request)
    fields = crest.fields_param(request.query_params)
    if request.method == "GET":
        obj = await backend.read_user(user_id)
        return json_response(request, _select(obj, fields), headers=_object_headers(obj))
    if request.method == "DELETE":
        obj, results = await backend.delete_user(user_id, crest.revision(request))
        return json_response(request, _select(obj, fields), headers=_object_headers(obj, results))
    if request.method == "PATCH":
        operations = await crest.json_body(request, expect=list)
        _check_patch(operations)
        obj, results = await backend.patch_user(user_id, operations, crest.revision(request))
        return json_response(request, _select(obj, fields), headers=_object_headers(obj, results))
    # PUT: create with If-None-Match: *, update with If-Match, otherwise create-or-update (CREST's rule)
    body = await crest.json_body(request, expect=dict)
    _body_id(body)  # the path names the user
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise ApiError(400, "If-None-Match: only * is supported (create if absent)")
        obj, results = await backend.create_user(body, user_id)
        status = 201
    elif request.headers.get("If-Match") is not None:
        obj, results = await backend.update_user(user_id, body, crest.revision(request))
        status = 200
    else:
        obj, results, created = await backend.upsert_user(user_id, body)
        status = 201 if created else 200
    return json_response(request, _select(obj, fields), status=status, headers=_object_headers(obj, results))


PATCH_OPERATIONS = ("add", "remove", "replace", "increment", "copy", "move")  # IDM's transform (a script): no


def _check_patch(operations: list[Any]) -> None:
    """Reject malformed IDM patch operations with a 400 naming the operation, before the repository."""
    for index, op in enumerate(operations):
        if not isinstance(op, dict):
            raise ApiError(400, f"patch operation {index}: must be an object")
        name = op.get("operation")
        if name not in PATCH_OPERATIONS:
            raise ApiError(400, f"patch operation {index}: unknown operation {name!r} "
                                f"(supported: {', '.join(PATCH_OPERATIONS)})")
        field = op.get("field")
        if not isinstance(field, str) or not field.strip("/"):
            raise ApiError(400, f"patch operation {index}: 'field' must name a field, e.g. \"/mail\"")
        if name in ("add", "replace", "increment") and "value" not in op:
            raise ApiError(400, f"patch operation {index}: '{name}' requires a 'value'")
        if name == "increment" and (isinstance(op["value"], bool) or not isinstance(op["value"], int | float)):
            raise ApiError(400, f"patch operation {index}: 'increment' requires a numeric 'value'")
        if name in ("copy", "move") and not isinstance(op.get("from"), str):
            raise ApiError(400, f"patch operation {index}: '{name}' requires 'from'")


# --- audit ------------------------------------------------------------------------------------------------

async def audit_recon(request: Request) -> Response:
    return json_response(request, await _backend(request).query_audit(crest.query_parameters(request)))


async def audit_recon_entry(request: Request) -> Response:
    return json_response(request, await _backend(request).audit_entry(request.path_params["entry_id"]))


ROUTES = [
    Route("/openidm/system", system_action, methods=["POST"]),
    Route("/openidm/system/{name}", connector_action, methods=["POST"]),
    Route("/openidm/system/{name}/{object_type}", object_set_action, methods=["GET", "POST"]),
    Route("/openidm/recon", recon_collection, methods=["GET", "POST"]),
    Route("/openidm/recon/{run_id}", recon_instance, methods=["GET", "POST"]),
    Route("/openidm/managed/user", users_collection, methods=["GET", "POST"]),
    Route("/openidm/managed/user/{user_id}", user_instance, methods=["GET", "PUT", "PATCH", "DELETE"]),
    Route("/openidm/audit/recon", audit_recon, methods=["GET"]),
    Route("/openidm/audit/recon/{entry_id}", audit_recon_entry, methods=["GET"]),
]
