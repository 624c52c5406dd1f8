"""What every reliability test checks: the end state is exact and nothing a retry could fix is left failed.

"Exact" for the inbound mapping (Salesforce -> managed/user): the managed users are exactly the Salesforce
users the mapping accepts (validSource drops ``autoproc…`` system users; managed/user requires ``givenName``,
so a Salesforce user without FirstName is that record's FAILURE, with the schema's message), each linked once
to its Salesforce user, no duplicate on either side. For the outbound mapping: every managed user has exactly
one Salesforce user with its userName, linked to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from core.sync.service import SyncService

INBOUND = "systemSalesforceUser_managedUser"
OUTBOUND = "managedUser_systemSalesforceUser"
ROOT = Path(__file__).resolve().parents[2]

#: words in an audit message that mean a retry (of the call, the page or the run) could have fixed it
TRANSIENT_WORDS = ("503", "REQUEST_LIMIT_EXCEEDED", "Service Unavailable", "INVALID_SESSION_ID", "timed out",
                   "timeout", "connect", "Connection", "gave up", "UNABLE_TO_LOCK_ROW", "unavailable")


def accepted(org: Any) -> list[dict[str, Any]]:
    """The org's users the inbound mapping brings in."""
    return [u for u in org.iter_users() if not u["Email"].startswith("autoproc") and u["FirstName"]]


def managed(service: SyncService) -> list[dict[str, Any]]:
    return list(service.repo.query({"_queryFilter": "true"})["result"])


def assert_inbound_exact(org: Any, service: SyncService) -> None:
    """managed users == accepted Salesforce users, links one-to-one, no duplicates on either side."""
    users = accepted(org)
    names = [u["userName"] for u in managed(service)]
    dupes = [n for n, c in Counter(names).items() if c > 1]
    assert not dupes, f"duplicate managed users: {dupes[:5]}"
    sf_names = Counter(u["Username"] for u in org.iter_users())
    assert not [n for n, c in sf_names.items() if c > 1], "duplicate Salesforce users"
    expected = sorted(u["Username"] for u in users)
    assert len(names) == len(expected), f"{len(names)} managed users, {len(expected)} expected"
    assert sorted(names) == expected
    links = list(service.repo.iter_links(INBOUND))
    by_id = {u["_id"]: u for u in managed(service)}
    assert len(links) == len(users) == len({link.first_id for link in links}) == len({k.second_id for k in links})
    for link in links:
        sf = org.user(link.first_id)
        assert sf is not None and by_id[link.second_id]["userName"] == sf["Username"], link


def assert_outbound_exact(org: Any, service: SyncService) -> None:
    """Every managed user has exactly one Salesforce user of its userName, and exactly one link to it."""
    sf_names = Counter(u["Username"] for u in org.iter_users())
    assert not [n for n, c in sf_names.items() if c > 1], "duplicate Salesforce users"
    users = managed(service)
    assert len({u["userName"] for u in users}) == len(users), "duplicate managed users"
    links = {link.second_id: link.first_id for link in service.repo.iter_links(INBOUND)}
    for user in users:
        sf = org.user_by_username(user["userName"])
        assert sf is not None, f"{user['userName']} has no Salesforce user"
        assert links.get(user["_id"]) == sf["Id"], f"{user['userName']} not linked to {sf['Id']}"
    assert len(links) == len(users)


def audit_failures(service: SyncService, run: dict[str, Any]) -> list[dict[str, Any]]:
    entries = service.audit(run["_id"])["result"]
    return [e for e in entries if e.get("status") == "FAILURE"]


def assert_no_retryable_failure(service: SyncService, run: dict[str, Any]) -> None:
    """No audit FAILURE whose message says the call could have succeeded on a retry."""
    for entry in audit_failures(service, run):
        text = str(entry.get("messageDetail") or "") + " " + str(entry.get("message") or "")
        assert not any(w.lower() in text.lower() for w in TRANSIENT_WORDS), entry


def assert_failures_are_the_invalid_users(org: Any, service: SyncService, run: dict[str, Any]) -> None:
    """The inbound run's only FAILUREs are the Salesforce users managed/user refuses (no FirstName)."""
    refused = {u["Id"] for u in org.iter_users() if not u["Email"].startswith("autoproc") and not u["FirstName"]}
    failed = {e.get("sourceObjectId", "").rsplit("/", 1)[-1] for e in audit_failures(service, run)}
    assert failed == refused, (failed - refused, refused - failed)
    assert run["statusSummary"]["FAILURE"] == len(refused)
    assert_no_retryable_failure(service, run)


def sfsync(project: Path, *args: str, prelude: str = "", **popen: Any) -> subprocess.Popen:
    """``sfsync -p PROJECT ARGS`` as a real process (``prelude`` runs first: a fault to inject)."""
    code = (f"import sys\n{prelude}\nfrom tui.cli import main\n"
            f"sys.exit(main(['-p', {str(project)!r}, *{list(args)!r}]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, **popen)


def run_sfsync(project: Path, *args: str, timeout: float = 120, prelude: str = "") -> subprocess.CompletedProcess:
    proc = sfsync(project, *args, prelude=prelude)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())


def cli(capsys: Any, project: Path, *args: str) -> subprocess.CompletedProcess:
    """``sfsync -p PROJECT ARGS`` in this process (``tui.cli.main``), much faster than a subprocess; the
    same handlers, the same ``sfsync: <message>`` and exit codes. Output captured with pytest's ``capsys``."""
    from tui.cli import main

    capsys.readouterr()
    try:
        code = main(["-p", str(project), *args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["sfsync", *args], code, out, err)
