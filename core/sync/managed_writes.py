"""One write of a managed object as IDM's managed object service makes it, whoever asks (REST, the app, the command
line, a script's ``openidm.create/update/patch/delete``): the ``managed.json`` hooks around the repository's write
(``core.sync.managed_hooks``), then implicit sync of the mappings whose source is the object's set, then
``onSync`` (``core.sync.implicit.push_changes``).

The ``write_*`` functions make the hooked write in the caller's transaction and return ``(id, old, new, answer)``
(``answer``: the object with its virtual properties, as IDM's response carries them). :class:`ScriptWrites` is
what a script's ``openidm`` writes go through (``ScriptEnv.managed_writes``): the write, its activity entry,
implicit sync and ``onSync``, in the script's own thread and script engine.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.sync.managed_hooks import ManagedHooks, request_of
from core.sync.scripts import ScriptEngine

#: how deeply hooks may write through scripts that write again (an onCreate creating a user runs onCreate…)
MAX_DEPTH = 8

Change = tuple[str, dict[str, Any] | None, dict[str, Any] | None, Any]


def _unchanged(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return {k: v for k, v in old.items() if k != "_rev"} == {k: v for k, v in new.items() if k != "_rev"}


def write_create(repo: Any, hooks: ManagedHooks, engine: ScriptEngine, obj: dict[str, Any],
                 object_id: str | None = None) -> Change:
    request = request_of("create", hooks.resource_name(object_id), obj)
    created = repo.create(hooks.before_create(engine, copy.deepcopy(obj), request, object_id), object_id,
                          resource=hooks.resource)
    hooks.after_create(engine, created, request)
    return created["_id"], None, created, hooks.virtual(engine, created, request)


def write_update(repo: Any, hooks: ManagedHooks, engine: ScriptEngine, object_id: str, obj: dict[str, Any],
                 rev: str | None) -> Change:
    old = repo.read(object_id, resource=hooks.resource)
    request = request_of("update", hooks.resource_name(object_id), obj)
    new = repo.update(object_id, hooks.before_update(engine, object_id, old, copy.deepcopy(obj), request), rev,
                      resource=hooks.resource)
    if not _unchanged(old, new):
        hooks.after_update(engine, object_id, old, new, request)
    return object_id, old, new, hooks.virtual(engine, new, request)


def write_patch(repo: Any, hooks: ManagedHooks, engine: ScriptEngine, object_id: str,
                operations: list[dict[str, Any]], rev: str | None) -> Change:
    old = repo.read(object_id, resource=hooks.resource)
    request = request_of("patch", hooks.resource_name(object_id), operations)
    if hooks.has("onUpdate", "onValidate", "onStore"):
        from core.repo.patch import apply_patch

        patched = apply_patch(copy.deepcopy(old), operations)
        new = repo.update(object_id, hooks.before_update(engine, object_id, old, patched, request),
                          old["_rev"] if rev is None else rev, resource=hooks.resource)
    else:
        new = repo.patch(object_id, operations, rev, resource=hooks.resource)
    if not _unchanged(old, new):
        hooks.after_update(engine, object_id, old, new, request)
    return object_id, old, new, hooks.virtual(engine, new, request)


def write_delete(repo: Any, hooks: ManagedHooks, engine: ScriptEngine, object_id: str, rev: str | None) -> Change:
    request = request_of("delete", hooks.resource_name(object_id))
    if hooks.has("onDelete"):
        hooks.before_delete(engine, object_id, repo.read(object_id, resource=hooks.resource), request)
    old = repo.delete(object_id, rev, resource=hooks.resource)
    hooks.after_delete(engine, object_id, old, request)
    return object_id, old, None, old


@dataclass
class ScriptWrites:
    """A script's ``openidm`` writes of ``managed/<name>``, through the hooks, implicit sync and ``onSync`` as a
    REST write goes (IDM routes both to its managed object service). Runs in the script's thread with its
    engine; ``activity(resource, id, operation, old, new)`` records the change (in its transaction)."""

    repo: Any
    hooks_of: Callable[[str], ManagedHooks]
    mappings_of: Callable[[str], Sequence[Any]]
    object_sets: Callable[[str], Any]
    activity: Callable[[str, str, str, Any, Any], None] | None = None
    #: the engine the writing script runs in (its thread's), when there is one
    engine: Callable[[], ScriptEngine | None] = lambda: None
    _depth: int = field(default=0, repr=False)
    #: the objects whose implicit sync is running in this thread (a mapping's script writing its own source)
    _syncing: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @contextlib.contextmanager
    def syncing(self, resource: str, object_id: str) -> Iterator[None]:
        """While ``managed/<resource>/<object_id>``'s implicit sync runs: a script's write of that same object
        runs its hooks but starts no second implicit sync of it, which would decide against targets the running
        one has not written yet (a mapping's onCreate patching its source would create its target twice)."""
        key = (resource, object_id)
        fresh = key not in self._syncing
        self._syncing.add(key)
        try:
            yield
        finally:
            if fresh:
                self._syncing.discard(key)

    def write(self, op: str, resource: str, object_id: str | None, content: Any, rev: str | None) -> Any:
        """``op`` (create, update, patch, delete) of ``managed/<resource>[/object_id]``: the object IDM answers."""
        from core.sync.implicit import push_changes
        from core.sync.scriptenv import HostError

        if self._depth >= MAX_DEPTH:
            raise HostError(f"openidm.{op}(managed/{resource}): writes nested {MAX_DEPTH} deep (a hook whose "
                            "script writes an object whose hook writes again…); stopped")
        hooks = self.hooks_of(resource)
        engine = hooks.engine(self.engine())
        self._depth += 1
        try:
            with self.repo.transaction():
                if op == "create":
                    change = write_create(self.repo, hooks, engine, content, object_id)
                elif op == "update":
                    change = write_update(self.repo, hooks, engine, object_id or "", content, rev)
                elif op == "patch":
                    change = write_patch(self.repo, hooks, engine, object_id or "", content, rev)
                else:
                    change = write_delete(self.repo, hooks, engine, object_id or "", rev)
                if self.activity is not None:
                    self.activity(resource, change[0], op.upper(), change[1], change[2])
            sid, old, new, answer = change
            if (resource, sid) in self._syncing or (old is not None and new is not None and _unchanged(old, new)):
                return answer
            with self.syncing(resource, sid):
                push_changes(list(self.mappings_of(f"managed/{resource}")), engine, self.repo, self.object_sets,
                             [(sid, old, new)], hooks=hooks)
            return answer
        finally:
            self._depth -= 1
