"""``sfsync user get ID``, ``user create FIELD=VALUE…``, ``user update ID FIELD=VALUE…``, ``user delete ID``: one
managed user.

``get`` prints the user as JSON (exit 1 and ``managed/user/ID not found`` when absent). ``update`` changes
the given fields (``FIELD=text`` sets a string, ``FIELD:=JSON`` a typed value such as ``true`` or ``3``,
``FIELD=`` with nothing removes the field; ``a/b`` reaches nested fields), saves with ``If-Match`` on the
revision it read (a concurrent change is refused, not overwritten), then runs implicit sync through
``SyncService.update_user``. It prints ``{"user": …, "sync": [per mapping: mapping, result, …]}``; the exit code
is 1 when a mapping FAILED (the managed change stays, as in IDM).

``create`` takes the same arguments (``FIELD=`` with nothing leaves the field out; ``--id`` chooses the _id, as
IDM's ``PUT`` with ``If-None-Match: *``; otherwise a new UUID) and runs ``SyncService.create_user``; ``delete``
removes the user (``--rev`` = only at that revision, as ``If-Match``) through ``SyncService.delete_user``. Both
print ``{"user": …, "sync": […]}`` and exit as ``update`` does (an invalid user: 2; an unknown id: 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from core.errors import UsageError
from tui.commands.users import open_repository


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("user", help="show, create, change or delete one managed user",
                                   description="Show (get), create, change (update) or delete one managed user.")
    actions = parser.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    get = actions.add_parser("get", help="print one managed user as JSON",
                             description="Print the managed user with this _id as JSON.")
    get.add_argument("id", metavar="ID", help="the user's _id")
    get.set_defaults(func=handle_get)
    update = actions.add_parser(
        "update", help="change fields of a managed user, then run implicit sync",
        description="Change fields of a managed user (FIELD=text, FIELD:=JSON, FIELD= removes), save it "
                    "with If-Match on the revision read, then run implicit sync to the mapped systems.")
    update.add_argument("id", metavar="ID", help="the user's _id")
    update.add_argument("changes", metavar="FIELD=VALUE", nargs="+",
                        help="e.g. sn=Jensen, accountStatus=inactive, preferences/updates:=true, description=")
    update.set_defaults(func=handle_update)
    create = actions.add_parser(
        "create", help="create a managed user, then run implicit sync",
        description="Create a managed user from FIELD=text and FIELD:=JSON arguments (managed.json's rules "
                    "apply), then run implicit sync to the mapped systems.")
    create.add_argument("changes", metavar="FIELD=VALUE", nargs="+",
                        help="e.g. userName=bjensen givenName=Barbara sn=Jensen mail=bjensen@example.com")
    create.add_argument("--id", dest="new_id", metavar="ID", help="the new user's _id (default: a new UUID)")
    create.set_defaults(func=handle_create)
    delete = actions.add_parser(
        "delete", help="delete a managed user, then run implicit sync",
        description="Delete the managed user with this _id, then run implicit sync (the mappings decide what "
                    "happens to the linked accounts).")
    delete.add_argument("id", metavar="ID", help="the user's _id")
    delete.add_argument("--rev", metavar="REV", help="delete only at this _rev (IDM's If-Match)")
    delete.set_defaults(func=handle_delete)


def handle_get(args: argparse.Namespace) -> int:
    with open_repository(args.project) as repo:
        user = repo.read(args.id)  # NotFound: "managed/user/ID not found", exit 1
    print(json.dumps(user, indent=2, ensure_ascii=False))
    return 0


def parse_changes(changes: list[str]) -> list[dict[str, Any]]:
    """``FIELD=VALUE`` arguments as IDM patch operations; a malformed one is a UsageError naming it."""
    operations = []
    for arg in changes:
        eq = arg.find("=")
        if eq <= 0:
            raise UsageError(f"{arg}: expected FIELD=VALUE, FIELD:=JSON or FIELD=")
        typed = arg[eq - 1] == ":"
        field, raw = (arg[:eq - 1], arg[eq + 1:]) if typed else (arg[:eq], arg[eq + 1:])
        value: Any = raw
        if typed:
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{arg}: the value after := is not JSON ({exc.msg})") from None
        field = field.strip().strip("/")
        if not field or field.split("/")[0] in ("_id", "_rev"):
            raise UsageError(f"{arg}: {'a field name is needed' if not field else field + ' cannot be changed'}")
        if value == "" and not typed:
            operations.append({"operation": "remove", "field": "/" + field})
        else:
            operations.append({"operation": "replace", "field": "/" + field, "value": value})
    return operations


def build_user(changes: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` arguments as a new user object (``FIELD=`` with nothing leaves the field out)."""
    from core.repo import apply_patch

    operations = [{**op, "operation": "add"} for op in parse_changes(changes) if op["operation"] != "remove"]
    return apply_patch({}, operations)


def _run_change(args: argparse.Namespace, change: Any, user_id: str | None, done: str) -> int:
    """Run ``change(service)`` (a SyncService write), print ``{"user", "sync"}``; exit 1 when a mapping FAILED."""
    from core.config import Project, ProjectConfig
    from core.sync import SyncService

    loaded = ProjectConfig.load(Project.resolve(args.project))  # the command's one look at the files
    repo = open_repository(args.project, loaded)
    service = SyncService(loaded.project, config=loaded, repo=repo)
    try:
        user, results = asyncio.run(change(service))
    finally:
        service.close()
    sync = [r.to_dict() for r in results.values()]
    print(json.dumps({"user": user, "sync": sync}, indent=2, ensure_ascii=False))
    failed = [r for r in sync if r.get("result") == "FAILED"]
    for r in failed:
        print(f"sfsync: managed/user/{user_id or user.get('_id')} was {done}, but mapping {r['mapping']} FAILED: "
              f"{r.get('message')}", file=sys.stderr)
    return 1 if failed else 0


def handle_create(args: argparse.Namespace) -> int:
    from core.repo import Actor

    if args.new_id is not None and (not args.new_id or "/" in args.new_id):
        raise UsageError(f"--id {args.new_id!r}: must be a non-empty id without '/'")
    obj = build_user(args.changes)
    return _run_change(args, lambda service: service.create_user(obj, id=args.new_id, actor=Actor.local("cli")),
                       args.new_id, "created")


def handle_delete(args: argparse.Namespace) -> int:
    from core.repo import Actor

    return _run_change(args, lambda service: service.delete_user(args.id, rev=args.rev, actor=Actor.local("cli")),
                       args.id, "deleted")


def handle_update(args: argparse.Namespace) -> int:
    from core.config import Project, ProjectConfig
    from core.repo import Actor, apply_patch
    from core.sync import SyncService

    operations = parse_changes(args.changes)
    loaded = ProjectConfig.load(Project.resolve(args.project))  # the command's one look at the files
    repo = open_repository(args.project, loaded)
    service = SyncService(loaded.project, config=loaded, repo=repo)
    try:
        current = repo.read(args.id)
        changed = apply_patch(current, operations)
        user, results = asyncio.run(service.update_user(args.id, changed, rev=current["_rev"],
                                                        actor=Actor.local("cli")))
    finally:
        service.close()
    sync = [r.to_dict() for r in results.values()]
    print(json.dumps({"user": user, "sync": sync}, indent=2, ensure_ascii=False))
    failed = [r for r in sync if r.get("result") == "FAILED"]
    for r in failed:
        print(f"sfsync: managed/user/{args.id} was saved, but mapping {r['mapping']} FAILED: {r.get('message')}",
              file=sys.stderr)
    return 1 if failed else 0
