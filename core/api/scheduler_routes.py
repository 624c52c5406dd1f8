"""IDM's ``/openidm/scheduler/job`` (and ``scheduler?_action=validateQuartzCronExpression``), in IDM's shapes.

Backed by :class:`core.schedule.jobs.Jobs`: files in ``conf/`` and state in the repository, so the schedulers
of every process (``sfsync serve``, ``sfsync scheduler``) see a change at their next pass.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.api import crest
from core.api.activity_routes import request_actor
from core.api.errors import ApiError
from core.api.routes import _action, json_response
from core.errors import ConfigError

JOB = "scheduler/job"


def _jobs(request: Request) -> Any:
    from core.schedule import Jobs

    backend = request.app.state.backend

    def make() -> Jobs:
        try:
            mappings = [m.name for m in backend.sync.mappings()]
        except ConfigError:
            mappings = None
        return Jobs(backend.project.conf_dir, backend.repo, mappings)

    return make


#: the job writes the activity audit records (a job is a file of conf/: its entry follows the atomic write)
_RECORDED = ("create", "put", "delete")
#: a job object's state rather than its configuration: left out of the entry's before and after
_STATE = ("triggers", "previousRunDate", "nextRunDate", "lastResult")


def _config_view(job: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if job is None else {k: v for k, v in job.items() if k not in _STATE}


def _recorded(jobs: Any, repo: Any, actor: Any, method: str, args: tuple[Any, ...]) -> Any:
    """Run a job write and record it in the activity audit (``scheduler/job/<id>``, CREATE/UPDATE/DELETE)."""
    from core.repo import NotFound, activity_entry

    before = None
    if method == "put":
        try:
            before = jobs.read(args[0])
        except (NotFound, ConfigError):  # absent, or a broken file the write replaces
            before = None
    result = getattr(jobs, method)(*args)
    job = result[0] if method == "put" else result
    if method == "delete":
        before, after, operation = job, None, "DELETE"
    else:
        after, operation = job, "UPDATE" if before is not None else "CREATE"
    before, after = _config_view(before), _config_view(after)
    if before != after:  # a GET then PUT writes the file back unchanged: nothing to record
        repo.activity.add(activity_entry(f"{JOB}/{job['_id']}", operation, before, after, actor))
    return result


async def _call(request: Request, method: str, *args: Any, bad_request: bool = False) -> Any:
    make = _jobs(request)
    backend = request.app.state.backend
    actor = request_actor()

    def work() -> Any:
        if method in _RECORDED:
            return _recorded(make(), backend.repo, actor, method, args)
        return getattr(make(), method)(*args)

    try:
        return await run_in_threadpool(work)
    except ConfigError as exc:
        if bad_request:
            raise ApiError(400, str(exc)) from None
        raise


def _query_result(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"result": items, "resultCount": len(items), "pagedResultsCookie": None,
            "totalPagedResultsPolicy": "NONE", "totalPagedResults": -1, "remainingPagedResults": -1}


def _select(job: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    if not fields:
        return job
    keep = {"_id", *(f.split("/")[0] for f in fields)}
    return {k: v for k, v in job.items() if k in keep}


async def job_collection(request: Request) -> Response:
    if request.method == "GET":
        query_filter = request.query_params.get("_queryFilter")
        query_id = request.query_params.get("_queryId")
        if query_id is not None and query_id != "query-all-ids":
            raise ApiError(400, f"Unsupported _queryId {query_id} (supported: query-all-ids)")
        if query_id is None and query_filter is None:
            raise ApiError(400, "scheduler/job: _queryFilter=true or _queryId=query-all-ids is required")
        if query_filter is not None and query_filter.strip() != "true":
            raise ApiError(400, "scheduler/job: only _queryFilter=true is supported (use _fields to narrow)")
        fields = ("_id",) if query_id else crest.fields_param(request.query_params)
        jobs = await _call(request, "list")
        return json_response(request, _query_result([_select(j, fields) for j in jobs]))
    action = _action(request, ("create", "listCurrentlyExecutingJobs", "pauseJobs", "resumeJobs"), JOB)
    if action == "create":
        body = await crest.json_body(request, expect=dict)
        job = await _call(request, "create", body, bad_request=True)
        headers = {"Location": f"/openidm/{JOB}/{job['_id']}"}
        return json_response(request, job, status=201, headers=headers)
    if await request.body():  # the body, if any, must be a job as documented (it is not used)
        body = await crest.json_body(request, expect=dict)
        await _call(request, "check", body, bad_request=True)
    if action == "listCurrentlyExecutingJobs":
        return json_response(request, await _call(request, "executing"))
    await _call(request, "pause_all", action == "pauseJobs")
    return json_response(request, {"success": True})


#: a job id is a file name (conf/schedule-<id>.json): the characters parse_schedule allows, and short enough
#: for any file system (an over-long name was a 500: the file system's ENAMETOOLONG)
MAX_JOB_ID = 200


def _check_job_id(request: Request, job_id: str) -> None:
    from core.schedule import ID_PATTERN

    if len(job_id) <= MAX_JOB_ID and ID_PATTERN.fullmatch(job_id):
        return
    if request.method == "PUT":
        raise ApiError(400, f"scheduler/job/{job_id[:40]}: a job id is 1 to {MAX_JOB_ID} letters, digits, "
                            "'.', '_' or '-', starting with a letter or digit")
    raise ApiError(404, f"Schedule {job_id[:40]} not found")


async def job_instance(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    _check_job_id(request, job_id)
    if request.method == "GET":
        return json_response(request, _select(await _call(request, "read", job_id),
                                              crest.fields_param(request.query_params)))
    if request.method == "DELETE":
        return json_response(request, await _call(request, "delete", job_id))
    if request.method == "POST":
        action = _action(request, ("pause", "resume"), f"{JOB}/{job_id}")
        await _call(request, "pause", job_id, action == "pause")
        return json_response(request, {"success": True})
    body = await crest.json_body(request, expect=dict)
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise ApiError(400, "If-None-Match: only * is supported (create if absent)")
    job, created = await _call(request, "put", job_id, body, if_none_match is not None, bad_request=True)
    return json_response(request, job, status=201 if created else 200)


async def scheduler_action(request: Request) -> Response:
    from core.schedule import CronError, QuartzCron

    _action(request, ("validateQuartzCronExpression",), "scheduler")
    body = await crest.json_body(request, expect=dict)
    expression = body.get("cronExpression")
    if not isinstance(expression, str):
        raise ApiError(400, "cronExpression: a Quartz cron expression (string) is required")
    try:
        QuartzCron.parse(expression)
    except CronError as exc:
        return json_response(request, {"valid": False, "message": str(exc)})
    return json_response(request, {"valid": True})


SCHEDULER_ROUTES = [
    Route("/openidm/scheduler", scheduler_action, methods=["POST"]),
    Route("/openidm/scheduler/job", job_collection, methods=["GET", "POST"]),
    Route("/openidm/scheduler/job/{job_id}", job_instance, methods=["GET", "PUT", "POST", "DELETE"]),
]


def scheduler_openapi(action: Any, errors: Any, json_: Any, query: Any, pretty: Any,
                      fields: Any) -> dict[str, Any]:
    """The OpenAPI paths of :data:`SCHEDULER_ROUTES` (helpers passed in from ``core.api.openapi``)."""
    from core.api.openapi import query_selector

    job = job_schema()
    answer = {**job, "required": ["_id", *job["required"]]}
    body = {"required": True, "content": {"application/json": {"schema": job}}}
    success = json_({"type": "object", "properties": {"success": {"type": "boolean"}}}, "done")
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {
        "type": "string", "maxLength": MAX_JOB_ID, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"}}
    return {
        "/openidm/scheduler": {"post": {
            "summary": "Check a Quartz cron expression", "operationId": "validateQuartzCronExpression",
            "parameters": [action("validateQuartzCronExpression"), pretty],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["cronExpression"],
                "properties": {"cronExpression": {"type": "string"}}}}}},
            "responses": {"200": json_({"type": "object", "properties": {"valid": {"type": "boolean"}}},
                                       "whether sfsync runs it"), **errors(400)}}},
        "/openidm/scheduler/job": {
            "get": {"summary": "List the schedules (_queryFilter=true or _queryId=query-all-ids)",
                    "operationId": "listJobs",
                    "parameters": [query_selector({"type": "string", "enum": ["true"]}), fields, pretty],
                    "responses": {"200": json_({"type": "object"}, "IDM's query result of jobs"), **errors(400)}},
            "post": {"summary": "Create a job with a new id, list the jobs firing now, or pause/resume all",
                     "operationId": "jobsAction",
                     "parameters": [action("create", "listCurrentlyExecutingJobs", "pauseJobs", "resumeJobs"),
                                    pretty],
                     "requestBody": {"required": False, "content": {"application/json": {"schema": job}}},
                     "responses": {"200": json_({}, "the executing jobs, or success"),
                                   "201": json_(answer, "the created job"), **errors(400, 412)}}},
        "/openidm/scheduler/job/{job_id}": {
            "parameters": [job_id],
            "get": {"summary": "Read a job", "operationId": "readJob", "parameters": [fields, pretty],
                    "responses": {"200": json_(answer, "the job"), **errors(404)}},
            "put": {"summary": "Create or replace a job (written to conf/schedule-<id>.json)",
                    "operationId": "putJob", "requestBody": body,
                    "parameters": [{"name": "If-None-Match", "in": "header", "required": False,
                                    "schema": {"type": "string", "enum": ["*"]}}, pretty],
                    "responses": {"200": json_(answer, "replaced"), "201": json_(answer, "created"),
                                  **errors(400, 404, 412)}},
            "post": {"summary": "Pause or resume a job", "operationId": "pauseJob",
                     "parameters": [action("pause", "resume"), pretty],
                     "responses": {"200": success, **errors(400, 404)}},
            "delete": {"summary": "Delete a job (and its file)", "operationId": "deleteJob",
                       "parameters": [pretty], "responses": {"200": json_(answer, "the deleted job"),
                                                              **errors(404)}}},
    }


def _openapi_3_0(schema: Any) -> Any:
    """Pydantic's JSON Schema in OpenAPI 3.0's dialect: ``anyOf [X, null]`` is ``X`` with ``nullable``."""
    if isinstance(schema, list):
        return [_openapi_3_0(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _openapi_3_0(v) for k, v in schema.items() if k != "title"}
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del out["anyOf"]
        out.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        out["nullable"] = True
    return out


def job_schema() -> dict[str, Any]:
    """A job as sent: the schedule file's keys with their types (``ScheduleConfig``, the model the server
    checks them with); the read-only keys a GET adds are accepted and ignored. What JSON Schema cannot say
    (a Quartz expression, a time zone, a mapping of sync.json) is a 400 naming the field."""
    from core.schedule import ScheduleConfig

    schema = _openapi_3_0(ScheduleConfig.model_json_schema())
    schema["description"] = "a schedule (IDM's job object)"
    for key in ("_id", "_rev", "triggers", "previousRunDate", "nextRunDate", "lastResult"):
        schema["properties"][key] = {"description": "read-only: answered by a GET, ignored when sent"}
    return schema
