"""IDM ``text/javascript`` scripts, run in an embedded QuickJS engine.

Why QuickJS: calling a compiled JS function costs a few microseconds (V8 through mini-racer costs about a
millisecond), so a script can run once per record even in a 100,000-user reconciliation. Each script is
compiled ONCE, as a function that receives IDM's variables (``source``, ``target``, ``oldSource``,
``linkQualifier``, ``object``, …) in one JSON object; a call is one ``parse_json`` plus one function call.

The sandbox is QuickJS itself: it has no I/O (no files, no network) unless the host adds it. The host adds
IDM's script environment and nothing else (:mod:`core.sync.scriptenv`): ``openidm.*`` over ``managed/user`` and
``system/salesforce/User``, ``logger``/``console`` (to the project's ``logs/sfsync.log``), ``identityServer``,
``require()`` of ``<project>/script/*.js``, and ``context``. A time limit (per call) and a memory limit (per context) stop runaway scripts. A context
that hit its memory limit is unusable afterwards, so the engine recreates it and recompiles lazily.

A QuickJS context is not thread-safe: use one :class:`ScriptEngine` per thread (the reconciliation engine
creates one per run, in the run's worker thread).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import quickjs

from core.errors import ConfigError, SfsyncError
from core.repo.jsoncodec import decode, encode_any
from core.sync.scriptenv import HOST_NAMES, PRELUDE, ScriptEnv, log_lines, perform

#: every variable IDM binds in one script scope or another; a script sees ``undefined`` for those not given
SCRIPT_VARIABLES: tuple[str, ...] = (
    "source", "target", "oldSource", "oldTarget", "linkQualifier", "object", "oldObject", "sourceId",
    "targetId", "situation", "mappingConfig", "context", "action", "sourceAction", "reconId", "request",
    "resourceName", "existingTarget", "recon", "value", "global", "newObject", "syncResults",
    "property", "propertyName",
)

JS_TYPES = ("text/javascript", "javascript", "application/javascript")
DEFAULT_TIME_LIMIT = 2.0  # seconds of CPU per call
DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024  # bytes per context
MAX_HOST_CALLS = 200  # openidm calls (and modules required) per script call


class ScriptError(SfsyncError):
    """A script failed (threw, timed out, ran out of memory, or returned the wrong type).

    The message names the script (e.g. ``systemSalesforceUser_managedUser.validSource``) and the JS error's
    first line, so an audit entry tells the administrator which script to fix.
    """

    def __init__(self, name: str, message: str) -> None:
        self.script_name = name
        self.detail = message
        super().__init__(f"script {name}: {message}")


@dataclass(frozen=True)
class ScriptSpec:
    """A script as written in an IDM file: ``{"type", "source" | "file", "globals"}``."""

    name: str
    source: str
    globals: Mapping[str, Any] = field(default_factory=dict)
    #: the file a ``"file"`` script was read from (error messages name it)
    file: str | None = None
    #: that file's path as found (a look at the configuration watches it: an edit applies to the next operation)
    origin: str | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, value: Any, *, name: str, path: str, field_path: str,
              base_dir: Path | None = None) -> ScriptSpec:
        """Read an IDM script object; anything we cannot run is a ConfigError naming the file and field."""
        if not isinstance(value, Mapping):
            raise ConfigError("expected a script object {\"type\": \"text/javascript\", \"source\": ...}",
                              path=path, field=field_path)
        kind = value.get("type", "text/javascript")
        if kind not in JS_TYPES:
            raise ConfigError(f"script type {kind!r} is not supported (only text/javascript)",
                              path=path, field=f"{field_path}.type")
        globals_ = value.get("globals") or {}
        if not isinstance(globals_, Mapping):
            raise ConfigError("globals must be an object", path=path, field=f"{field_path}.globals")
        if "source" in value:
            source = value["source"]
            if not isinstance(source, str):
                raise ConfigError("source must be a string", path=path, field=f"{field_path}.source")
        elif "file" in value:
            source, file, origin = _read_script_file(value["file"], base_dir, path, f"{field_path}.file")
            return cls(name=f"{name} ({file})", source=source, globals=dict(globals_), file=file, origin=origin)
        else:
            raise ConfigError("a script needs \"source\" or \"file\"", path=path, field=field_path)
        return cls(name=name, source=source, globals=dict(globals_))


def _read_script_file(file: Any, base_dir: Path | None, path: str, field_path: str) -> tuple[str, str, str]:
    """``(text, file as named, path found)``: project-relative as IDM 8 (``script/x.js``), else in ``conf/`` or
    ``script/``."""
    if not isinstance(file, str) or not file:
        raise ConfigError("file must be a path", path=path, field=field_path)
    candidates = [Path(file)]
    if base_dir is not None and not Path(file).is_absolute():
        candidates = [base_dir / file, base_dir / "conf" / file, base_dir / "script" / file]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8"), file, str(candidate)
    searched = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"script file {file!r} not found (searched {searched})", path=path, field=field_path)


_TRAILING = re.compile(r"[\s;]+$")


def _function_text(spec: ScriptSpec, capture: tuple[str, ...] | None, as_expression: bool,
                   columns: tuple[str, tuple[str, ...]] | None = None) -> str:
    """The JS text of the compiled function.

    An IDM script's value is its last statement's completion value. Most scripts are one expression, which
    we compile as ``return (expr)`` (fast). Anything else runs through a direct ``eval`` of its text inside
    the function, which sees the same variables and yields the completion value (slower: re-parsed per call).
    ``capture=None`` builds the batch form: one call runs the script for a list of variable sets and returns
    ``[values, {index: error}]`` as JSON text, so a page of records costs one crossing into JS, not one per record.
    """
    declare_globals = "".join(f"var {k} = __g[{json.dumps(k)}];" for k in spec.globals if _is_ident(k))
    declare_vars = "var " + ",".join(f"{v} = __v.{v}" for v in SCRIPT_VARIABLES) + ";"
    if as_expression:
        body = "var __r = (" + _TRAILING.sub("", spec.source) + "\n);"
    else:
        body = "var __r = eval(" + json.dumps(spec.source) + ");"
    if columns is not None:  # rows of values for one variable's properties: far less JSON to cross
        var, names = columns
        return (f"(function(__g){{ {declare_globals} var __f = function(__v){{ {declare_vars}\n{body}\n"
                f"return __r; }}; var __names = {json.dumps(list(names))};"
                f" return function(__rows){{ var out = new Array(__rows.length);"
                f" var errors = {{}}; for (var i = 0; i < __rows.length; i++) {{ var __row = __rows[i], __o = {{}};"
                f" for (var k = 0; k < __names.length; k++) __o[__names[k]] = __row[k];"
                f" try {{ var r = __f({{{var}: __o}});"
                f" out[i] = r === undefined ? null : r; }} catch (e) {{ out[i] = null; errors[i] = String(e); }} }}"
                f" return JSON.stringify([out, errors]); }}; }})")
    if capture is None:
        return (f"(function(__g){{ {declare_globals} var __f = function(__v){{ {declare_vars}\n{body}\n"
                f"return __r; }}; return function(__vs){{ var out = new Array(__vs.length);"
                f" var errors = {{}}; for (var i = 0; i < __vs.length; i++) {{ try {{ var r = __f(__vs[i]);"
                f" out[i] = r === undefined ? null : r; }} catch (e) {{ out[i] = null; errors[i] = String(e); }} }}"
                f" return JSON.stringify([out, errors]); }}; }})")
    if capture:
        ret = "return [__r" + "".join(f", {c}" for c in capture) + "];"
    else:
        ret = "return __r;"
    return (f"(function(__g){{ {declare_globals} return function(__v){{ {declare_vars}\n"
            f"{body}\n{ret} }}; }})")


#: runs a compiled (capturing) script over a list of variable sets; with the host environment, stops at the first
#: set that waits for a host call (``null`` in its place: Python runs that one through the replay)
_BATCH_RUNNER = r"""
(function(fn, vs, host) {
  var out = [];
  for (var i = 0; i < vs.length; i++) {
    if (host) __sfsync_reset([]);
    var ok = true, value = null;
    try { value = fn(vs[i]); if (value === undefined) value = null; }
    catch (e) { ok = false; value = String(e); }
    if (host) {
      var st = __sfsync_st();
      if (st.pending !== null || st.mismatch !== null) { out.push(null); break; }
      out.push([ok, value, st.logs.length ? st.logs : null]);
    } else {
      out.push([ok, value, null]);
    }
  }
  return JSON.stringify(out);
})
"""


def _is_ident(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", name) is not None


class ScriptEngine:
    """One QuickJS context and the scripts compiled in it. Not thread-safe: one per thread."""

    def __init__(self, *, time_limit: float = DEFAULT_TIME_LIMIT,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, env: ScriptEnv | None = None) -> None:
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        #: what ``openidm``, ``logger``, ``require``, ``identityServer`` and ``context`` reach (None: no project,
        #: no repository, no connector: ``openidm`` calls throw naming what is missing)
        self.env = env if env is not None else ScriptEnv()
        self._compiled: dict[tuple[int, Any], Any] = {}
        self._scripts: dict[tuple[str, str], Script] = {}
        self._new_context()

    def _new_context(self) -> None:
        #: the thread that made the context (a QuickJS context belongs to it)
        self.owner = threading.current_thread()
        self._ctx = quickjs.Context()
        self._ctx.set_time_limit(self.time_limit)
        self._ctx.set_memory_limit(self.memory_limit)
        self._compiled.clear()
        self._prelude = False  # installed with the first script that names the environment

    def _install_prelude(self) -> None:
        """IDM's objects (``openidm``, ``logger``…), only in contexts whose scripts name them: a context the
        memory limit killed is freed, and the less it holds the safer that is (see :meth:`_lost_context`)."""
        self._ctx.eval(PRELUDE)
        self._ctx.eval(f"__sfsync_init({json.dumps(self.env.properties)}, {json.dumps(self.env.location())})")
        self._prelude = True

    def _out_of_memory(self, script: Script) -> bool:
        """Whether a bare ``null`` thrown by ``script`` was QuickJS failing to allocate its "out of memory"
        error. Certainly so when the script has no ``throw`` of its own (nothing else in the sandbox throws
        null), and taken so when none of its throws is a literal ``null``/``undefined``: a script that throws
        ``null`` through a variable is rare, while the heap's size alone (a context still near its limit) misses
        most real exhaustions, whose allocations are freed while the exception unwinds (a loaded machine made a
        reliability test flaky on that check alone)."""
        source = script.spec.source
        if "throw" not in source or not re.search(r"\bthrow\s*\(?\s*(null|undefined)\b", source):
            return True
        return bool(self._ctx.memory().get("malloc_size", 0) >= 0.8 * self.memory_limit)

    @staticmethod
    def _lost_context(message: str) -> bool:
        """Must the context be replaced? At its memory limit QuickJS throws "out of memory", or a bare ``null``
        when even the error object cannot be allocated; a context used again after that can crash the process
        (seen in the test suite). A script's own ``throw null`` also reads ``null``: replacing the context then
        costs only a lazy recompile."""
        return "out of memory" in message or message == "null"

    def close(self) -> None:
        """Free the context now, in this (its) thread: scripts and engine reference each other, so without
        this the garbage collector would free the context later, in whatever thread it runs."""
        self._scripts.clear()
        self._compiled.clear()
        self._ctx = None

    def script(self, spec: ScriptSpec) -> Script:
        """The compiled script for ``spec`` (compiled on first use, then reused)."""
        key = (spec.name, spec.source)
        script = self._scripts.get(key)
        if script is None:
            script = self.compile(spec)
            self._scripts[key] = script
        return script

    def compile(self, spec: ScriptSpec) -> Script:
        """A callable script; compiling now reports a syntax error at load time, not on the first record."""
        script = Script(self, spec)
        self._function(script, ())
        return script

    def _function(self, script: Script, capture: tuple[str, ...] | None,
                  columns: tuple[str, tuple[str, ...]] | None = None) -> Any:
        key = (script.key, capture if columns is None else ("\0columns", columns[0], *columns[1]))
        fn = self._compiled.get(key)
        if fn is not None:
            return fn
        spec = script.spec
        if script.environment and not self._prelude:
            self._install_prelude()
        globals_js = self._ctx.parse_json(json.dumps(spec.globals, default=str))
        try:
            factory = self._ctx.eval(_function_text(spec, capture, True, columns))
        except quickjs.JSException:
            try:
                factory = self._ctx.eval(_function_text(spec, capture, False, columns))
                self._ctx.eval("new Function(" + json.dumps(spec.source) + ")")  # syntax check only
            except quickjs.JSException as exc:
                raise ScriptError(spec.name, _first_line(exc)) from None
        fn = factory(globals_js)
        self._compiled[key] = fn
        return fn

    def call(self, script: Script, variables: Mapping[str, Any],
             capture: tuple[str, ...] = ()) -> Any:
        """Run ``script`` with IDM's variables; with ``capture``, also return those variables afterwards
        (``onCreate`` scripts change ``target`` in place)."""
        fn = self._function(script, capture)
        if script.host:
            return self._call_with_host(script, fn, variables)
        try:
            arg = self._js_value(variables)
            result = fn(arg)
        except (quickjs.JSException, quickjs.StackOverflow) as exc:
            raise self._failure(script, exc) from None
        return _to_python(result)

    def _js_value(self, value: Any) -> Any:
        """``value`` as a JS value in this context, through JSON: orjson's (the shared codec: same values as
        ``json``'s, several times faster for a page of records), or ASCII-escaped ``json`` for a string
        QuickJS cannot take as UTF-8 (a lone surrogate, which orjson refuses and the codec's fallback keeps)."""
        try:
            return self._ctx.parse_json(encode_any(value))
        except UnicodeEncodeError:
            return self._ctx.parse_json(json.dumps(value, default=str))

    def _failure(self, script: Script, exc: BaseException) -> ScriptError:
        if isinstance(exc, quickjs.StackOverflow):
            return ScriptError(script.spec.name, "stack overflow")
        message = _first_line(exc)
        if self._lost_context(message):
            if message == "null" and self._out_of_memory(script):
                message = "InternalError: out of memory"
            self._new_context()
        elif "interrupted" in message:
            message = f"exceeded the time limit of {self.time_limit:g} s"
        return ScriptError(script.spec.name, message)

    def _call_with_host(self, script: Script, fn: Any, variables: Mapping[str, Any]) -> Any:
        """A script naming ``openidm``/``require``/``logger``/``console``: run, and while it stops on a host
        call not answered yet, make that call and run it again (see ``core.sync.scriptenv.PRELUDE``)."""
        name = script.spec.name
        text = json.dumps(variables, default=str)
        memo: list[list[Any]] = []
        for _ in range(MAX_HOST_CALLS + 1):
            self._ctx.eval(f"__sfsync_reset({json.dumps(memo)})")
            failure: BaseException | None = None
            result: Any = None
            try:
                result = fn(self._ctx.parse_json(text))
            except (quickjs.JSException, quickjs.StackOverflow) as exc:
                if isinstance(exc, quickjs.JSException) and self._lost_context(_first_line(exc)):
                    raise self._failure(script, exc) from None  # the context is gone: so is its state
                failure = exc
            state = json.loads(self._ctx.eval("__sfsync_state()"))
            pending = state["pending"]
            if pending is not None and not state["mismatch"]:
                op, args = pending
                if op == "require":
                    module = json.loads(args)[0]
                    self._ctx.eval(f"__sfsync_module({json.dumps(module)}, {json.dumps(self.env.module(module))})")
                else:
                    memo.append(perform(self.env, name, op, args))
                continue
            log_lines(name, state["logs"])
            if state["mismatch"]:
                raise ScriptError(name, state["mismatch"])
            if failure is not None:
                raise self._failure(script, failure) from None
            return _to_python(result)
        raise ScriptError(name, f"made more than {MAX_HOST_CALLS} openidm calls and require()s in one call")


    def call_capturing_many(self, script: Script, batch: list[dict[str, Any]],
                            capture: tuple[str, ...]) -> list[tuple[bool, Any]]:
        """:meth:`Script.call_capturing` for a page of variable sets in one crossing into JS: per set
        ``(True, [value, *captured])`` or ``(False, error)``. A set whose script makes a host call not answered
        yet (``require`` of a module not loaded, any ``openidm`` call) runs alone through the replay (and loads
        the module for the sets after it); a batch stopped by the time or memory limit runs one by one."""
        results: list[tuple[bool, Any]] = []
        payload = [script.trim_capturing(v, capture) for v in batch]
        i = 0
        while i < len(batch):
            fn = self._function(script, capture)
            runner = self._batch_runner()
            try:
                out = decode(runner(fn, self._js_value(payload[i:]), script.host))
            except (quickjs.JSException, quickjs.StackOverflow) as exc:
                if isinstance(exc, quickjs.JSException) and self._lost_context(_first_line(exc)):
                    self._new_context()
                results.extend(self._one(script, v, capture) for v in payload[i:])
                break
            for entry in out:
                if entry is None:  # a host call to make: this set alone, through the replay
                    results.append(self._one(script, payload[i], capture))
                    i += 1
                    break
                ok, value, logs = entry
                if logs:
                    log_lines(script.spec.name, logs)
                results.append((bool(ok), value if ok else str(value).splitlines()[0] if value else "null"))
                i += 1
        return results

    def _one(self, script: Script, variables: dict[str, Any], capture: tuple[str, ...]) -> tuple[bool, Any]:
        try:
            return True, self.call(script, variables, capture)
        except ScriptError as err:
            return False, err.detail

    def _batch_runner(self) -> Any:
        """The JS loop of :meth:`call_capturing_many` (one per context)."""
        runner = self._compiled.get((0, "batch"))
        if runner is None:
            runner = self._ctx.eval(_BATCH_RUNNER)
            self._compiled[(0, "batch")] = runner
        return runner

    def call_many(self, script: Script, batch: list[dict[str, Any]],
                  columns: tuple[str, tuple[str, ...], list[list[Any]]] | None = None) -> list[tuple[bool, Any]]:
        """Run ``script`` once per variable set in one crossing into JS: ``[(ok, value or error), ...]``.
        ``columns`` (variable name, its properties, a row of their values per record) sends just those values.

        A record's exception is that record's error. If the whole batch is stopped (time or memory limit),
        the records run one by one, so only the guilty record fails.
        """
        if not batch:
            return []
        if script.host:  # host calls replay per record (see _call_with_host)
            out: list[tuple[bool, Any]] = []
            for variables in batch:
                try:
                    out.append((True, self.call(script, script.trim(variables))))
                except ScriptError as err:
                    out.append((False, err.detail))
            return out
        if columns is not None:
            fn = self._function(script, None, (columns[0], columns[1]))
            payload: Any = columns[2]
        else:
            fn = self._function(script, None)
            payload = [script.trim(v) for v in batch]
        try:
            arg = self._js_value(payload)
            values, errors = decode(fn(arg))
        except (quickjs.JSException, quickjs.StackOverflow) as exc:
            if self._lost_context(_first_line(exc)):
                self._new_context()
            results: list[tuple[bool, Any]] = []
            for variables in batch:
                try:
                    results.append((True, self.call(script, script.trim(variables))))
                except ScriptError as err:
                    results.append((False, err.detail))
            return results
        if not errors:
            return [(True, v) for v in values]
        return [(False, str(errors[str(i)]).splitlines()[0]) if str(i) in errors else (True, v)
                for i, v in enumerate(values)]


class Script:
    """A compiled script bound to its engine: ``script(source=..., target=...)``."""

    __slots__ = ("engine", "spec", "key", "uses", "host", "environment")
    _counter = 0

    def __init__(self, engine: ScriptEngine, spec: ScriptSpec) -> None:
        self.engine = engine
        self.spec = spec
        Script._counter += 1
        self.key = Script._counter

        self.uses = variables_used(spec)
        #: whether the script can reach the host (then it runs through ScriptEngine._call_with_host)
        self.host = re.search(r"\b(" + "|".join(HOST_NAMES) + r")\b", spec.source) is not None
        #: whether it names any of IDM's objects (then the context gets them)
        self.environment = self.host or re.search(r"\bidentityServer\b", spec.source) is not None

    @property
    def name(self) -> str:
        return self.spec.name

    def trim(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Only what the script can see: the variables it names, and of an object it only reads as
        ``name.prop``, only those properties (a 150-field Salesforce record shrinks to the one field a
        ``validSource`` reads, which is most of the cost of a call)."""
        out: dict[str, Any] = {}
        for name, props in self.uses.items():
            if name not in variables:
                if name != "context":
                    continue
                variables = {**variables, "context": None}  # every trigger has ``context``
            value = variables[name]
            if name == "context" and value is None:
                value = self.engine.env.context(self.spec.name)
            if props is not None and isinstance(value, Mapping):
                value = {p: value[p] for p in props if p in value}
            out[name] = value
        return out

    def __call__(self, **variables: Any) -> Any:
        return self.engine.call(self, self.trim(variables))

    def trim_capturing(self, variables: Mapping[str, Any], capture: tuple[str, ...]) -> dict[str, Any]:
        """:meth:`trim`, with each captured variable passed whole (the script may change any part of it)."""
        trimmed = self.trim(variables)
        for name in capture:
            if name in variables:
                trimmed[name] = variables[name]
        return trimmed

    def call_capturing(self, capture: tuple[str, ...], **variables: Any) -> tuple[Any, dict[str, Any]]:
        """Run the script and return ``(value, {name: value after the script})`` for ``capture``."""
        out = self.engine.call(self, self.trim_capturing(variables, capture), capture)
        return out[0], dict(zip(capture, out[1:], strict=True))

    def boolean_many(self, batch: list[dict[str, Any]]) -> list[bool | ScriptError]:
        """:meth:`boolean` for a page of variable sets; a failing record's entry is its ScriptError."""
        out: list[bool | ScriptError] = []
        columns = None
        if len(self.uses) == 1:  # the common validSource: only source.X is read; send rows of those values
            (var, props), = self.uses.items()
            if props is not None:
                try:
                    columns = (var, props, [[v[var][p] for p in props] for v in batch])
                except (KeyError, TypeError):  # a missing property must stay undefined: the general form
                    columns = None
        for ok, value in self.engine.call_many(self, batch, columns):
            if not ok:
                out.append(ScriptError(self.spec.name, value))
            elif not isinstance(value, bool):
                out.append(ScriptError(self.spec.name, f"must return a boolean, returned {_js_type(value)}"))
            else:
                out.append(value)
        return out

    def boolean(self, **variables: Any) -> bool:
        """For scripts IDM requires to return a boolean (validSource, validTarget, conditions)."""
        value = self(**variables)
        if not isinstance(value, bool):
            raise ScriptError(self.spec.name, f"must return a boolean, returned {_js_type(value)}")
        return value


_OBJECT_METHODS = frozenset({
    "hasOwnProperty", "toString", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString",
    "constructor", "__proto__",
})


def variables_used(spec: ScriptSpec) -> dict[str, tuple[str, ...] | None]:
    """Which IDM variables a script mentions, and for each the properties it reads (None: used whole).

    Conservative: any mention not of the form ``name.ident`` (``name[...]``, ``name`` passed along,
    ``eval``, an identifier spelt with a ``\\u`` escape) means the whole value is passed. What a script does
    not mention it cannot see, so callers may leave it out (:meth:`Script.trim`, :mod:`core.sync.observed`)."""
    return _variables_used(spec.source)


@functools.lru_cache(maxsize=512)
def _variables_used(source: str) -> dict[str, tuple[str, ...] | None]:
    if re.search(r"\beval\b|\barguments\b|\bthis\b|\\u", source):
        return {name: None for name in SCRIPT_VARIABLES}
    if re.search(r"\bopenidm\b", source):
        # ``openidm.*`` reaches records by other roads (a query, a read by id, a write of what it was given):
        # not provably limited to ``name.prop`` reads, so every variable the script names is passed whole
        return {name: None for name in SCRIPT_VARIABLES
                if re.search(r"(?<![\w$.])" + re.escape(name) + r"(?![\w$])", source)}
    used: dict[str, tuple[str, ...] | None] = {}
    for name in SCRIPT_VARIABLES:
        mentions = list(re.finditer(r"(?<![\w$.])" + re.escape(name) + r"(?![\w$])", source))
        if not mentions:
            continue
        props: set[str] = set()
        whole = False
        for m in mentions:
            follow = re.match(r"\s*\.\s*([A-Za-z_$][\w$]*)", source[m.end():])
            if follow is None:
                whole = True
                break
            if follow.group(1) in _OBJECT_METHODS:
                whole = True
                break
            props.add(follow.group(1))
        used[name] = None if whole else tuple(sorted(props))
    return used


def _to_python(value: Any) -> Any:
    if isinstance(value, quickjs.Object):
        text = value.json()
        return None if text in (None, "undefined") else decode(text)
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _js_type(value: Any) -> str:
    if value is None:
        return "null/undefined"
    return {str: "a string", int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__)
