"""``openidm.*`` for scripts (``idm-beyond-the-sample.md`` §5.4), IDM's argument order and result shapes:

- ``create(resourceName, newId|null, content[, params[, fields]])`` → the created object
- ``read(resourceName[, params[, fields]])`` → the object, or null when missing
- ``update(resourceName, rev|null, value[, params[, fields]])`` → the object
- ``patch(resourceName, rev|null, [operations][, params[, fields]])`` → the object
- ``delete(resourceName, rev|null[, params[, fields]])`` → the object as it was
- ``query(resourceName, {_queryFilter|_queryId, _pageSize, …}[, fields])`` → ``{result, resultCount,
  pagedResultsCookie, totalPagedResultsPolicy, totalPagedResults, remainingPagedResults}``
- ``action(resourceName, actionName[, content[, params[, fields]]])``: ``managed/user/<id>`` ``patch``;
  ``system/salesforce`` ``test``.

Over ``managed/<name>[/id]`` (the repository) and ``system/salesforce/User[/id]`` (the connector). Any
failure raises :class:`HostError` (thrown into the script as an ``Error``): an unknown resource names it, a
malformed ``_queryFilter`` names the position.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from core.repo.errors import NotFound, RepoError
from core.sync.scriptenv import HostError, ScriptEnv, known_resource_names

_WRITES = frozenset({"create", "update", "patch", "delete", "action"})
_ID_FIELDS = ("_id", "_rev")


def _resource(op: str, name: Any) -> tuple[str, str, str | None]:
    """``(kind, collection, id)``: kind ``managed`` (collection = the managed name) or ``salesforce``."""
    if not isinstance(name, str) or not name:
        raise HostError(f"openidm.{op}: the resource name must be a string, e.g. managed/user")
    parts = name.strip("/").split("/")
    if len(parts) in (2, 3) and parts[0] == "managed" and parts[1]:
        return "managed", parts[1], parts[2] if len(parts) == 3 else None
    if len(parts) in (3, 4) and parts[0] == "system" and parts[1] == "salesforce" and parts[2] == "User":
        return "salesforce", "User", parts[3] if len(parts) == 4 else None
    if parts == ["system", "salesforce"]:
        return "connector", "salesforce", None
    raise HostError(f"openidm.{op}: unknown resource {name!r} (supported: {known_resource_names()})")


def _fields(value: Any) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return [f.strip() for f in value.split(",") if f.strip()]
    if isinstance(value, list):
        return [str(f) for f in value]
    raise HostError("fields must be a list of names or a comma-separated string")


def _project(obj: dict[str, Any] | None, fields: list[str] | None) -> dict[str, Any] | None:
    if obj is None or not fields or "*" in fields:
        return obj
    return {k: v for k, v in obj.items() if k in _ID_FIELDS or k in fields}


def _arg(args: Sequence[Any], i: int) -> Any:
    return args[i] if len(args) > i else None


def call_openidm(env: ScriptEnv, op: str, args: list[Any]) -> Any:
    if op not in ("create", "read", "update", "patch", "delete", "query", "action"):
        raise HostError(f"openidm.{op} is not a function")
    kind, collection, object_id = _resource(op, _arg(args, 0))
    if op in _WRITES and not env.writes and not (op == "action" and kind == "connector"):
        raise HostError(f"openidm.{op}({args[0]!r}): scripts may not write during {env.refused_because or env.origin}"
                        " (its records are decided and committed as a page; see README, Scripts)")
    if kind == "managed" and collection not in env.managed:
        raise HostError(f"openidm.{op}: unknown resource {args[0]!r} (supported: "
                        f"{', '.join(f'managed/{m}[/<id>]' for m in sorted(env.managed))}, "
                        "system/salesforce/User[/<id>])")
    try:
        if kind == "managed":
            return _managed(env, op, collection, object_id, args)
        if kind == "connector":
            return _connector(env, op, args)
        return _salesforce(env, op, object_id, args)
    except HostError:
        raise
    except RepoError as exc:
        raise HostError(f"openidm.{op}({args[0]!r}): {exc}") from None


# ---- managed/<name> ---------------------------------------------------------------------------------------
def _repo(env: ScriptEnv, op: str, name: str) -> Any:
    if env.repo is None:
        raise HostError(f"openidm.{op}({name!r}): no repository here")
    return env.repo


def _need_id(op: str, name: str, object_id: str | None) -> str:
    if not object_id:
        raise HostError(f"openidm.{op}: {name!r} names no object (expected {name}/<id>)")
    return object_id


def _managed(env: ScriptEnv, op: str, resource: str, object_id: str | None, args: list[Any]) -> Any:
    name = f"managed/{resource}"
    repo = _repo(env, op, name)
    if op == "read":
        if object_id is None:
            raise HostError(f"openidm.read: {name!r} names no object (use openidm.query for a collection)")
        try:
            return _project(repo.read(object_id, resource=resource), _fields(_arg(args, 2)))
        except NotFound:
            return None
    if op == "query":
        return _managed_query(repo, resource, name, object_id, _arg(args, 1), _arg(args, 2))
    writes = env.managed_writes
    if op == "create":
        content = _content(op, _arg(args, 2))
        new_id = _arg(args, 1) or object_id
        new_id = str(new_id) if new_id else None
        created = writes.write("create", resource, new_id, content, None) if writes is not None \
            else repo.create(content, new_id, resource=resource)
        return _project(created, _fields(_arg(args, 4)))
    if op in ("update", "patch", "delete"):
        oid = _need_id(op, name, object_id)
        rev = _arg(args, 1)
        value = None if op == "delete" else _content(op, _arg(args, 2)) if op == "update" \
            else _operations(_arg(args, 2))
        if writes is not None:
            out = writes.write(op, resource, oid, value, rev)
        elif op == "update":
            out = repo.update(oid, value, rev, resource=resource)
        elif op == "patch":
            out = repo.patch(oid, value, rev, resource=resource)
        else:
            out = repo.delete(oid, rev, resource=resource)
        return _project(out, _fields(_arg(args, 3 if op == "delete" else 4)))
    action = _arg(args, 1)
    if action == "patch" and object_id:
        operations = _operations(_arg(args, 2))
        if writes is not None:
            return writes.write("patch", resource, object_id, operations, None)
        return repo.patch(object_id, operations, None, resource=resource)
    raise HostError(f"openidm.action: action {action!r} on {name!r} is not supported (managed/<name>/<id>: patch)")


def _content(op: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise HostError(f"openidm.{op}: the content must be an object")
    return dict(value)


def _operations(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(o, Mapping) for o in value):
        raise HostError("openidm.patch: the patch must be a list of {operation, field, value}")
    return [dict(o) for o in value]


def _params(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise HostError("openidm.query: the query parameters must be an object, e.g. {_queryFilter: 'true'}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if v is None:
            continue
        if isinstance(v, list):
            out[k] = ",".join(str(x) for x in v)
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        else:
            out[k] = str(v)
    return out


def _managed_query(repo: Any, resource: str, name: str, object_id: str | None, params: Any, fields: Any) -> Any:
    from core.repo.query import QueryRequest

    if object_id is not None:
        raise HostError(f"openidm.query: {name}/{object_id} is an object, not a collection (query {name})")
    p = _params(params)
    query_id = p.pop("_queryId", None)
    if query_id is not None:
        if query_id != "query-all-ids":
            raise HostError(f"openidm.query: _queryId {query_id!r} is not supported (query-all-ids or _queryFilter)")
        p["_queryFilter"], p["_fields"] = "true", "_id"
    if "_queryFilter" not in p:
        raise HostError("openidm.query: the parameters need _queryFilter (or _queryId)")
    wanted = _fields(fields)
    if wanted:
        p["_fields"] = ",".join(wanted)
    return repo.query(QueryRequest.from_params(p), resource=resource)


# ---- system/salesforce/User ---------------------------------------------------------------------------------
def _sf(env: ScriptEnv, op: str) -> Any:
    sf = env.salesforce
    if callable(sf) and not hasattr(sf, "read_many"):
        sf = env.salesforce = sf()
    if sf is None:
        raise HostError(f"openidm.{op}: system/salesforce/User is not available here (no Salesforce connector "
                        "in this operation)")
    return sf


def _salesforce(env: ScriptEnv, op: str, object_id: str | None, args: list[Any]) -> Any:
    name = "system/salesforce/User"
    sf = _sf(env, op)
    if op == "query":
        if object_id is not None:
            raise HostError(f"openidm.query: {name}/{object_id} is an object, not a collection")
        return _sf_query(sf, _params(_arg(args, 1)), _fields(_arg(args, 2)))
    if op == "read":
        if object_id is None:
            raise HostError(f"openidm.read: {name!r} names no object (use openidm.query for a collection)")
        return _sf_read(sf, object_id, _fields(_arg(args, 2)))
    if op == "create":
        res = sf.create_many([_content(op, _arg(args, 2))])[0]
        if not res.ok:
            raise HostError(f"openidm.create({name!r}): {res.error}")
        return _sf_read(sf, res.id, _fields(_arg(args, 4)))
    oid = _need_id(op, name, object_id)
    if op in ("update", "patch", "action"):
        if op == "action" and _arg(args, 1) != "patch":
            raise HostError(f"openidm.action: action {_arg(args, 1)!r} on {name!r} is not supported "
                            "(system/salesforce/User/<id>: patch; system/salesforce: test)")
        current = _sf_read(sf, oid, None)
        if current is None:
            raise HostError(f"openidm.{op}: {name}/{oid} not found")
        if op == "update":
            new = _content(op, _arg(args, 2))
        else:
            from core.repo.patch import apply_patch

            new = apply_patch(current, _operations(_arg(args, 2)))
        changes = {k: v for k, v in new.items() if not k.startswith("_") and current.get(k) != v
                   and k not in ("Id", "SystemModstamp", "LastModifiedDate", "CreatedDate")}
        if changes:
            res = sf.update_many([(oid, new, changes, None)])[0]
            if not res.ok:
                raise HostError(f"openidm.{op}({name}/{oid}): {res.error}")
        return _sf_read(sf, oid, _fields(_arg(args, 4)))
    if op == "delete":  # Salesforce users cannot be deleted: deactivated, as the mapping's DELETE does
        current = _sf_read(sf, oid, None)
        if current is None:
            raise HostError(f"openidm.delete: {name}/{oid} not found")
        res = sf.delete_many([oid])[0]
        if not res.ok:
            raise HostError(f"openidm.delete({name}/{oid}): {res.error}")
        return _project(current, _fields(_arg(args, 3)))
    raise HostError(f"openidm.{op} is not supported on {name}")


def _sf_read(sf: Any, object_id: str, fields: list[str] | None) -> dict[str, Any] | None:
    found = sf.read_many([object_id], fields)
    return found.get(object_id)


def _sf_query(sf: Any, params: dict[str, str], fields: list[str] | None) -> dict[str, Any]:
    from core.repo import queryfilter as qf
    from core.repo.errors import FilterSyntaxError

    query_id = params.get("_queryId")
    text: str | None
    if query_id is not None:
        if query_id != "query-all-ids":
            raise HostError(f"openidm.query: _queryId {query_id!r} is not supported (query-all-ids or _queryFilter)")
        text, fields = "true", ["Id"]
    else:
        text = params.get("_queryFilter")
        if text is None:
            raise HostError("openidm.query: the parameters need _queryFilter (or _queryId)")
    try:
        tree = qf.parse(text)
    except FilterSyntaxError as exc:
        raise HostError(f"openidm.query('system/salesforce/User'): {exc}") from None
    where = _soql_where(tree)
    page_size = int(params.get("_pageSize") or 0)
    names = sf._fields(fields)
    result: list[dict[str, Any]] = []
    pages = sf._iterate(sf.connector.select_pages(sf.sobject, names, where=where, order_by="Id"))
    for page in pages:
        result.extend(sf._record(r) for r in page.records)
        if page_size and len(result) >= page_size:
            result = result[:page_size]
            break
    return {"result": result, "resultCount": len(result), "pagedResultsCookie": None,
            "totalPagedResultsPolicy": "NONE", "totalPagedResults": -1, "remainingPagedResults": -1}


def _soql_where(tree: Any) -> str | None:
    """The filter as a SOQL WHERE clause (values through the connector's own quoting)."""
    from core.repo import queryfilter as qf
    from core.salesforce import soql

    def field(pointer: tuple[str, ...]) -> str:
        if len(pointer) != 1:
            raise HostError(f"openidm.query: /{'/'.join(pointer)}: Salesforce fields have no sub-fields")
        name = "Id" if pointer[0] == "_id" else pointer[0]
        try:
            return soql.ident(name)
        except Exception as exc:  # noqa: BLE001 - the connector's own refusal, as the script's error
            raise HostError(f"openidm.query: {name!r} is not a field name ({exc})") from None

    def like(value: Any, pre: str, post: str) -> str:
        quoted = soql.quote(str(value))[1:-1]  # the connector's escaping, then LIKE's own wildcards escaped
        return "'" + pre + quoted.replace("%", "\\%").replace("_", "\\_") + post + "'"

    def walk(t: Any) -> str:
        if isinstance(t, qf.Literal):
            return "Id != null" if t.value else "Id = null"
        if isinstance(t, qf.Presence):
            return f"{field(t.pointer)} != null"
        if isinstance(t, qf.Comparison):
            f = field(t.pointer)
            if t.op == "sw":
                return f"{f} LIKE {like(t.value, '', '%')}"
            if t.op == "co":
                return f"{f} LIKE {like(t.value, '%', '%')}"
            sym = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[t.op]
            return f"{f} {sym} {soql.quote(t.value)}"
        if isinstance(t, qf.And):
            return "(" + " AND ".join(walk(o) for o in t.operands) + ")"
        if isinstance(t, qf.Or):
            return "(" + " OR ".join(walk(o) for o in t.operands) + ")"
        if isinstance(t, qf.Not):
            return f"(NOT {walk(t.operand)})"
        raise HostError(f"openidm.query: unsupported filter {t!r}")

    if isinstance(tree, qf.Literal) and tree.value:
        return None
    return walk(tree)


def _connector(env: ScriptEnv, op: str, args: list[Any]) -> Any:
    if op != "action" or _arg(args, 1) != "test":
        raise HostError(f"openidm.{op}('system/salesforce'): only action 'test' is supported on the connector")
    sf = _sf(env, op)
    return asyncio.run_coroutine_threadsafe(sf.connector.test(), sf.loop).result()
