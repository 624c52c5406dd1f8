"""The OpenAPI 3 document of ``sfsync serve``, served at ``/openapi.json`` and at IDM's ``/openidm/?_api``.

Written by hand next to the routes (IDM's shapes are not derivable from type hints); a test checks that
every route and method of the app is documented here and nothing else is, and the fuzz test generates its
requests from this document, so it stays true.
"""

from __future__ import annotations

from typing import Any

from core.api.crest import FIELDS_PATTERN, SORT_KEYS_PATTERN
from core.repo import EMAIL_PATTERN

SITUATIONS = ["CONFIRMED", "FOUND", "ABSENT", "AMBIGUOUS", "MISSING", "UNQUALIFIED", "UNASSIGNED",
              "SOURCE_MISSING", "SOURCE_IGNORED", "TARGET_IGNORED", "FOUND_ALREADY_LINKED"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """References to the shared error responses: 400 (a malformed parameter), 401 and 500 always, 413 (a body
    over max_request_body) for every operation that takes one, plus ``codes``."""
    return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in sorted({400, 401, *codes, 500})}


def _query(name: str, schema: dict[str, Any], description: str, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


PRETTY = _query("_prettyPrint", {"type": "boolean"}, "indent the JSON answer")
FIELDS = _query("_fields", {"type": "string", "pattern": FIELDS_PATTERN},
                "comma-separated fields to return (_id and _rev always come); each a JSON pointer")
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "the _rev the change is based on (quoted or not); * or absent: any"}
USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}


def query_selector(filter_schema: dict[str, Any]) -> dict[str, Any]:
    """Exactly one of ``_queryFilter`` / ``_queryId`` (CREST: both, or neither, is a 400). OpenAPI 3.0 has no
    "one of these parameters"; the honest encoding is one form-exploded object parameter whose ``oneOf`` says
    it: its properties are sent as the query parameters themselves (``?_queryFilter=true``)."""
    def only(name: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [name], "additionalProperties": False,
                "properties": {name: schema}}

    return {"name": "query", "in": "query", "required": True, "style": "form", "explode": True,
            "description": "_queryFilter (a CREST filter, e.g. true or userName sw \"a\") or "
                           "_queryId=query-all-ids, not both",
            "schema": {"oneOf": [only("_queryFilter", filter_schema),
                                 only("_queryId", {"type": "string", "enum": ["query-all-ids"]})]}}


def _selector(name: str, description: str, *branches: dict[str, Any]) -> dict[str, Any]:
    """Parameters whose rules depend on each other (``_action`` and what that action needs), as one
    form-exploded object parameter (its properties are the query parameters themselves), like
    :func:`query_selector`: each branch an object with exactly its parameters."""
    return {"name": name, "in": "query", "required": True, "style": "form", "explode": True,
            "description": description, "schema": {"anyOf": list(branches)}}


def _branch(action: str, required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["_action", *required], "additionalProperties": False,
            "properties": {"_action": {"type": "string", "enum": [action]}, **props}}


#: liveSync's source as ``check_source`` reads it: system/salesforce/<object type> (outer slashes ignored)
SOURCE_PATTERN = "^/*system/salesforce/[^/]+/*$"


def system_selector() -> dict[str, Any]:
    """``_action=test``, or ``_action=liveSync`` with its ``source`` (required there, refused with test)."""
    return _selector("system", "_action=test, or _action=liveSync&source=system/salesforce/User (an object set "
                     "a mapping of conf/sync.json reads with enableSync; another is a 404)",
                     _branch("test"),
                     _branch("liveSync", ("source",), source={"type": "string", "pattern": SOURCE_PATTERN}))


def recon_selector() -> dict[str, Any]:
    """``_action=recon``, or ``_action=reconById`` with the source ids (``id`` and/or ``ids``; refused with
    recon). An id list must name at least one id (something besides commas)."""
    ids = {"type": "string", "pattern": "[^,]"}
    return _selector("run", "_action=recon, or _action=reconById with id=ID and/or ids=A,B (source ids)",
                     _branch("recon"),
                     _branch("reconById", ("id",), id=ids, ids={"type": "string"}),
                     _branch("reconById", ("ids",), id={"type": "string"}, ids=ids))


def _query_params() -> list[dict[str, Any]]:
    return [
        # crest-query-filter: CREST's filter grammar (not a regular language, so no pattern can say it)
        query_selector({"type": "string", "format": "crest-query-filter"}),
        FIELDS,
        _query("_pageSize", {"type": "integer", "minimum": 0, "maximum": 10000}, "results per page; 0 = all"),
        _query("_pagedResultsCookie", {"type": "string"},
               "the previous page's pagedResultsCookie, as returned (with the same _sortKeys); "
               "not with _pagedResultsOffset"),
        _query("_pagedResultsOffset", {"type": "integer", "minimum": 0},
               "results to skip; not with _pagedResultsCookie"),
        _query("_sortKeys", {"type": "string", "pattern": SORT_KEYS_PATTERN},
               "comma-separated fields (JSON pointers), - prefix for descending"),
        _query("_totalPagedResultsPolicy", {"type": "string", "enum": ["NONE", "EXACT", "ESTIMATE"]},
               "whether to count all results"),
        PRETTY,
    ]


#: a patch operation's field: a JSON pointer with no empty segment, not _id or _rev (which cannot be patched)
PATCH_POINTER = "^/?(?!(?:_id|_rev)(?:/|$))[^/]+(?:/[^/]+)*$"


def patch_operation_schema() -> dict[str, Any]:
    """IDM's patch operations as the server checks them: what each operation needs (a value, a numeric value,
    a from), with fields as JSON pointers. (IDM's ``transform`` runs a script: sfsync refuses it.)"""
    pointer = {"type": "string", "pattern": PATCH_POINTER}

    def op(names: list[str], **props: Any) -> dict[str, Any]:
        return {"type": "object", "required": ["operation", "field", *props],
                "properties": {"operation": {"type": "string", "enum": names}, "field": pointer, **props}}

    return {"oneOf": [op(["add", "replace"], value={}), op(["remove"]),
                      op(["increment"], value={"type": "number"}), op(["copy", "move"], **{"from": pointer})],
            "description": "a patch operation; whether it applies depends on the stored user (a field to "
                           "remove or copy must exist, the result must still satisfy managed.json): a 400 "
                           "names the operation otherwise"}


def _schemas() -> dict[str, Any]:
    count = {"type": "integer"}
    user_fields = {name: {"type": "string"} for name in ("userName", "givenName", "sn", "mail", "accountStatus",
                                                         "profileId", "description")}
    existing = {"type": "object", "properties": {"processed": count, "total": {"type": "string"}}}
    return {
        "Error": {"type": "object", "required": ["code", "reason", "message"],
                  "properties": {"code": count, "reason": {"type": "string"}, "message": {"type": "string"},
                                 "detail": {"type": "object"}}},
        "ConnectorTest": {"type": "object", "required": ["name", "enabled", "ok"], "properties": {
            "name": {"type": "string"}, "enabled": {"type": "boolean"}, "config": {"type": "string"},
            "connectorRef": {"type": "object"}, "displayName": {"type": "string"},
            "objectTypes": {"type": "array", "items": {"type": "string"}}, "ok": {"type": "boolean"},
            "error": {"type": "string"}}},
        "LiveSyncStage": {"type": "object", "required": ["_id", "connectorData", "sfsync"], "properties": {
            "_id": {"type": "string", "example": "SYSTEMSALESFORCEUSER"}, "_rev": {"type": "string"},
            "connectorData": {"type": "object", "properties": {
                "nativeType": {"type": "string", "enum": ["string"]},
                "syncToken": {"type": "string", "description": "the newest SystemModstamp processed"}}},
            "lastException": {"type": "object", "properties": {"throwable": {"type": "string"},
                                                               "syncDelta": {"type": "array"}}},
            "sfsync": {"type": "object", "description": "this tick: status, message, changes, situationSummary, "
                       "statusSummary, implicitSync, retrying, fullReconciliation, deletionsHeld, apiCalls",
                       "properties": {"status": {"type": "string", "enum": ["SUCCESS", "FAILED"]}}}}},
        "ReconStarted": {"type": "object", "required": ["_id", "state"], "properties": {
            "_id": {"type": "string"}, "state": {"type": "string",
                                                 "enum": ["ACTIVE", "SUCCESS", "FAILED", "CANCELED"]}}},
        "ReconRun": {"type": "object", "required": ["_id", "mapping", "state", "stage"], "properties": {
            "_id": {"type": "string"}, "mapping": {"type": "string"},
            "state": {"type": "string", "enum": ["ACTIVE", "SUCCESS", "FAILED", "CANCELED"]},
            "stage": {"type": "string"}, "stageDescription": {"type": "string"},
            "progress": {"type": "object", "properties": {
                "source": {"type": "object", "properties": {"existing": existing}},
                "target": {"type": "object", "properties": {"existing": existing, "created": count}},
                "links": {"type": "object", "properties": {"existing": existing, "created": count}}}},
            "situationSummary": {"type": "object", "properties": {s: count for s in SITUATIONS}},
            "statusSummary": {"type": "object", "properties": {"SUCCESS": count, "FAILURE": count}},
            "started": {"type": "string"}, "ended": {"type": "string"}, "duration": count,
            "failureReason": {"type": "string"},
            "deletionsHeld": {"type": "object", "required": ["count", "threshold", "examples"], "properties": {
                "count": count, "threshold": count, "examples": {"type": "array", "items": {"type": "object"}}}},
            "nodes": {"type": "array", "description": "a clustered run's nodes (clusteredSourceReconEnabled): "
                                                      "source records each processed, and its state",
                      "items": {"type": "object", "required": ["nodeId", "processed", "state"], "properties": {
                          "nodeId": {"type": "string"}, "processed": count,
                          "state": {"type": "string", "enum": ["WORKING", "IDLE", "GONE"]}}}},
            "sourceProcessedByNode": {"type": "object", "additionalProperties": count,
                                      "description": "IDM's name for the nodes' source records"}}},
        "ReconList": {"type": "object", "required": ["reconciliations"], "properties": {
            "reconciliations": {"type": "array", "items": _ref("ReconRun")}}},
        "ReconCancel": {"type": "object", "required": ["_id", "action", "status"], "properties": {
            "_id": {"type": "string"}, "action": {"type": "string", "enum": ["cancel"]},
            "status": {"type": "string"}}},
        "User": {"type": "object", "additionalProperties": True, "required": ["userName", "givenName", "sn", "mail"],
                 "description": "a managed user as sent (managed.json's required fields; others are kept)",
                 "properties": user_fields},
        "ManagedUser": {"type": "object", "additionalProperties": True, "required": ["_id", "_rev"],
                        "description": "a managed user as answered (only the _fields asked for, with _id, _rev)",
                        "properties": {"_id": {"type": "string"}, "_rev": {"type": "string"}, **user_fields}},
        "PatchOperation": patch_operation_schema(),
        "QueryResult": {"type": "object", "required": ["result", "resultCount", "pagedResultsCookie",
                                                       "totalPagedResultsPolicy", "totalPagedResults",
                                                       "remainingPagedResults"], "properties": {
            "result": {"type": "array", "items": {"type": "object"}}, "resultCount": count,
            "pagedResultsCookie": {"type": "string", "nullable": True},
            "totalPagedResultsPolicy": {"type": "string"}, "totalPagedResults": count,
            "remainingPagedResults": count}},
        "AuditEntry": {"type": "object", "properties": {
            k: {"type": "string", "nullable": True} for k in ("_id", "timestamp", "eventName", "reconId", "mapping", "situation",
                                            "action", "status", "sourceObjectId", "targetObjectId",
                                            "entryType", "message")}},
    }


_JSON_TYPES = ("string", "boolean", "number", "integer", "object", "array")


def _property_schema(prop: dict[str, Any], required: bool) -> dict[str, Any]:
    """What :class:`~core.repo.schema.ManagedSchema` checks of one property, as JSON Schema: its JSON type(s),
    ``minLength``, ``pattern``, the email and forbidden-characters policies; null is accepted unless required
    (a required field must be present, not null and not empty)."""
    declared = prop.get("type")
    names = declared if isinstance(declared, list) else [declared] if declared else []
    out: dict[str, Any] = {}
    if names and all(n in _JSON_TYPES or n == "null" for n in names):
        kinds = [n for n in names if n != "null"]
        if len(kinds) == 1:
            out["type"] = kinds[0]
        elif kinds:
            out["anyOf"] = [{"type": k} for k in kinds]
        if "null" in names and not required:
            out["nullable"] = True
    if prop.get("description"):
        out["description"] = str(prop["description"])
    if out.get("type") == "string":
        patterns = []
        if isinstance(prop.get("minLength"), int):
            out["minLength"] = prop["minLength"]
        if isinstance(prop.get("pattern"), str):
            patterns.append(prop["pattern"])
        policies = [p for p in prop.get("policies") or () if isinstance(p, dict)]
        if any(p.get("policyId") == "valid-email-address-format" for p in policies):
            patterns.append("^$|" + EMAIL_PATTERN)  # IDM's policy.js (the server's very pattern); "" is left to required
        forbidden = [c for p in policies if p.get("policyId") == "cannot-contain-characters"
                     for c in (p.get("params") or {}).get("forbiddenChars", ()) if isinstance(c, str)]
        if forbidden:
            import re

            patterns.append("^[^" + "".join(re.escape(c) for c in forbidden) + "]*$")
        if required:
            out["minLength"] = max(out.get("minLength", 0), 1)
        if len(patterns) == 1:
            out["pattern"] = patterns[0]
        elif patterns:
            out["allOf"] = [{"pattern": p} for p in patterns]
    if not required and "type" in out:
        out["nullable"] = True
    return out


def user_schema(managed: Any | None) -> dict[str, Any]:
    """The managed user as sent, from the project's managed.json (``ManagedSchema``): its required fields and
    the type, length, pattern and policies of each declared one; undeclared fields are kept, as IDM keeps them.
    Without a schema (no project), the sample's four required strings."""
    if managed is None or not managed.properties:
        fields = {n: {"type": "string", "minLength": 1} for n in ("userName", "givenName", "sn", "mail")}
        required = list(fields)
    else:
        required = list(managed.required)
        fields = {name: _property_schema(prop, name in required) for name, prop in managed.properties.items()
                  if name not in ("_id", "_rev")}
    fields["_id"] = {"type": "string", "nullable": True, "minLength": 1, "pattern": "^[^/]*$",
                     "description": "the new user's id (POST ?_action=create; null or absent: the server picks "
                                    "one, as IDM reads a null _id); ignored by PUT (the path's id)"}
    fields["_rev"] = {"description": "ignored (If-Match says the revision)"}
    return {"type": "object", "additionalProperties": True, "required": required, "properties": fields,
            "description": "a managed user as sent (managed.json's schema; others fields are kept)"}


def answered_user(managed: Any | None) -> dict[str, Any]:
    """A managed user as answered: ``_id`` and ``_rev``, then what is stored (only the ``_fields`` asked for);
    each declared field with its JSON type, or null (a user stored before managed.json changed keeps its
    values)."""
    props: dict[str, Any] = {}
    for name, schema in user_schema(managed)["properties"].items():
        if name in ("_id", "_rev"):
            continue
        kept = {k: v for k, v in schema.items() if k in ("type", "anyOf", "description")}
        props[name] = {**kept, "nullable": True} if "type" in kept else kept
    return {"type": "object", "additionalProperties": True, "required": ["_id", "_rev"],
            "description": "a managed user as answered (only the _fields asked for, with _id and _rev)",
            "properties": {"_id": {"type": "string"}, "_rev": {"type": "string"}, **props}}


def _responses() -> dict[str, Any]:
    names = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
             409: "Conflict", 412: "Precondition Failed", 413: "Content Too Large", 429: "Too Many Requests",
             500: "Internal Server Error"}
    return {f"E{code}": _json(_ref("Error"), name) for code, name in names.items()}


def _link(operation_id: str, parameter: str, expression: str, description: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": {parameter: expression}, "description": description}


#: (operation, status) -> the operations its answer's id leads to, and the path parameter it fills
_LINKS = {
    ("createUser", "201"): ("user_id", "$response.body#/_id", ("readUser", "patchUser", "putUser", "deleteUser")),
    ("putUser", "201"): ("user_id", "$response.body#/_id", ("readUser", "patchUser", "deleteUser")),
    ("startRecon", "200"): ("run_id", "$response.body#/_id", ("getRecon", "cancelRecon")),
    ("jobsAction", "201"): ("job_id", "$response.body#/_id", ("readJob", "pauseJob", "putJob", "deleteJob")),
    ("putJob", "201"): ("job_id", "$response.body#/_id", ("readJob", "pauseJob", "deleteJob")),
    ("queryReconAudit", "200"): ("entry_id", "$response.body#/result/0/_id", ("readReconAudit",)),
}


def _add_links(paths: dict[str, Any]) -> None:
    """OpenAPI ``links``: what an answer's id lets a client call next (schemathesis's stateful phase follows
    them: create a user, then read, patch, replace and delete it; start a run, then read and cancel it)."""
    by_id = {op["operationId"]: op for item in paths.values() for op in item.values()
             if isinstance(op, dict) and "operationId" in op}
    for (source, status), (parameter, expression, targets) in _LINKS.items():
        response = by_id[source]["responses"][status]
        response["links"] = {target: _link(target, parameter, expression, f"{target} the {parameter[:-3]}")
                             for target in targets}


def _project_facts(project: Any, loaded: Any) -> tuple[Any, list[str] | None]:
    """The project's managed user schema and mapping names from ``loaded`` (a look at its files; a new one
    when None), None for what cannot be read: the document then says less, and the server refuses what it
    cannot run."""
    managed = mappings = None
    if project is None and loaded is None:
        return None, None
    from core.config import ProjectConfig

    look = loaded if loaded is not None else ProjectConfig.load(project)
    try:
        from core.repo import ManagedSchema

        managed = ManagedSchema.of(look)  # None without managed.json
    except Exception:  # noqa: BLE001 - a broken managed.json is reported by the calls that need it
        managed = None
    try:
        data = look.sync_data
        mappings = [m["name"] for m in data["mappings"] if isinstance(m.get("name"), str)]
    except Exception:  # noqa: BLE001 - likewise sync.json
        mappings = None
    return managed, mappings


def build_openapi(project: Any = None, *, config: Any = None) -> dict[str, Any]:
    """The document; ``paths`` keys use the app's route templates exactly. With ``project`` (or ``config``,
    the server's look at its files), what depends on it is exact: the user schema follows its managed.json
    and ``mapping`` names its sync.json mappings (as they are when the server starts)."""
    managed, mappings = _project_facts(project, config)
    action = lambda *names: _query("_action", {"type": "string", "enum": list(names)}, "the action",  # noqa: E731
                                   required=True)
    user_body = {"required": True, "content": {"application/json": {"schema": _ref("User")}}}
    livesync_params = [
        _query("allowDeletions", {"type": "boolean"}, "liveSync: apply the tick's deletions however many (the "
               "deletion safeguard holds back more than deletion_threshold and fails the tick)"),
        _query("detailedFailure", {"type": "boolean"}, "liveSync: lastException.syncDelta lists the failed records")]
    from core.api.scheduler_routes import scheduler_openapi

    paths: dict[str, Any] = {
        "/openidm/system": {"post": {
            "summary": "Test the Salesforce connector (system?_action=test), or liveSync a source "
                       "(system?_action=liveSync&source=system/salesforce/User)", "operationId": "testConnector",
            "parameters": [system_selector(), *livesync_params, PRETTY],
            "responses": {"200": _json({"oneOf": [_ref("ConnectorTest"), _ref("LiveSyncStage")]},
                                       "the connector test object, or liveSync's stage object"),
                          **_errors(400, 404)}}},
        "/openidm/system/{name}/{object_type}": {
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": ["salesforce"]}},
                           {"name": "object_type", "in": "path", "required": True,
                            "schema": {"type": "string", "example": "User"}}],
            "post": {"summary": "liveSync: what changed in Salesforce since the stored sync token, through every "
                                "mapping whose source is this object set", "operationId": "liveSync",
                     "parameters": [action("liveSync"), *livesync_params, PRETTY],
                     "responses": {"200": _json(_ref("LiveSyncStage"), "the stage object (the new sync token)"),
                                   **_errors(400, 404)}}},
        "/openidm/system/{name}": {
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": ["salesforce"]}}],
            "post": {"summary": "Test one connector (system/salesforce?_action=test)",
                     "operationId": "testOneConnector", "parameters": [action("test"), PRETTY],
                     "responses": {"200": _json(_ref("ConnectorTest"), "the connector test object"),
                                   **_errors(400, 404)}}},
        "/openidm/recon": {
            "get": {"summary": "All reconciliation runs, oldest first", "operationId": "listRecons",
                    "parameters": [PRETTY],
                    "responses": {"200": _json(_ref("ReconList"), "the runs"), **_errors()}},
            "post": {"summary": "Start a reconciliation", "operationId": "startRecon",
                     "parameters": [recon_selector(),
                                    _query("mapping", {"type": "string", "enum": mappings} if mappings
                                           else {"type": "string", "minLength": 1},
                                           "the mapping name (one of conf/sync.json's)", required=True),
                                    _query("waitForCompletion", {"type": "boolean"},
                                           "answer when the run has ended"),
                                    _query("allowDeletions", {"type": "boolean"},
                                           "apply the run's deletions however many (the deletion safeguard "
                                           "holds back more than deletion_threshold and fails the run)"), PRETTY],
                     "responses": {"200": _json(_ref("ReconStarted"), "the run id and state"),
                                   **_errors(400, 409)}}},
        "/openidm/recon/{run_id}": {
            "parameters": [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"summary": "One run, live while it is ACTIVE", "operationId": "getRecon",
                    "parameters": [PRETTY],
                    "responses": {"200": _json(_ref("ReconRun"), "the run"), **_errors(404)}},
            "post": {"summary": "Cancel a run", "operationId": "cancelRecon",
                     "parameters": [action("cancel"), PRETTY],
                     "responses": {"200": _json(_ref("ReconCancel"), "cancel requested"), **_errors(400, 404)}}},
        "/openidm/managed/user": {
            "get": {"summary": "Query managed users", "operationId": "queryUsers", "parameters": _query_params(),
                    "responses": {"200": _json(_ref("QueryResult"), "the query result"), **_errors(400, 429)}},
            "post": {"summary": "Create a managed user (implicit sync runs)", "operationId": "createUser",
                     "parameters": [action("create"), FIELDS, PRETTY], "requestBody": user_body,
                     "responses": {"201": _json(_ref("ManagedUser"), "the created user"), **_errors(400, 409)}}},
        "/openidm/managed/user/{user_id}": {
            "parameters": [USER_ID],
            "get": {"summary": "Read a managed user", "operationId": "readUser", "parameters": [FIELDS, PRETTY],
                    "responses": {"200": _json(_ref("ManagedUser"), "the user"), **_errors(404)}},
            "put": {"summary": "Replace (If-Match) or create (If-None-Match: *) a managed user",
                    "operationId": "putUser", "requestBody": user_body,
                    "parameters": [IF_MATCH, {"name": "If-None-Match", "in": "header", "required": False,
                                              "schema": {"type": "string", "enum": ["*"]}}, FIELDS, PRETTY],
                    "responses": {"200": _json(_ref("ManagedUser"), "updated"), "201": _json(_ref("ManagedUser"), "created"),
                                  **_errors(400, 404, 409, 412)}},
            "patch": {"summary": "Patch a managed user with IDM patch operations", "operationId": "patchUser",
                      "parameters": [IF_MATCH, FIELDS, PRETTY],
                      "requestBody": {"required": True, "content": {"application/json": {"schema": {
                          "type": "array", "items": _ref("PatchOperation")}}}},
                      "responses": {"200": _json(_ref("ManagedUser"), "patched"), **_errors(400, 404, 409, 412)}},
            "delete": {"summary": "Delete a managed user", "operationId": "deleteUser",
                       "parameters": [IF_MATCH, FIELDS, PRETTY],
                       "responses": {"200": _json(_ref("ManagedUser"), "the deleted user"), **_errors(404, 412)}}},
        "/openidm/audit/recon": {"get": {
            "summary": "Query reconciliation audit entries", "operationId": "queryReconAudit",
            "parameters": _query_params(),
            "responses": {"200": _json(_ref("QueryResult"), "entries (AuditEntry objects)"), **_errors(400, 429)}}},
        "/openidm/audit/recon/{entry_id}": {
            "parameters": [{"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"summary": "One reconciliation audit entry", "operationId": "readReconAudit",
                    "parameters": [PRETTY],
                    "responses": {"200": _json(_ref("AuditEntry"), "the entry"), **_errors(404)}}},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                  "responses": {"200": {"description": "OpenAPI 3 document"}, **_errors()}}},
        "/openidm/": {"get": {"summary": "This document, as IDM serves its API descriptor (/openidm/?_api)",
                              "operationId": "apiDescriptor",
                              "parameters": [_query("_api", {"type": "string"}, "ask for the descriptor",
                                                    required=True)],
                              "responses": {"200": {"description": "OpenAPI 3 document"}, **_errors(400)}}},
    }
    paths.update(scheduler_openapi(action, _errors, _json, _query, PRETTY, FIELDS))
    from core.api.activity_routes import activity_openapi

    activity_paths, activity_schemas = activity_openapi(_query_params(), _errors, _json, PRETTY)
    paths.update(activity_paths)
    from core.api.sync_routes import sync_openapi

    sync_paths, sync_schemas = sync_openapi(_query_params(), _errors, _json, _query, PRETTY, mappings)
    paths.update(sync_paths)
    from core.api.system_routes import system_openapi

    system_schemas = system_openapi(paths, _query_params(), _errors, _json, _query, PRETTY, FIELDS, action)
    _add_links(paths)
    for item in paths.values():  # any request may carry a body: over max_request_body, a 413 (limits.py)
        for op in item.values():
            if isinstance(op, dict) and "responses" in op:
                op["responses"]["413"] = {"$ref": "#/components/responses/E413"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "sfsync REST API (IDM subset)", "version": "1.0",
                 "description": "The part of PingIDM's REST API the Salesforce sample uses, served by "
                                "`sfsync serve`. Every call needs X-OpenIDM-Username and X-OpenIDM-Password."},
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "security": [{"username": [], "password": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "username": {"type": "apiKey", "in": "header", "name": "X-OpenIDM-Username"},
                "password": {"type": "apiKey", "in": "header", "name": "X-OpenIDM-Password"}},
            "schemas": {**_schemas(), **activity_schemas, **sync_schemas, **system_schemas, "User": user_schema(managed),
                        "ManagedUser": answered_user(managed)},
            "responses": _responses(),
        },
    }
