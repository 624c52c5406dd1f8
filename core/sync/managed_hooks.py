"""The script hooks of ``conf/managed.json`` (``objects[name=user]``), run around every write of a managed object.

IDM's ``ManagedObjectSet`` (reference §5.3), in this order:

- create: ``onCreate`` (``object`` changed in place, ``newObject`` as given) → ``onValidate`` → ``onStore``
  (both ``object``, ``value``) → the repository's create → ``postCreate`` (``object`` = ``newObject`` = the
  stored object) → implicit sync → ``onSync``;
- update and patch: nothing at all when the new object equals the old one; else ``onUpdate`` (``object``
  changed in place, ``oldObject``, ``newObject``) → ``onValidate`` → ``onStore`` → the update →
  ``postUpdate`` → implicit sync → ``onSync``;
- delete: ``onDelete`` (``object``) → the delete → ``postDelete`` (``oldObject``) → implicit sync → ``onSync``;
- read (REST, the app, the command line): ``onRetrieve`` then ``onRead`` (``object`` changed in place).

Every hook also gets ``context``, ``request`` (``method``, ``resourcePath``, ``content``) and ``resourceName``
(``managed/user/<id>``); ``onSync`` gets ``oldObject``, ``newObject`` and ``syncResults``
(``{success, action, syncDetails}``). A hook that throws fails the write before anything is written (``on*``)
or fails the request after it (``post*``, ``onSync``: the write stands, as in IDM); a thrown
``{code, message}`` answers that status over REST.

Property-level hooks (``schema.properties.<name>.onRetrieve/onStore/onValidate``) get ``object``, ``property``
(the value) and ``propertyName``, and the script object's other keys as variables (the sample's
``effectiveRolesPropName``); ``onValidate`` runs before the object's, ``onStore`` before the object's
``onStore`` (its value is stored), ``onRetrieve`` after the object's (its value is answered: the sample's
virtual ``effectiveRoles``/``effectiveAssignments``). sfsync does not store virtual properties on writes
(IDM's ``populateVirtualProperties``): it has no relationships for them to derive from.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.sync.scripts import ScriptEngine, ScriptError, ScriptSpec

#: the object-level hooks IDM defines, in the order a write meets them
HOOKS = ("onCreate", "onUpdate", "onDelete", "onValidate", "onStore", "postCreate", "postUpdate", "postDelete",
         "onRetrieve", "onRead", "onSync")
#: IDM defines these too; sfsync refuses them with the reason (never ignores them)
REFUSED = {"onQueryResult": "IDM 5.x's query hook is not run by sfsync",
           "actions": "custom managed object actions (POST …?_action=<name>) are not provided by sfsync"}
PROPERTY_HOOKS = ("onRetrieve", "onStore", "onValidate")

#: a thrown ``{code, message}`` travels through the engine as this text (QuickJS gives ``[object Object]``)
_CODED = re.compile(r"^(?:Error: )?__sfsync_code:(\d{3}):(.*)$", re.S)


class HookError(ScriptError):
    """A managed object hook threw: the record (or request) fails with the script's message; a thrown
    ``{code: 403, message: "…"}`` is that status over REST, anything else a 500 as in IDM."""

    def __init__(self, name: str, message: str, status: int = 500) -> None:
        super().__init__(name, message)
        self.http_status = status


def _wrap(source: str, value: bool = False) -> str:
    """The hook's source inside a ``try``, so a thrown object keeps its ``code``/``message``. An object hook's
    value is not used: its statements run as a function body (parsed once). A property hook's value is its
    last statement's (IDM's completion value), so its text runs through ``eval`` (parsed per call).

    An ``Error`` thrown gets the line of the hook's source it was at appended to its message (QuickJS's stack
    names lines, not columns, and leaves a frame's line out while it is on the function's first line): an
    object hook's frame line, less the line its source starts on (the ``catch`` line, where a new stack is read,
    is the source's last line plus one); a property hook's innermost ``eval`` frame."""
    import json

    body = f"return eval({json.dumps(source)});" if value else source + "\n;"
    if value:
        locate = (" var at = /at <eval> \\(<input>(?::(\\d+))?\\)/.exec(e.stack);"
                  " if (at) { e.__sfsync_line = at[1] === undefined ? 1 : +at[1]; }")
    else:
        locate = (" var at = /at __sfsync_hook \\(<input>(?::(\\d+))?\\)/.exec(e.stack),"
                  " c = /at __sfsync_hook \\(<input>:(\\d+)\\)/.exec((function(){ return new Error().stack; })());"
                  f" if (at && c) {{ e.__sfsync_line = at[1] === undefined ? 1 : +at[1] - (+c[1] - {source.count(chr(10)) + 1}) + 1; }}")
    return ("(function __sfsync_hook(){ try { " + body +
            " } catch (e) {"
            " if (e !== null && typeof e === 'object' && !(e instanceof Error) && typeof e.code === 'number')"
            " throw new Error('__sfsync_code:' + e.code + ':' + (e.message === undefined ? '' : e.message));"
            " if (e instanceof Error && e.__sfsync_line === undefined && typeof e.stack === 'string') {" + locate +
            " if (e.__sfsync_line !== undefined) { e.message = e.message + ' [sfsync line ' + e.__sfsync_line + ']'; } }"
            " throw e; } })()")


def request_of(method: str, resource_name: str, content: Any = None) -> dict[str, Any]:
    """IDM's ``request`` as scripts read it (``request.method`` is what the bundled onUpdateUser checks)."""
    return {"method": method, "resourcePath": resource_name, "resourceName": resource_name,
            "content": content, "additionalParameters": {}, "fields": []}


@dataclass
class ManagedHooks:
    """One managed object type's hooks (``managed.json``), as script specs."""

    resource: str = "user"
    specs: dict[str, ScriptSpec] = field(default_factory=dict)
    #: property-level hooks: per hook, ``(property name, spec)`` in the schema's order
    properties: dict[str, list[tuple[str, ScriptSpec]]] = field(default_factory=dict)
    #: ``isVirtual`` properties: computed when answered, never stored (a client's value is dropped, as IDM
    #: recomputes it on every write)
    virtual_names: tuple[str, ...] = ()
    #: per thread, the engine that runs hooks outside the caller's own engine (a reconciliation's commit thread)
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    @classmethod
    def load(cls, managed_path: Path, project_dir: Path | None, resource: str = "user") -> ManagedHooks:
        """The hooks of ``objects[name=resource]`` (none when the file or the object is absent)."""
        from core.config.jsonfile import load_json

        if not managed_path.exists():
            return cls(resource)
        data, _raw = load_json(managed_path)
        return cls.from_config(data, resource=resource, path=str(managed_path), base_dir=project_dir)

    @classmethod
    def from_config(cls, data: Any, *, resource: str = "user", path: str = "conf/managed.json",
                    base_dir: Path | None = None) -> ManagedHooks:
        objects = data.get("objects") if isinstance(data, Mapping) else None
        if not isinstance(objects, list):
            return cls(resource)
        for index, obj in enumerate(objects):
            if not isinstance(obj, Mapping) or obj.get("name") != resource:
                continue
            where = f"objects[{index}]"
            for key, why in REFUSED.items():
                if obj.get(key):
                    raise ConfigError(f"{key}: {why}", path=path, field=f"{where}.{key}")
            props = (obj.get("schema") or {}).get("properties") or {}
            prop_specs: dict[str, list[tuple[str, ScriptSpec]]] = {}
            for name, prop in props.items() if isinstance(props, Mapping) else ():
                for hook in PROPERTY_HOOKS:
                    if isinstance(prop, Mapping) and prop.get(hook) is not None:
                        prop_specs.setdefault(hook, []).append((name, _property_spec(
                            prop[hook], name=f"managed/{resource}.{name}.{hook}", path=path,
                            field_path=f"{where}.schema.properties.{name}.{hook}", base_dir=base_dir)))
            specs: dict[str, ScriptSpec] = {}
            for hook in HOOKS:
                if obj.get(hook) is None:
                    continue
                spec = ScriptSpec.parse(obj[hook], name=f"managed/{resource}.{hook}", path=path,
                                        field_path=f"{where}.{hook}", base_dir=base_dir)
                specs[hook] = replace(spec, source=_wrap(spec.source))
            virtual = tuple(k for k, p in props.items() if isinstance(p, Mapping) and p.get("isVirtual"))
            return cls(resource, specs, prop_specs, virtual_names=virtual)
        return cls(resource)

    # ---- facts ---------------------------------------------------------------------------------------------
    def has(self, *hooks: str) -> bool:
        return any(h in self.specs or h in self.properties for h in hooks)

    def __bool__(self) -> bool:
        return bool(self.specs or self.properties)

    def resource_name(self, object_id: str | None) -> str:
        return f"managed/{self.resource}/{object_id}" if object_id else f"managed/{self.resource}"

    # ---- running ------------------------------------------------------------------------------------------
    def engine(self, default: ScriptEngine | None) -> ScriptEngine:
        """``default`` in the thread that made it, else this thread's own engine (made on first use, with the
        default's environment): a QuickJS context belongs to the thread that made it."""
        if default is not None and default.owner is threading.current_thread():
            return default
        engine: ScriptEngine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = ScriptEngine(env=default.env if default is not None else None)
            self._local.engine = engine
        return engine

    def close_thread_engine(self) -> None:
        """Free this thread's own engine (call in that thread)."""
        engine = getattr(self._local, "engine", None)
        if engine is not None:
            engine.close()
            self._local.engine = None

    def run(self, engine: ScriptEngine, hook: str, capture: bool = False, **variables: Any) -> Any:
        """Run ``hook`` (if configured) with ``variables``; with ``capture``, return ``object`` as the script left
        it (``None`` when the hook is absent)."""
        spec = self.specs.get(hook)
        if spec is None:
            return None
        return self._call(engine, spec, hook, capture, variables)

    def _properties(self, engine: ScriptEngine, hook: str, obj: dict[str, Any], **variables: Any,
                    ) -> dict[str, Any]:
        """The property-level ``hook`` of each property, in the schema's order; ``onStore``/``onRetrieve`` set the
        property to the value returned."""
        for name, spec in self.properties.get(hook, ()):
            value = self._call(engine, spec, hook, False, {**variables, "object": obj, "property": obj.get(name),
                                                           "propertyName": name})
            if hook != "onValidate":
                obj = {**obj, name: value}
        return obj

    def _call(self, engine: ScriptEngine, spec: ScriptSpec, hook: str, capture: bool,
              variables: Mapping[str, Any]) -> Any:
        script = engine.script(spec)
        try:
            if capture:
                _, out = script.call_capturing(("object",), **variables)
                return out["object"]
            return script(**variables)
        except ScriptError as exc:
            raise _error(spec, hook, exc.detail) from None

    # ---- a page of objects (the engine's writes): one crossing into JS per hook ------------------------------
    def _run_many(self, engine: ScriptEngine, hook: str, batch: list[dict[str, Any]], capture: bool,
                  ) -> list[tuple[bool, Any]]:
        """``hook`` for each variable set: ``(True, object after the script | value)`` or ``(False, HookError)``."""
        spec = self.specs[hook]
        out = engine.call_capturing_many(engine.script(spec), batch, ("object",) if capture else ())
        return [(True, value[1] if capture else value) if ok else (False, _error(spec, hook, value))
                for ok, value in out]

    def _chain(self, engine: ScriptEngine, hook: str, objs: list[dict[str, Any] | HookError],
               variables: Any) -> None:
        """Run a capturing ``hook`` over the objects not failed yet, in place (``variables(i, obj)``)."""
        live = [i for i, o in enumerate(objs) if not isinstance(o, HookError)]
        if hook in self.specs and live:
            results = self._run_many(engine, hook, [variables(i, objs[i]) for i in live], True)
            for i, (ok, value) in zip(live, results, strict=True):
                objs[i] = (value if isinstance(value, dict) else objs[i]) if ok else value

    def _without_virtual(self, obj: dict[str, Any]) -> dict[str, Any]:
        if any(k in obj for k in self.virtual_names):
            return {k: v for k, v in obj.items() if k not in self.virtual_names}
        return obj

    def _store_many(self, engine: ScriptEngine, objs: list[dict[str, Any] | HookError],
                    requests: list[dict[str, Any]]) -> None:
        if self.virtual_names:
            objs[:] = [o if isinstance(o, HookError) else self._without_virtual(o) for o in objs]
        for hook in ("onValidate", "onStore"):
            if hook in self.properties:
                for i, o in enumerate(objs):
                    if not isinstance(o, HookError):
                        try:
                            objs[i] = self._properties(engine, hook, o, request=requests[i],
                                                       resourceName=requests[i]["resourcePath"])
                        except HookError as exc:
                            objs[i] = exc
            self._chain(engine, hook, objs, lambda i, o: {"object": o, "value": o, "request": requests[i],
                                                          "resourceName": requests[i]["resourcePath"]})

    def before_create_many(self, engine: ScriptEngine, objs: list[dict[str, Any]]) -> list[dict[str, Any] | HookError]:
        """:meth:`before_create` for a page: per object, the object to store or the hook's error."""
        out: list[dict[str, Any] | HookError] = list(objs)
        requests = [request_of("create", self.resource_name(None), o) for o in objs]
        self._chain(engine, "onCreate", out, lambda i, o: {"object": o, "newObject": o, "oldObject": None,
                                                           "request": requests[i],
                                                           "resourceName": self.resource_name(None)})
        self._store_many(engine, out, requests)
        return out

    def before_update_many(self, engine: ScriptEngine, items: list[tuple[str, dict[str, Any], dict[str, Any]]],
                           ) -> list[dict[str, Any] | HookError]:
        """:meth:`before_update` for a page of ``(id, old, new)``; an unchanged object runs no hook."""
        out: list[dict[str, Any] | HookError] = [self._without_virtual(new) for _, _, new in items]
        changed = [i for i, (_, old, _new) in enumerate(items) if not _same(old, out[i])]  # type: ignore[arg-type]
        sub: list[dict[str, Any] | HookError] = [out[i] for i in changed]
        requests = [request_of("update", self.resource_name(items[i][0]), out[i]) for i in changed]
        self._chain(engine, "onUpdate", sub, lambda k, o: {
            "object": o, "oldObject": items[changed[k]][1], "newObject": o, "request": requests[k],
            "resourceName": requests[k]["resourcePath"]})
        self._store_many(engine, sub, requests)
        for k, i in enumerate(changed):
            out[i] = sub[k]
        return out

    def _plain_many(self, engine: ScriptEngine, hook: str, batch: list[dict[str, Any]]) -> list[HookError | None]:
        if hook not in self.specs or not batch:
            return [None] * len(batch)
        return [None if ok else value for ok, value in self._run_many(engine, hook, batch, False)]

    def before_delete_many(self, engine: ScriptEngine, items: list[tuple[str, dict[str, Any]]],
                           ) -> list[HookError | None]:
        return self._plain_many(engine, "onDelete", [
            {"object": obj, "request": request_of("delete", self.resource_name(i)),
             "resourceName": self.resource_name(i)} for i, obj in items])

    def after_create_many(self, engine: ScriptEngine, objs: list[dict[str, Any]]) -> list[HookError | None]:
        return self._plain_many(engine, "postCreate", [
            {"object": o, "newObject": o, "oldObject": None, "request": request_of(
                "create", self.resource_name(o.get("_id")), o), "resourceName": self.resource_name(o.get("_id"))}
            for o in objs])

    def after_update_many(self, engine: ScriptEngine, items: list[tuple[str, dict[str, Any], dict[str, Any]]],
                          ) -> list[HookError | None]:
        return self._plain_many(engine, "postUpdate", [
            {"object": new, "oldObject": old, "newObject": new, "request": request_of(
                "update", self.resource_name(i), new), "resourceName": self.resource_name(i)}
            for i, old, new in items])

    def after_delete_many(self, engine: ScriptEngine, items: list[tuple[str, dict[str, Any]]],
                          ) -> list[HookError | None]:
        return self._plain_many(engine, "postDelete", [
            {"object": None, "oldObject": old, "newObject": None, "request": request_of(
                "delete", self.resource_name(i)), "resourceName": self.resource_name(i)} for i, old in items])

    def before_create(self, engine: ScriptEngine, obj: dict[str, Any], request: dict[str, Any],
                      object_id: str | None = None) -> dict[str, Any]:
        """``onCreate`` → ``onValidate`` → ``onStore``: the object to store."""
        name = self.resource_name(object_id or obj.get("_id"))
        if "onCreate" in self.specs:
            out = self.run(engine, "onCreate", True, object=obj, newObject=copy.deepcopy(obj), oldObject=None,
                           request=request, resourceName=name)
            obj = out if isinstance(out, dict) else obj
        return self._store(engine, obj, request, name)

    def before_update(self, engine: ScriptEngine, object_id: str, old: dict[str, Any], new: dict[str, Any],
                      request: dict[str, Any]) -> dict[str, Any]:
        """``onUpdate`` → ``onValidate`` → ``onStore`` (none when nothing changed): the object to store."""
        new = self._without_virtual(new)
        if _same(old, new):
            return new
        name = self.resource_name(object_id)
        if "onUpdate" in self.specs:
            out = self.run(engine, "onUpdate", True, object=new, oldObject=old, newObject=copy.deepcopy(new),
                           request=request, resourceName=name)
            new = out if isinstance(out, dict) else new
        return self._store(engine, new, request, name)

    def _store(self, engine: ScriptEngine, obj: dict[str, Any], request: dict[str, Any],
               name: str) -> dict[str, Any]:
        obj = self._without_virtual(obj)
        for hook in ("onValidate", "onStore"):
            obj = self._properties(engine, hook, obj, request=request, resourceName=name)
            if hook in self.specs:
                out = self.run(engine, hook, True, object=obj, value=obj, request=request, resourceName=name)
                obj = out if isinstance(out, dict) else obj
        return obj

    def before_delete(self, engine: ScriptEngine, object_id: str, obj: dict[str, Any],
                      request: dict[str, Any]) -> None:
        self.run(engine, "onDelete", object=obj, request=request, resourceName=self.resource_name(object_id))

    def after_create(self, engine: ScriptEngine, obj: dict[str, Any], request: dict[str, Any]) -> None:
        self.run(engine, "postCreate", object=obj, newObject=obj, oldObject=None, request=request,
                 resourceName=self.resource_name(obj.get("_id")))

    def after_update(self, engine: ScriptEngine, object_id: str, old: dict[str, Any], new: dict[str, Any],
                     request: dict[str, Any]) -> None:
        self.run(engine, "postUpdate", object=new, oldObject=old, newObject=new, request=request,
                 resourceName=self.resource_name(object_id))

    def after_delete(self, engine: ScriptEngine, object_id: str, old: dict[str, Any],
                     request: dict[str, Any]) -> None:
        self.run(engine, "postDelete", object=None, oldObject=old, newObject=None, request=request,
                 resourceName=self.resource_name(object_id))

    def on_read(self, engine: ScriptEngine, obj: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """``onRetrieve`` then ``onRead``: the object as answered."""
        name = self.resource_name(obj.get("_id"))
        if "onRetrieve" in self.specs:
            out = self.run(engine, "onRetrieve", True, object=obj, request=request, resourceName=name)
            obj = out if isinstance(out, dict) else obj
        obj = self._properties(engine, "onRetrieve", obj, request=request, resourceName=name)
        if "onRead" in self.specs:
            out = self.run(engine, "onRead", True, object=obj, request=request, resourceName=name)
            obj = out if isinstance(out, dict) else obj
        return obj

    def virtual(self, engine: ScriptEngine, obj: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """The object with its property-level ``onRetrieve`` values (the virtual properties a create or update
        answers, as IDM's response carries them)."""
        if "onRetrieve" not in self.properties:
            return obj
        return self._properties(engine, "onRetrieve", dict(obj), request=request,
                                resourceName=self.resource_name(obj.get("_id")))

    def on_sync(self, engine: ScriptEngine, object_id: str, action: str, old: dict[str, Any] | None,
                new: dict[str, Any] | None, results: Mapping[str, Any], request: dict[str, Any]) -> None:
        """``onSync`` after implicit sync: ``syncResults`` is ``{success, action, syncDetails}``."""
        if "onSync" not in self.specs:
            return
        self.run(engine, "onSync", **_on_sync_variables(self.resource_name(object_id), action, old, new, results,
                                                        request))

    def on_sync_many(self, engine: ScriptEngine, items: list[tuple[str, dict[str, Any] | None,
                                                                   dict[str, Any] | None, Mapping[str, Any]]],
                     ) -> list[HookError | None]:
        """:meth:`on_sync` for a page of ``(id, old, new, results)`` in one crossing into JS (the action is
        ``notifyCreate``/``notifyUpdate``/``notifyDelete`` from old and new); per object its error or None."""
        batch = []
        for object_id, old, new, results in items:
            action = "notifyCreate" if old is None else "notifyDelete" if new is None else "notifyUpdate"
            method = {"notifyCreate": "create", "notifyDelete": "delete"}.get(action, "update")
            name = self.resource_name(object_id)
            batch.append(_on_sync_variables(name, action, old, new, results, request_of(method, name, new)))
        return self._plain_many(engine, "onSync", batch)


def _on_sync_variables(name: str, action: str, old: dict[str, Any] | None, new: dict[str, Any] | None,
                       results: Mapping[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    details = [{"mapping": k, **(v.to_dict() if hasattr(v, "to_dict") else dict(v))} for k, v in results.items()]
    success = all(d.get("result") != "FAILED" for d in details)
    return {"object": None, "oldObject": old, "newObject": new, "request": request, "resourceName": name,
            "syncResults": {"success": success, "action": action, "syncDetails": details}}

#: the line :func:`_wrap` adds to an Error's message
_LINE = re.compile(r" \[sfsync line (\d+)\]")


def _error(spec: ScriptSpec, hook: str, detail: str) -> HookError:
    """The hook's failure: a thrown ``{code, message}`` keeps its status; anything else is a 500. The message
    names the hook (``managed/user.onCreate``), and the file (or ``source``) and line where QuickJS gives them."""
    coded = _CODED.match(detail)
    if coded:
        return HookError(spec.name, coded.group(2) or f"{hook} script encountered exception", int(coded.group(1)))
    line = _LINE.search(detail)
    if line is not None:
        detail = _LINE.sub("", detail, count=1) + f" (at {spec.file or 'source'}:{line.group(1)})"
    return HookError(spec.name, detail)


def _same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """IDM's "object hasn't changed" (``_rev``/``_meta`` aside): then no hook runs and nothing is written."""
    def strip(o: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in o.items() if k not in ("_rev", "_meta", "_id")}
    return strip(old) == strip(new)


_SCRIPT_KEYS = ("type", "source", "file", "globals")


def _property_spec(value: Any, *, name: str, path: str, field_path: str, base_dir: Path | None) -> ScriptSpec:
    """A property-level hook: a ``"file"`` is searched in the project, then among sfsync's bundled library
    scripts (the sample's ``roles/effectiveAssignments.js``); the script object's other keys are variables."""
    from core.sync.scriptenv import LIBRARY_DIR

    if isinstance(value, Mapping) and isinstance(value.get("file"), str) and base_dir is not None:
        file = value["file"]
        if not any((d / file).is_file() for d in (base_dir, base_dir / "conf", base_dir / "script")) \
                and (LIBRARY_DIR / file).is_file() and LIBRARY_DIR.resolve() in (LIBRARY_DIR / file).resolve().parents:
            value = {**value, "file": str((LIBRARY_DIR / file).resolve())}
    spec = ScriptSpec.parse(value, name=name, path=path, field_path=field_path, base_dir=base_dir)
    extra = {k: v for k, v in value.items() if k not in _SCRIPT_KEYS} if isinstance(value, Mapping) else {}
    return replace(spec, source=_wrap(spec.source, value=True), globals={**extra, **spec.globals})
