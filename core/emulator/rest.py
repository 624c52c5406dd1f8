"""The data API under ``/services/data``: versions, describe, query paging, User reads and writes,
sObject Collections, getUpdated/getDeleted and limits.

One entry point, :func:`data_api`, applies what every call shares — configured faults, the version check,
the session check, the daily API counter and its ``Sforce-Limit-Info`` header — then dispatches on the
path.
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from . import ids
from .bulk import MIN_VERSION as MIN_BULK_VERSION
from .bulk import PARALLEL_MIN_VERSION
from .errors import DataApiError, WriteError, invalid_session, not_found
from .oauth import bearer
from .records import collections, deleted, describe_global, get_record, limits, retrieve_many, updated
from .schema import SOBJECTS
from .state import LATEST_VERSION, OLDEST_VERSION, RETIRED_FROM, EmulatorState, json_response, versions

MAX_URI = 16_384          # Salesforce refuses longer request URIs (HTTP 414)
_VERSION_RE = re.compile(r"^/v(\d+)\.(\d)(/.*)?$")
_LOCATOR_RE = re.compile(r"^/(?:query|queryAll)/([A-Za-z0-9]+)-(\d+)/?$")


def _errors(errors: list[DataApiError], headers: dict | None = None) -> Response:
    return json_response([e.body() for e in errors], errors[0].status, headers)


async def data_api(request: Request) -> Response:
    st: EmulatorState = request.app.state.emulator
    path = request.url.path[len("/services/data"):]
    if st.settings.latency_ms > 0:
        await asyncio.sleep(st.settings.latency_ms / 1000)
    if st.roll_fault():
        if st.rng.random() < 0.5:
            return json_response([{"message": "Server is temporarily unavailable. Please try again later.",
                                   "errorCode": "SERVER_UNAVAILABLE"}], 503, {"Retry-After": "1"})
        return json_response([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], 403)
    raw_uri = request.scope.get("raw_path", b"") + b"?" + request.scope.get("query_string", b"")
    if len(raw_uri) > MAX_URI:
        return _errors([DataApiError(414, "URI_TOO_LONG", f"The request URI is longer than {MAX_URI} bytes; send "
                                                      "long queries in smaller parts")])
    if path in ("", "/"):
        if request.method != "GET":
            return _method_not_allowed(request, "GET,HEAD")
        return json_response(versions())
    m = _VERSION_RE.match(path)
    if m is None:
        return _errors([not_found()])
    major = int(m.group(1))
    version = f"{major}.{m.group(2)}"
    if RETIRED_FROM <= major < OLDEST_VERSION:
        return _errors([DataApiError(410, "GONE", f"Version {version} of the API is retired and no longer available")])
    if not (OLDEST_VERSION <= major <= LATEST_VERSION) or m.group(2) != "0":
        return _errors([not_found()])
    grant = st.org.auth.validate(bearer(request) or "")
    if grant is None:
        return _errors([invalid_session()], {"WWW-Authenticate": "Token"})
    if not st.org.count_api_call():
        return _errors([DataApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")],
                       _limit_header(st))
    try:
        response = await _dispatch(request, st, version, m.group(3) or "/", grant.user_id)
    except DataApiError as exc:
        response = _errors([exc])
    except WriteError as exc:
        response = _errors(exc.errors)
    response.headers.update(_limit_header(st))
    if st.settings.bandwidth > 0:   # one request at a time per HTTP/1.1 connection: its answer's time on the wire
        await asyncio.sleep(len(response.body) / st.settings.bandwidth)
    return response


def _limit_header(st: EmulatorState) -> dict:
    return {"Sforce-Limit-Info": f"api-usage={st.org.api_used}/{st.org.api_max}"}


async def _bulk_query(request: Request, st: EmulatorState, version: str, parts: list[str], method: str,
                      user_id: str) -> Response:
    """Bulk API 2.0 query jobs (see :mod:`.bulk`)."""
    if int(version.split(".")[0]) < MIN_BULK_VERSION:
        raise not_found()
    if not parts:
        if method == "POST":
            body = await _body(request)
            return json_response(await asyncio.to_thread(st.bulk.create, body, version, user_id))
        if method == "GET":
            with st.bulk.lock:
                jobs = list(st.bulk.jobs.values())
            return json_response({"done": True, "records": [j.info(full=False) for j in jobs], "nextRecordsUrl": None})
        return _method_not_allowed(request, "GET,POST,HEAD")
    job_id = parts[0]
    if len(parts) == 1:
        if method == "GET":
            return json_response(st.bulk.get(job_id).info(full=True))
        if method == "DELETE":
            st.bulk.delete(job_id)
            return Response(status_code=204)
        if method == "PATCH":
            return json_response(st.bulk.abort(job_id, await _body(request)))
        return _method_not_allowed(request, "GET,PATCH,DELETE,HEAD")
    if len(parts) == 2 and parts[1] == "results":
        if method != "GET":
            return _method_not_allowed(request, "GET,HEAD")
        q = request.query_params
        text, headers = await asyncio.to_thread(st.bulk.results, job_id, version, q.get("locator"),
                                                q.get("maxRecords"))
        return Response(text, headers=headers, media_type="text/csv; charset=UTF-8")
    if len(parts) == 2 and parts[1] == "resultPages":
        if int(version.split(".")[0]) < PARALLEL_MIN_VERSION:
            raise not_found()
        if method != "GET":
            return _method_not_allowed(request, "GET,HEAD")
        return json_response(st.bulk.result_pages(job_id, version, request.query_params.get("locator")))
    raise not_found()


def _method_not_allowed(request: Request, allowed: str) -> Response:
    return _errors([DataApiError(405, "METHOD_NOT_ALLOWED",
                             f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}")])


async def _body(request: Request) -> object:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in request body: {exc}") from None


def _batch_size(request: Request) -> int:
    header = request.headers.get("sforce-query-options", "")
    m = re.search(r"batchSize\s*=\s*(\d+)", header, re.IGNORECASE)
    return int(m.group(1)) if m else 2000


async def _dispatch(request: Request, st: EmulatorState, version: str, rest: str, user_id: str) -> Response:
    method = request.method
    if method == "POST" and request.query_params.get("_HttpMethod", "").upper() == "PATCH":
        method = "PATCH"
    org = st.org
    parts = [unquote(p) for p in rest.strip("/").split("/")] if rest.strip("/") else []

    if not parts:
        base = f"/services/data/v{version}"
        return json_response({k: f"{base}/{k}" for k in ("tooling", "metadata", "eclair", "folders", "prechatForms",
                                                         "jsonxform", "chatter", "tabs", "appMenu", "quickActions",
                                                         "queryAll", "commerce", "wave", "analytics", "search",
                                                         "identity", "composite", "parameterizedSearch", "theme",
                                                         "nouns", "event", "serviceTemplates", "recent",
                                                         "connect", "licensing", "limits", "process", "async-queries",
                                                         "query", "match", "emailConnect", "compactLayouts",
                                                         "knowledgeManagement", "sobjects", "actions", "support")})
    head = parts[0]
    if head in ("query", "queryAll"):
        m = _LOCATOR_RE.match(rest)
        if m:
            return json_response(await asyncio.to_thread(st.engine.page, m.group(1), int(m.group(2)), version))
        if len(parts) != 1:
            raise not_found()
        if method != "GET":
            return _method_not_allowed(request, "GET,HEAD")
        text = request.query_params.get("q")
        if not text:
            raise DataApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        result = await asyncio.to_thread(st.engine.run, text, version, _batch_size(request))
        return json_response(result)
    if head == "jobs" and len(parts) >= 2 and parts[1] == "query":
        return await _bulk_query(request, st, version, parts[2:], method, user_id)
    if head == "limits" and len(parts) == 1:
        return json_response(limits(org))
    if head == "sobjects":
        if len(parts) == 1:
            return json_response(describe_global(version))
        sobject = SOBJECTS.get(parts[1].lower())
        if sobject is None or parts[1] != sobject.name:
            raise DataApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if len(parts) == 2:
            if method == "POST":
                if sobject.name != "User":
                    raise DataApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {sobject.name}")
                body = await _body(request)
                if not isinstance(body, dict):
                    raise DataApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
                new_id = org.create_user(body, by=user_id)
                return json_response({"id": new_id, "success": True, "errors": []}, 201)
            if method != "GET":
                return _method_not_allowed(request, "GET,POST,HEAD")
            return json_response({"objectDescribe": sobject.summary(version), "recentItems": []})
        sub = parts[2]
        if len(parts) == 3 and sub == "describe":
            return json_response(sobject.describe(version))
        if len(parts) == 3 and sub in ("updated", "deleted"):
            if method != "GET":
                return _method_not_allowed(request, "GET,HEAD")
            params = request.query_params
            fn = updated if sub == "updated" else deleted
            return json_response(fn(org, sobject, params.get("start"), params.get("end")))
        if len(parts) == 3:
            record_id = sub
            if method == "GET":
                fields = request.query_params.get("fields")
                return json_response(get_record(org, sobject, record_id, fields, version))
            if method == "PATCH":
                if sobject.name != "User":
                    raise DataApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {sobject.name}")
                body = await _body(request)
                if not isinstance(body, dict):
                    raise DataApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
                if ids.normalize(record_id) is None:
                    raise DataApiError(404, "NOT_FOUND", "Provided external ID field does not exist or is not "
                                   f"accessible: {record_id}")
                org.update_user(record_id, body, by=user_id)
                return Response(status_code=204)
            if method == "DELETE":
                normal = ids.normalize(record_id)
                if normal is None or not org.exists(sobject.name, normal):
                    raise not_found()
                raise DataApiError(400, "INVALID_TYPE_FOR_OPERATION", "entity type cannot be deleted")
            return _method_not_allowed(request, "GET,PATCH,HEAD")
        raise not_found()
    if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
        if len(parts) == 3:
            sobject = SOBJECTS.get(parts[2].lower())
            if sobject is None:
                raise not_found()
            id_list: list
            field_names: list
            if method == "GET":
                q = request.query_params
                id_list = [x for x in q.get("ids", "").split(",") if x]
                field_names = [x for x in q.get("fields", "").split(",") if x]
            elif method == "POST":
                body = await _body(request)
                if not isinstance(body, dict):
                    raise DataApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
                id_list, field_names = body.get("ids") or [], body.get("fields") or []
            else:
                return _method_not_allowed(request, "GET,POST,HEAD")
            return json_response(retrieve_many(org, sobject, id_list, field_names, version))
        if len(parts) != 2:
            raise not_found()
        if method == "DELETE":
            id_list = [x for x in request.query_params.get("ids", "").split(",") if x]
            return json_response(collections(org, "DELETE", {"records": id_list}, user_id))
        if method not in ("POST", "PATCH"):
            return _method_not_allowed(request, "POST,PATCH,DELETE")
        body = await _body(request)
        return json_response(collections(org, method, body, user_id))
    raise not_found()
