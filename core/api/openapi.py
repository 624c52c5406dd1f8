"""The OpenAPI 3 document of ``sfsync serve``, served at ``/openapi.json`` and at IDM's ``/openidm/?_api``.

Written by hand next to the routes (IDM's shapes are not derivable from type hints); a test checks that
every route and method of the app is documented here and nothing else is, and the fuzz test generates its
requests from this document, so it stays true.
"""

from __future__ import annotations

from typing import Any

SITUATIONS = ["CONFIRMED", "FOUND", "ABSENT", "AMBIGUOUS", "MISSING", "UNQUALIFIED", "UNASSIGNED",
              "SOURCE_MISSING", "SOURCE_IGNORED", "TARGET_IGNORED", "FOUND_ALREADY_LINKED"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """References to the shared error responses: 400 (a malformed parameter), 401 and 500 always, plus ``codes``."""
    return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in sorted({400, 401, *codes, 500})}


def _query(name: str, schema: dict[str, Any], description: str, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


PRETTY = _query("_prettyPrint", {"type": "boolean"}, "indent the JSON answer")
FIELDS = _query("_fields", {"type": "string"}, "comma-separated fields to return (_id and _rev always come)")
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "the _rev the change is based on (quoted or not); * or absent: any"}
USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query_params() -> list[dict[str, Any]]:
    return [
        _query("_queryFilter", {"type": "string"}, "CREST query filter, e.g. true or userName sw \"a\""),
        _query("_queryId", {"type": "string", "enum": ["query-all-ids"]}, "predefined query"),
        FIELDS,
        _query("_pageSize", {"type": "integer", "minimum": 0, "maximum": 10000}, "results per page; 0 = all"),
        _query("_pagedResultsCookie", {"type": "string"}, "the previous page's pagedResultsCookie"),
        _query("_pagedResultsOffset", {"type": "integer", "minimum": 0}, "results to skip"),
        _query("_sortKeys", {"type": "string"}, "comma-separated fields, - prefix for descending"),
        _query("_totalPagedResultsPolicy", {"type": "string", "enum": ["NONE", "EXACT", "ESTIMATE"]},
               "whether to count all results"),
        PRETTY,
    ]


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
                "count": count, "threshold": count, "examples": {"type": "array", "items": {"type": "object"}}}}}},
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
        "PatchOperation": {"type": "object", "required": ["operation", "field"], "properties": {
            "operation": {"type": "string",
                          "enum": ["add", "remove", "replace", "increment", "copy", "move", "transform"]},
            "field": {"type": "string"}, "value": {}, "from": {"type": "string"}}},
        "QueryResult": {"type": "object", "required": ["result", "resultCount", "pagedResultsCookie",
                                                       "totalPagedResultsPolicy", "totalPagedResults",
                                                       "remainingPagedResults"], "properties": {
            "result": {"type": "array", "items": {"type": "object"}}, "resultCount": count,
            "pagedResultsCookie": {"type": "string", "nullable": True},
            "totalPagedResultsPolicy": {"type": "string"}, "totalPagedResults": count,
            "remainingPagedResults": count}},
        "AuditEntry": {"type": "object", "properties": {
            k: {"type": "string"} for k in ("_id", "timestamp", "eventName", "reconId", "mapping", "situation",
                                            "action", "status", "sourceObjectId", "targetObjectId",
                                            "entryType", "message")}},
    }


def _responses() -> dict[str, Any]:
    names = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
             409: "Conflict", 412: "Precondition Failed", 500: "Internal Server Error"}
    return {f"E{code}": _json(_ref("Error"), name) for code, name in names.items()}


def build_openapi() -> dict[str, Any]:
    """The document; ``paths`` keys use the app's route templates exactly."""
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
            "parameters": [action("test", "liveSync"),
                           _query("source", {"type": "string"}, "liveSync: the object set, e.g. system/salesforce/User"),
                           *livesync_params, PRETTY],
            "responses": {"200": _json({"oneOf": [_ref("ConnectorTest"), _ref("LiveSyncStage")]},
                                       "the connector test object, or liveSync's stage object"),
                          **_errors(400)}}},
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
                     "parameters": [action("recon", "reconById"),
                                    _query("mapping", {"type": "string"}, "the mapping name", required=True),
                                    _query("waitForCompletion", {"type": "boolean"},
                                           "answer when the run has ended"),
                                    _query("id", {"type": "string"}, "reconById: a source id"),
                                    _query("ids", {"type": "string"}, "reconById: source ids, comma-separated"),
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
                    "responses": {"200": _json(_ref("QueryResult"), "the query result"), **_errors(400)}},
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
                      "responses": {"200": _json(_ref("ManagedUser"), "patched"), **_errors(400, 404, 412)}},
            "delete": {"summary": "Delete a managed user", "operationId": "deleteUser",
                       "parameters": [IF_MATCH, FIELDS, PRETTY],
                       "responses": {"200": _json(_ref("ManagedUser"), "the deleted user"), **_errors(404, 412)}}},
        "/openidm/audit/recon": {"get": {
            "summary": "Query reconciliation audit entries", "operationId": "queryReconAudit",
            "parameters": _query_params(),
            "responses": {"200": _json(_ref("QueryResult"), "entries (AuditEntry objects)"), **_errors(400)}}},
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
            "schemas": {**_schemas(), **activity_schemas},
            "responses": _responses(),
        },
    }
