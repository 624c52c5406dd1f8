"""IDM's PATCH operations on a managed object: ``add``, ``remove``, ``replace``, ``increment``, ``copy``, ``move``.

Semantics follow CREST (``idm-sync-semantics.md`` §3.3): ``field`` is a JSON pointer, ``/roles/-`` appends to
an array, ``add`` on a single-valued field sets it, ``remove`` without ``value`` drops the field and with a
``value`` drops that value from an array, ``increment`` adds a number. Fields ``_id`` and ``_rev`` are not
patchable. The object given is not modified; a new one is returned.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from core.repo.errors import FieldError, ValidationError
from core.repo.queryfilter import parse_pointer

OPERATIONS = ("add", "remove", "replace", "increment", "copy", "move")


def _fail(index: int, message: str) -> ValidationError:
    return ValidationError([FieldError(f"patch[{index}]", message)], resource="patch")


def _pointer(op: Mapping[str, Any], key: str, index: int) -> tuple[str, ...]:
    raw = op.get(key)
    if not isinstance(raw, str) or not raw.strip("/"):
        raise _fail(index, f"'{key}' must be a field pointer such as \"/mail\"")
    pointer = parse_pointer(raw)
    if pointer[0] in ("_id", "_rev"):
        raise _fail(index, f"{raw} cannot be patched")
    return pointer


def _parent(obj: dict[str, Any], pointer: tuple[str, ...], create: bool, index: int) -> Any:
    node: Any = obj
    for depth, part in enumerate(pointer[:-1]):
        if isinstance(node, dict):
            if part not in node or node[part] is None:
                if not create:
                    return None
                following = pointer[depth + 1]
                node[part] = [] if following == "-" or following.isdigit() else {}  # /roles/- makes an array
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _fail(index, f"/{'/'.join(pointer)}: no such field")
    return node


def _get(obj: dict[str, Any], pointer: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = obj
    for part in pointer:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _set(obj: dict[str, Any], pointer: tuple[str, ...], value: Any, index: int, *, append_ok: bool) -> None:
    parent = _parent(obj, pointer, True, index)
    last = pointer[-1]
    if isinstance(parent, list):
        if last == "-" and append_ok:
            parent.append(value)
        elif last.isdigit() and append_ok and int(last) <= len(parent):
            parent.insert(int(last), value)
        elif last.isdigit() and int(last) < len(parent):
            parent[int(last)] = value
        else:
            raise _fail(index, f"/{'/'.join(pointer)}: bad array index")
    elif isinstance(parent, dict):
        if last == "-" and append_ok:
            raise _fail(index, f"/{'/'.join(pointer)}: not an array ({type(parent).__name__})")
        parent[last] = value
    else:
        raise _fail(index, f"/{'/'.join(pointer)}: parent is not an object")


def _remove(obj: dict[str, Any], pointer: tuple[str, ...], op: Mapping[str, Any], index: int) -> None:
    parent = _parent(obj, pointer, False, index)
    last = pointer[-1]
    if isinstance(parent, dict):
        if "value" in op and isinstance(parent.get(last), list):
            parent[last] = [v for v in parent[last] if v != op["value"]]
        else:
            parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]


def apply_patch(obj: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of ``obj`` with ``operations`` applied in order; a bad operation raises ValidationError."""
    if not isinstance(operations, list | tuple):
        raise ValidationError([FieldError("patch", "must be a list of operations")], resource="patch")
    out: dict[str, Any] = copy.deepcopy(dict(obj))
    for index, op in enumerate(operations):
        if not isinstance(op, Mapping):
            raise _fail(index, "must be an object")
        name = op.get("operation")
        if name not in OPERATIONS:
            raise _fail(index, f"unknown operation {name!r} (use {', '.join(OPERATIONS)})")
        field = _pointer(op, "field", index)
        if name in ("add", "replace"):
            if "value" not in op:
                raise _fail(index, f"'{name}' needs a 'value'")
            if name == "add" and field[-1] != "-":
                found, current = _get(out, field)
                if found and isinstance(current, list) and isinstance(op["value"], list):
                    current.extend(copy.deepcopy(op["value"]))
                    continue
            _set(out, field, copy.deepcopy(op["value"]), index, append_ok=(name == "add"))
        elif name == "remove":
            _remove(out, field, op, index)
        elif name == "increment":
            found, current = _get(out, field)
            amount = op.get("value")
            if not isinstance(amount, int | float) or isinstance(amount, bool):
                raise _fail(index, "'increment' needs a numeric 'value'")
            if found and (not isinstance(current, int | float) or isinstance(current, bool)):
                raise _fail(index, f"/{'/'.join(field)} is not a number")
            _set(out, field, (current if found else 0) + amount, index, append_ok=False)
        else:  # copy, move
            source = _pointer(op, "from", index)
            found, value = _get(out, source)
            if not found:
                raise _fail(index, f"/{'/'.join(source)}: no such field")
            if name == "move":
                _remove(out, source, {}, index)
            _set(out, field, copy.deepcopy(value), index, append_ok=True)
    return out
