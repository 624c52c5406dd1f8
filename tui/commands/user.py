"""``sfsync user get ID`` and ``sfsync user update ID FIELD=VALUE…``: one managed user.

``get`` prints the user as JSON (exit 1 and ``managed/user/ID not found`` when absent). ``update`` changes
the given fields (``FIELD=text`` sets a string, ``FIELD:=JSON`` a typed value such as ``true`` or ``3``,
``FIELD=`` with nothing removes the field; ``a/b`` reaches nested fields), saves with ``If-Match`` on the
revision it read (a concurrent change is refused, not overwritten), then runs implicit sync through
``SyncService.update_user``. It prints ``{"user": …, "sync": [per mapping: mapping, result, …]}``; the exit code
is 1 when a mapping FAILED (the managed change stays, as in IDM).
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
    parser = subparsers.add_parser("user", help="show or change one managed user",
                                   description="Show (get) or change (update) one managed user.")
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


def handle_update(args: argparse.Namespace) -> int:
    from core.config.project import Project
    from core.repo.activity import Actor
    from core.repo.patch import apply_patch
    from core.sync.service import SyncService

    operations = parse_changes(args.changes)
    repo = open_repository(args.project)
    service = SyncService(Project.resolve(args.project), repo=repo)
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
