"""What IDM's scripts see besides their variables: ``openidm``, ``logger``/``console``, ``identityServer``,
``require`` and ``context`` (``idm-beyond-the-sample.md`` §5.4), inside the QuickJS sandbox of
:mod:`core.sync.scripts`.

A script never calls into Python directly (the quickjs package forbids it under a time limit): the host
calls are replayed, see :data:`PRELUDE`. A failed call is thrown into the script as an ``Error`` (so the
record fails with it, like any other script exception). Nothing else is added: no files beyond ``<project>/script/*.js`` for ``require``, no network
beyond the connector's own calls for ``system/salesforce/User``.

Resources of ``openidm.*``:

- ``managed/user[/id]`` (any ``managed/<name>`` the repository has): the repository, in the calling thread.
- ``system/salesforce/User[/id]``: the Salesforce connector, on its event loop (as ``SalesforceObjects``).

Writes (``create``, ``update``, ``patch``, ``delete``, ``action``) are refused where the engine batches
decisions and commits them as a page (reconciliation, liveSync): the page was decided against what it read,
and its transaction commits later (possibly in another thread), so a script's write could neither join it
nor be undone with a failing record. Reads are allowed everywhere. ``ScriptEnv.writes`` says which.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

log = logging.getLogger("sfsync.script")

#: the project's log file: ``<project>/logs/sfsync.log``, rotated at 5 MiB, 5 backups (sfsync.log.1 … .5)
LOG_FILE = "sfsync.log"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5
SCRIPT_DIR = "script"
#: sfsync's own versions of the library scripts IDM bundles (``onCreateUser``, ``onUpdateUser``,
#: ``postDelete-idp-cleanup``, ``postDelete-notification-cleanup``): ``require()`` finds them after ``script/``
LIBRARY_DIR = Path(__file__).with_name("library")

_handlers: dict[Path, tuple[logging.Handler, int]] = {}  # per file: the handler and how many opened it
_handlers_lock = threading.Lock()


def project_log(project_dir: Path | str) -> Path:
    """Send the ``sfsync`` loggers (scripts' ``logger`` among them) to ``<project>/logs/sfsync.log``, rotated
    (:data:`LOG_MAX_BYTES`, :data:`LOG_BACKUPS`); the engine's own warnings (``core.*``) too. Counted: each
    call is undone by one :func:`close_project_log` (a SyncService opens it and closes it). Returns the path."""
    path = (Path(project_dir) / "logs" / LOG_FILE).resolve()
    with _handlers_lock:
        if path in _handlers:
            handler, count = _handlers[path]
            _handlers[path] = (handler, count + 1)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS,
                                                           encoding="utf-8", delay=True)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            handler.setLevel(logging.DEBUG)
            root = logging.getLogger("sfsync")
            root.addHandler(handler)
            if root.level == logging.NOTSET or root.level > logging.INFO:
                root.setLevel(logging.INFO)
            logging.getLogger("core").addHandler(handler)  # the engine's own warnings (at their own level)
            _handlers[path] = (handler, 1)
    return path


def close_project_log(project_dir: Path | str) -> None:
    path = (Path(project_dir) / "logs" / LOG_FILE).resolve()
    with _handlers_lock:
        entry = _handlers.get(path)
        if entry is None:
            return
        handler, count = entry
        if count > 1:
            _handlers[path] = (handler, count - 1)
            return
        del _handlers[path]
        logging.getLogger("sfsync").removeHandler(handler)
        logging.getLogger("core").removeHandler(handler)
        handler.close()


def read_properties(path: Path) -> dict[str, str]:
    """A Java ``.properties`` file, the plain subset: ``key=value`` or ``key: value``, ``#``/``!`` comments."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        m = re.match(r"([^=:\s]+)\s*[=:]?\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


class HostError(Exception):
    """What a host call throws into the script (as a JS ``Error`` with this message)."""


@dataclass
class ScriptEnv:
    """Where a :class:`~core.sync.scripts.ScriptEngine`'s scripts run: the project (``script/``, ``logs/``,
    ``resolver/boot.properties``), the repository, the Salesforce User set, who runs them, and whether
    ``openidm`` may write (see the module's docstring)."""

    project_dir: Path | None = None
    repo: Any = None
    #: ``system/salesforce/User``: an ObjectSet, or a callable giving one (made on first use)
    salesforce: Any = None
    #: ``context.security.authenticationId``: the user or origin running the operation
    authentication_id: str = "sfsync"
    #: what runs the scripts: ``recon``, ``liveSync``, ``implicitSync``…; ``context.trigger.origin``
    origin: str = "sfsync"
    writes: bool = True
    #: a name for messages when writes are refused
    refused_because: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    #: the ``managed/<name>`` resources ``openidm`` may name (anything else is an unknown resource)
    managed: frozenset[str] = frozenset({"user"})
    #: where ``openidm.create/update/patch/delete`` of ``managed/<name>`` go, so they run the ``managed.json``
    #: hooks, implicit sync and ``onSync`` as a REST write does (``core.sync.managed_writes.ScriptWrites``); None:
    #: straight to the repository (no hooks)
    managed_writes: Any = None

    def __post_init__(self) -> None:
        if self.project_dir is not None:
            self.project_dir = Path(self.project_dir)
            if not self.properties:
                for candidate in (self.project_dir / "resolver" / "boot.properties",
                                  self.project_dir / "conf" / "boot.properties"):
                    self.properties.update({k: v for k, v in read_properties(candidate).items()
                                            if k not in self.properties})
            self.properties.setdefault("openidm.project.location", str(self.project_dir.resolve()))

    def bound(self, **changes: Any) -> ScriptEnv:
        """A copy with ``changes`` (the properties already read are kept)."""
        return replace(self, **changes)

    # ---- context ---------------------------------------------------------------------------------------
    def context(self, script_name: str) -> dict[str, Any]:
        """IDM's request chain, the parts scripts read: ``context.security.authenticationId`` and the trigger."""
        trigger = script_name.split(".", 1)[1] if "." in script_name else script_name
        return {"name": "root", "security": {"authenticationId": self.authentication_id,
                                            "authorization": {"id": self.authentication_id,
                                                              "component": "internal/user", "roles": []}},
                "trigger": {"origin": self.origin, "script": script_name, "name": trigger.split(" ")[0]}}

    # ---- the host ----------------------------------------------------------------------------------------
    def host(self, script_name: str, op: str, args: list[Any], modules: dict[str, Any]) -> Any:
        if op.startswith("openidm."):
            from core.sync.scriptidm import call_openidm

            return call_openidm(self, op.split(".", 1)[1], args)
        raise HostError(f"unknown host call {op}")

    def location(self) -> str:
        return str(self.project_dir.resolve()) if self.project_dir is not None else os.getcwd()

    def module(self, name: str) -> dict[str, str]:
        """What ``require(name)`` gets: ``{source, file}``, or ``{error}`` naming the file and the folder."""
        try:
            return self.module_source(name)
        except HostError as exc:
            return {"error": str(exc)}

    def module_source(self, name: str) -> dict[str, str]:
        """``require(name)``: ``<project>/script/<name>.js`` (``name`` may have folders, never ``..``), else
        sfsync's bundled library script of that name (:data:`LIBRARY_DIR`)."""
        if not name:
            raise HostError("require() needs a module name")
        folder = (self.project_dir / SCRIPT_DIR).resolve() if self.project_dir is not None else None
        if folder is None:
            raise HostError(f"require('{name}'): no project folder, so no script/ folder to search")
        file = name if name.endswith(".js") else f"{name}.js"
        path = (folder / file).resolve()
        if folder not in path.parents:
            raise HostError(f"require('{name}'): {file} is outside the script folder {folder}")
        if not path.is_file():
            bundled = (LIBRARY_DIR / file).resolve()
            if LIBRARY_DIR.resolve() in bundled.parents and bundled.is_file():
                return {"source": bundled.read_text(encoding="utf-8"), "file": str(bundled)}
            raise HostError(f"require('{name}'): {file} not found in {folder} (nor among sfsync's bundled "
                            f"library scripts: {', '.join(sorted(p.stem for p in LIBRARY_DIR.glob('*.js')))})")
        return {"source": path.read_text(encoding="utf-8"), "file": str(path)}


_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR}

#: defines the objects in the context's global scope; run once per QuickJS context.
#:
#: The quickjs package refuses to call into Python while a time limit is set, and the time limit is the
#: sandbox. So a script never calls Python: a host call it has not seen answered yet is recorded as PENDING and
#: the script is stopped (a thrown error; a ``catch`` in the script cannot hide it, the pending flag stays
#: set). The engine then performs that one call in Python, appends its answer to the call's MEMO, and runs the
#: script again from the start; calls already answered return their memoised answers in order. So every
#: host call is made exactly once, the time limit applies to every run, and a script making k host calls
#: runs k + 1 times (cheap next to the calls themselves). A script whose calls differ between runs
#: (``Math.random()`` in an argument) fails with a message saying so. ``logger`` lines are buffered and
#: written once, after the last run; ``identityServer`` properties are known when the context is made;
#: ``require``d modules are kept per context (a module's source is fetched once, compiled once).
PRELUDE = r"""
(function(g){
  var st = {i: 0, memo: [], pending: null, mismatch: null, logs: []};
  g.__sfsync_reset = function(memo) { st.i = 0; st.memo = memo; st.pending = null; st.mismatch = null;
                                      st.logs = []; };
  g.__sfsync_st = function() { return st; };  // the batch runner's view (no JSON round trip per record)
  g.__sfsync_state = function() {
    return JSON.stringify({pending: st.pending, mismatch: st.mismatch, logs: st.logs});
  };
  function replacer(k, v) { return v === undefined ? null : v; }
  function call(op, args) {
    var text = JSON.stringify(args, replacer);
    if (st.pending !== null) throw new Error("(stopped: waiting for " + st.pending[0] + ")");
    var i = st.i++;
    if (i < st.memo.length) {
      var m = st.memo[i];
      if (m[0] !== op || m[1] !== text) {
        st.mismatch = "host call " + (i + 1) + " was " + m[0] + "(" + m[1].slice(1, -1) + ") and is now " + op +
                      "(" + text.slice(1, -1) + "): a script must make the same calls each time it runs" +
                      " (no Math.random() or Date in their arguments)";
        throw new Error(st.mismatch);
      }
      if (m[2] !== null) throw new Error(m[2]);
      return m[3] === null ? null : JSON.parse(m[3]);
    }
    st.pending = [op, text];
    throw new Error("(stopped: waiting for " + op + ")");
  }
  function text(v) {
    if (v === undefined) return "undefined";
    if (v === null) return "null";
    if (typeof v === "object") { try { return JSON.stringify(v); } catch (e) { return String(v); } }
    return String(v);
  }
  function format(args) {
    var fmt = text(args[0]), i = 1;
    var out = fmt.replace(/\{\}/g, function(m){ return i < args.length ? text(args[i++]) : m; });
    for (; i < args.length; i++) out += " " + text(args[i]);
    return out;
  }
  function level(name) { return function(){ st.logs.push([name, format(Array.prototype.slice.call(arguments))]);
                                           return null; }; }
  g.logger = {trace: level("trace"), debug: level("debug"), info: level("info"), warn: level("warn"),
              error: level("error"),
              isTraceEnabled: function(){ return true; }, isDebugEnabled: function(){ return true; },
              isInfoEnabled: function(){ return true; }, isWarnEnabled: function(){ return true; },
              isErrorEnabled: function(){ return true; }};
  g.console = {log: level("info"), info: level("info"), debug: level("debug"), warn: level("warn"),
               error: level("error"), trace: level("trace")};
  var props = {}, location = null;
  g.__sfsync_init = function(p, loc) { props = p; location = loc; };
  g.identityServer = {
    getProperty: function(name, dflt) {
      var v = Object.prototype.hasOwnProperty.call(props, String(name)) ? props[String(name)] : undefined;
      return v === undefined ? (dflt === undefined ? null : dflt) : v;
    },
    getProjectLocation: function(){ return location; },
    getInstallLocation: function(){ return location; },
    getWorkingLocation: function(){ return location; }
  };
  function idm(op, minArgs) {
    return function() {
      var args = Array.prototype.slice.call(arguments);
      if (args.length < minArgs) throw new Error("openidm." + op + " needs at least " + minArgs +
                                            (minArgs > 1 ? " arguments" : " argument"));
      return call("openidm." + op, args);
    };
  }
  g.openidm = {create: idm("create", 3), read: idm("read", 1), update: idm("update", 3), patch: idm("patch", 3),
               "delete": idm("delete", 2), query: idm("query", 2), action: idm("action", 2)};
  var modules = {}, sources = {};
  g.__sfsync_module = function(name, found) { sources[name] = found; };
  var loaded = Object.create(null);  // by the name as required: a hook's per-record require() is one look-up
  g.require = function(name) {
    if (typeof name === "string" && loaded[name] !== undefined) return loaded[name].exports;
    name = String(name);
    var key = name.replace(/\.js$/, "");
    if (Object.prototype.hasOwnProperty.call(modules, key)) return (loaded[name] = modules[key]).exports;
    if (!Object.prototype.hasOwnProperty.call(sources, key)) {
      if (st.pending === null) st.pending = ["require", JSON.stringify([key])];
      throw new Error("(stopped: waiting for require)");
    }
    var found = sources[key];
    if (found.error !== undefined) throw new Error(found.error);
    var module = {exports: {}, id: key, filename: found.file};
    var factory = found.factory;
    if (factory === undefined) {
      try {
        factory = found.factory = (0, eval)("(function(module, exports, require){" + found.source + "\n})");
      } catch (e) {
        throw new Error("require('" + name + "'): " + found.file + ": " + e);
      }
    }
    modules[key] = module;
    try { factory(module, module.exports, g.require); }
    catch (e) { delete modules[key]; throw e; }
    loaded[name] = module;
    return module.exports;
  };
})(globalThis);
"""

#: the names through which a script can reach the host (a script naming none of them runs in one pass)
HOST_NAMES = ("openidm", "require", "logger", "console")


def log_lines(script_name: str, lines: list[list[str]]) -> None:
    """Write a script's buffered ``logger`` lines (each names the script)."""
    for level, message in lines:
        log.log(_LEVELS.get(level, logging.INFO), "%s: %s", script_name, message)


def perform(env: ScriptEnv, script_name: str, op: str, args_json: str) -> list[Any]:
    """One host call, as a memo entry ``[op, argsJson, error or None, resultJson or None]``."""
    from core.errors import SfsyncError

    try:
        args = json.loads(args_json) if args_json else []
        value = env.host(script_name, op, args if isinstance(args, list) else [args], {})
        return [op, args_json, None, None if value is None else json.dumps(value, default=str)]
    except (HostError, SfsyncError) as exc:
        return [op, args_json, str(exc), None]
    except Exception as exc:  # noqa: BLE001 - a bug in a host call fails the record, never the process
        log.exception("%s: host call %s failed", script_name, op)
        return [op, args_json, f"{op}: internal error: {type(exc).__name__}: {exc}", None]


def known_resource_names() -> str:
    return "managed/user[/<id>], system/salesforce/User[/<id>]"
