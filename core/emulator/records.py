"""Record-level resources: single-record GET, sObject Collections (create/update/delete/retrieve),
getUpdated/getDeleted, limits and the global describe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from . import ids
from .clock import format_dt, parse_dt
from .errors import DataApiError, WriteError, not_found
from .org import Org, U
from .schema import SOBJECTS, USER, SObjectType

MAX_COLLECTION = 200
REPLICATION_DAYS = 30


def describe_global(version: str) -> dict:
    return {"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION,
            "sobjects": [s.summary(version) for s in SOBJECTS.values()]}


def _table(org: Org, sobject: SObjectType) -> dict:
    return org.users if sobject.name == "User" else org.profiles


def _field_list(sobject: SObjectType, fields: list[str] | None) -> list[tuple[str, int]]:
    if not fields:
        return [(f.name, i) for i, f in enumerate(sobject.fields)]
    out = []
    for name in fields:
        f = sobject.field(name.strip())
        if f is None:
            raise DataApiError(400, "INVALID_FIELD",
                           f"No such column '{name.strip()}' on entity '{sobject.name}'. If you are attempting to "
                           "use a custom field, be sure to append the '__c' after the custom field name. Please "
                           "reference your WSDL or the describe call for the appropriate names.")
        out.append((f.name, sobject.pos(f.name)))
    return out


def _record(sobject: SObjectType, row: list, pairs: list[tuple[str, int]], version: str) -> dict:
    rec = {"attributes": {"type": sobject.name, "url": f"/services/data/v{version}/sobjects/{sobject.name}/{row[0]}"}}
    rec.update((name, row[i]) for name, i in pairs)
    return rec


def get_record(org: Org, sobject: SObjectType, record_id: str, fields: str | None, version: str) -> dict:
    normal = ids.normalize(record_id)
    if normal is None:
        raise DataApiError(404, "NOT_FOUND",
                       f"Provided external ID field does not exist or is not accessible: {record_id}")
    row = _table(org, sobject).get(normal)
    if row is None:
        raise not_found()
    pairs = _field_list(sobject, fields.split(",") if fields else None)
    return _record(sobject, row, pairs, version)


def retrieve_many(org: Org, sobject: SObjectType, id_list: list, fields: list, version: str) -> list:
    """``composite/sobjects/X`` retrieve: records in input order, ``null`` for ids not found."""
    if not fields:
        raise DataApiError(400, "MISSING_ARGUMENT", "fields parameter is required")
    if len(id_list) > 2000:
        raise DataApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 2000 records")
    pairs = _field_list(sobject, [str(f) for f in fields])
    table = _table(org, sobject)
    out = []
    for rid in id_list:
        normal = ids.normalize(str(rid))
        if normal is None:
            raise DataApiError(400, "MALFORMED_ID", f"malformed id {rid}")
        row = table.get(normal)
        out.append(_record(sobject, row, pairs, version) if row is not None else None)
    return out


def collections(org: Org, method: str, body: object, user_id: str) -> list[dict]:
    """``composite/sobjects`` POST (create), PATCH (update) or DELETE: SaveResults in input order.

    With ``allOrNone`` a failure rolls back the records already written and marks them
    ``ALL_OR_NONE_OPERATION_ROLLED_BACK``, as Salesforce does.
    """
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise DataApiError(400, "JSON_PARSER_ERROR", "The request body must be an object with a 'records' array")
    records = body["records"]
    all_or_none = bool(body.get("allOrNone", False))
    if len(records) > MAX_COLLECTION:
        raise DataApiError(400, "EXCEEDED_ID_LIMIT",
                       f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call")
    results: list[dict] = []
    undo: list[tuple[str, list | None]] = []
    with org.lock:
        for rec in records:
            result = _one(org, method, rec, user_id, undo)
            results.append(result)
        if all_or_none and any(not r["success"] for r in results):
            for uid, old in reversed(undo):
                _restore(org, uid, old)
            rolled = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                      "message": "Record rolled back because not all records were valid and the request was using "
                                 "AllOrNone header", "fields": []}
            for i, r in enumerate(results):
                if r["success"]:
                    results[i] = {"id": r["id"], "success": False, "errors": [rolled]} if method != "POST" else \
                        {"success": False, "errors": [rolled]}
    return results


def _one(org: Org, method: str, rec: object, user_id: str, undo: list) -> dict:
    if method == "DELETE":
        normal = ids.normalize(str(rec))
        if normal is None or normal not in org.users:
            return {"id": str(rec), "success": False, "errors": [
                {"statusCode": "ENTITY_IS_DELETED" if normal else "MALFORMED_ID",
                 "message": "entity is deleted" if normal else f"malformed id {rec}", "fields": []}]}
        return {"id": normal, "success": False, "errors": [
            {"statusCode": "INVALID_TYPE_FOR_OPERATION", "message": "entity type cannot be deleted", "fields": []}]}
    if not isinstance(rec, dict):
        return {"success": False, "errors": [{"statusCode": "JSON_PARSER_ERROR", "message": "record must be an object",
                                              "fields": []}]}
    rtype = (rec.get("attributes") or {}).get("type") if isinstance(rec.get("attributes"), dict) else None
    if rtype is None:
        return {"success": False, "errors": [{"statusCode": "INVALID_TYPE",
                                              "message": "Must send a concrete entity type.", "fields": []}]}
    if rtype != "User":
        return {"success": False, "errors": [{"statusCode": "INVALID_TYPE_FOR_OPERATION",
                                              "message": f"entity type cannot be written: {rtype}", "fields": []}]}
    values = {k: v for k, v in rec.items() if k != "attributes"}
    try:
        if method == "POST":
            if any(k.lower() == "id" for k in values):
                return {"success": False, "errors": [{"statusCode": "INVALID_FIELD",
                                                      "message": "cannot specify Id in an insert call", "fields": []}]}
            new_id = org.create_user(values, by=user_id)
            undo.append((new_id, None))
            return {"id": new_id, "success": True, "errors": []}
        rid = next((values.pop(k) for k in list(values) if k.lower() == "id"), None)
        if rid is None:
            return {"success": False, "errors": [{"statusCode": "MISSING_ARGUMENT",
                                                  "message": "Id not specified in an update call", "fields": []}]}
        normal = ids.normalize(str(rid))
        if normal is None:
            return {"id": str(rid), "success": False, "errors": [
                {"statusCode": "MALFORMED_ID", "message": f"User ID: id value of incorrect type: {rid}",
                 "fields": ["Id"]}]}
        old = org.users.get(normal)
        snapshot = list(old) if old is not None else None
        org.update_user(normal, values, by=user_id)
        undo.append((normal, snapshot))
        return {"id": normal, "success": True, "errors": []}
    except WriteError as exc:
        out = {"success": False, "errors": [e.record_error() for e in exc.errors]}
        if method == "PATCH":
            out = {"id": str(rid), **out}
        if exc.errors and exc.errors[0].status == 404:
            out["errors"] = [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]
        return out


def _restore(org: Org, uid: str, old: list | None) -> None:
    """Undo one write of an all-or-none batch (remove a created row, or put back the previous values)."""
    current = org.users.get(uid)
    if current is not None:
        org.by_username.pop(current[U["Username"]], None)
        org.by_nickname.pop(current[U["CommunityNickname"]].lower(), None)
    if old is None:
        org.users.pop(uid, None)
    elif current is not None:
        current[:] = old
        org.by_username[old[U["Username"]]] = uid
        org.by_nickname[old[U["CommunityNickname"]].lower()] = uid
    org.changes += 1


def _window(start: str | None, end: str | None) -> tuple[str, str, datetime]:
    if not start or not end:
        raise DataApiError(400, "MISSING_ARGUMENT", "start and end are required (ISO 8601 date-times in UTC)")
    try:
        s, e = parse_dt(start), parse_dt(end)
    except ValueError:
        raise DataApiError(400, "INVALID_REPLICATION_DATE", f"invalid date-time: start={start} end={end}") from None
    s, e = s.replace(second=0, microsecond=0), e.replace(second=0, microsecond=0)
    now = datetime.now(UTC)
    if s >= e:
        raise DataApiError(400, "INVALID_REPLICATION_DATE", "start date must chronologically precede end date")
    if s < now - timedelta(days=REPLICATION_DAYS):
        raise DataApiError(400, "INVALID_REPLICATION_DATE", "startDate is out of range, it cannot be more than "
                       f"{REPLICATION_DAYS} days ago")
    latest = min(e, now.replace(second=0, microsecond=0))
    return format_dt(s), format_dt(e), latest


def updated(org: Org, sobject: SObjectType, start: str | None, end: str | None) -> dict:
    s, e, latest = _window(start, end)
    i = sobject.pos("SystemModstamp")
    with org.lock:
        found = [row[0] for row in _table(org, sobject).values() if s <= row[i] < e]
    if len(found) > 600_000:
        raise DataApiError(400, "EXCEEDED_ID_LIMIT", "too many ids, narrow the date range")
    return {"ids": found, "latestDateCovered": format_dt(latest)}


def deleted(org: Org, sobject: SObjectType, start: str | None, end: str | None) -> dict:
    """Users are never deleted (only deactivated), so the list is always empty, as in a real org."""
    _, _, latest = _window(start, end)
    earliest = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=REPLICATION_DAYS)
    return {"deletedRecords": [], "earliestDateAvailable": format_dt(earliest), "latestDateCovered": format_dt(latest)}


def limits(org: Org) -> dict:
    remaining = max(0, org.api_max - org.api_used)
    fixed = {"DailyAsyncApexExecutions": 250000, "DailyBulkApiBatches": 15000, "DailyBulkV2QueryFileStorageMB": 976562,
             "DailyBulkV2QueryJobs": 10000, "DailyStreamingApiEvents": 1000000, "DataStorageMB": 1024,
             "FileStorageMB": 1024, "HourlyODataCallout": 10000, "MassEmail": 5000, "SingleEmail": 5000}
    out = {"ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
           "DailyApiRequests": {"Max": org.api_max, "Remaining": remaining}}
    out.update({k: {"Max": v, "Remaining": v} for k, v in fixed.items()})
    out["DataStorageMB"]["Remaining"] = max(0, 1024 - len(org.users) // 500)
    return out


__all__ = ["USER", "collections", "deleted", "describe_global", "get_record", "limits", "retrieve_many", "updated"]
