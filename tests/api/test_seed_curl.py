"""The seed's three curl commands, copied verbatim, against ``sfsync serve`` on a real socket.

``sfsync serve`` runs as a subprocess (the real command line, uvicorn, a real port); the project is the
sample's conf/ logged in to a local Salesforce org. The server listens on a free port (8080 may be taken
on a shared machine), so the one change made to the commands is the port number.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

SEED_TEST = '''curl \\
--header "X-OpenIDM-Username: openidm-admin" \\
--header "X-OpenIDM-Password: openidm-admin" \\
--header "Accept-API-Version: resource=1.0" \\
--request POST \\
"http://localhost:8080/openidm/system?_action=test"'''

SEED_RECON = '''curl \\
--header "X-OpenIDM-Username: openidm-admin" \\
--header "X-OpenIDM-Password: openidm-admin" \\
--header "Accept-API-Version: resource=1.0" \\
--request POST \\
"http://localhost:8080/openidm/recon?_action=recon&mapping=systemSalesforceUser_managedUser&waitForCompletion=true"'''

SEED_QUERY = '''curl \\
--header "X-OpenIDM-Username: openidm-admin" \\
--header "X-OpenIDM-Password: openidm-admin" \\
--header "Accept-API-Version: resource=1.0" \\
--request GET \\
"http://localhost:8080/openidm/managed/user?_queryFilter=true&_fields=_id"'''


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(org_project):
    project, org = org_project
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tui", "-p", str(project.root), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()  # printed once the socket listens
    if "serving" not in line:
        proc.kill()
        pytest.fail(f"sfsync serve did not start: {line!r} {proc.stderr.read()!r}")
    yield port, project, org
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_curl(command: str, port: int) -> dict:
    command = command.replace("localhost:8080", f"localhost:{port}")
    out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, check=True)
    answer = json.loads(out.stdout)
    assert "code" not in answer, answer  # an IDM error object
    return answer


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")
def test_the_seeds_curl_commands_answer_as_the_seed_shows(served):
    port, project, org = served
    tested = run_curl(SEED_TEST, port)
    assert tested["ok"] is True and tested["name"] == "salesforce" and tested["enabled"] is True
    assert tested["config"] == "config/provisioner.openicf/salesforce"
    assert tested["displayName"] == "Salesforce Connector" and "User" in tested["objectTypes"]
    assert set(tested["connectorRef"]) >= {"bundleVersion", "bundleName", "connectorName"}

    recon = run_curl(SEED_RECON, port)
    assert set(recon) == {"state", "_id"} and recon["state"] == "SUCCESS"
    assert re.fullmatch(r"[0-9a-f-]{36}", recon["_id"])

    # people the sample's validSource admits and managed.json accepts (givenName, sn, mail, userName required)
    people = [u for u in org.org.iter_users() if not str(u.get("Email", "")).startswith("autoproc")
              and all(u.get(f) for f in ("FirstName", "LastName", "Email", "Username"))]
    run = run_curl(SEED_QUERY.replace("managed/user?_queryFilter=true&_fields=_id", f"recon/{recon['_id']}"), port)
    assert run["progress"]["target"]["created"] == len(people)
    query = run_curl(SEED_QUERY, port)
    assert list(query) == ["result", "resultCount", "pagedResultsCookie", "totalPagedResultsPolicy",
                           "totalPagedResults", "remainingPagedResults"]
    assert query["resultCount"] == len(query["result"]) == len(people)
    assert all(list(row) == ["_id", "_rev"] for row in query["result"])
    assert (query["pagedResultsCookie"], query["totalPagedResultsPolicy"], query["totalPagedResults"],
            query["remainingPagedResults"]) == (None, "NONE", -1, -1)
