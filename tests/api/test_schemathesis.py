"""OpenAPI conformance: schemathesis, with every check it has, against a real ``sfsync serve`` on loopback.

The served document must describe exactly what the server accepts and returns: no 5xx, no schema-valid request
refused, no schema-violating request accepted, every status, content type, header and body as documented, and
the ``links`` (create a user -> read/patch/replace/delete it; start a recon -> read/cancel it; ...) followed by
the stateful phase. ``st run`` is the tool's own runner (all four phases: examples, coverage, fuzzing, stateful);
it runs in a subprocess against the server as any client would.

Bounded and deterministic: a fixed seed, ``--generation-deterministic``, one worker, few examples per
operation, no example database, and ``--max-time`` as a safety net (the run normally completes well before).
``SCHEMATHESIS_EXAMPLES`` / ``SCHEMATHESIS_MAX_TIME`` raise the budget for a longer local hunt.
Nothing is written into the repository (the crash cache is off in schemathesis.toml).

Where the document cannot say a rule, the exceptions are narrow and each says why: schemathesis.toml (a stale
If-Match, a schedule's cron grammar, whether a patch applies to the stored user) and the hooks (CREST's filter
grammar as a format; a paging cookie is valid only as a previous page of the same ordering returned it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import ADMIN, ROOT, user_account_mapping

ST = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "8")
MAX_TIME = os.environ.get("SCHEMATHESIS_MAX_TIME", "75")


@pytest.fixture
def served(tmp_path: Path):
    """``sfsync serve`` on a free loopback port over the sample managed.json and a managed-to-managed mapping,
    seeded with a few users (so reads, queries and paging have data) and one finished recon."""
    import httpx

    project = tmp_path / "project"
    (project / "conf").mkdir(parents=True)
    shutil.copy(ROOT / "conf" / "managed.json", project / "conf" / "managed.json")
    (project / "conf" / "sync.json").write_text(json.dumps({"mappings": [user_account_mapping()]}))
    log = (tmp_path / "server.log").open("w")  # the server's tracebacks, shown when a check fails
    proc = subprocess.Popen([sys.executable, "-m", "tui", "-p", str(project), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert "serving" in line, (tmp_path / "server.log").read_text()
        url = line.split("at ", 1)[1].split("/openidm/", 1)[0]
        with httpx.Client(base_url=url, headers=ADMIN, timeout=30) as client:
            for i in range(3):
                client.post("/openidm/managed/user", params={"_action": "create"}, json={
                    "userName": f"seed{i}", "givenName": "Seed", "sn": "User", "mail": f"seed{i}@example.com"})
            client.post("/openidm/recon", params={"_action": "recon", "mapping": "userAccount",
                                                  "waitForCompletion": "true"})
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.skipif(ST is None, reason="schemathesis is in the test extra: pip install -e '.[test]'")
def test_the_served_openapi_document_is_what_the_server_does(served, tmp_path: Path):
    url, server = served
    report = tmp_path / "report.json"
    command = [ST, "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run", f"{url}/openapi.json",
               "--phases", "examples,coverage,fuzzing,stateful",
               "--header", f"X-OpenIDM-Username: {ADMIN['X-OpenIDM-Username']}",
               "--header", f"X-OpenIDM-Password: {ADMIN['X-OpenIDM-Password']}",
               "--max-examples", EXAMPLES, "--seed", "18", "--generation-deterministic",
               "--workers", "1", "--max-time", MAX_TIME,  # deterministic: no example database
               "--request-timeout", "30", "--no-color", "--report", "json", "--report-json-path", str(report)]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=int(MAX_TIME) + 60)
    output = result.stdout + result.stderr[-3000:] + "\nserver log:\n" + (tmp_path / "server.log").read_text()[-5000:]
    if os.environ.get("SCHEMATHESIS_LOG"):
        Path(os.environ["SCHEMATHESIS_LOG"]).write_text(output)
    assert report.exists(), output
    data = json.loads(report.read_text())
    assert data["operations"]["tested"] == data["operations"]["total"] > 0, output
    assert not data["failures"] and not data["errors"], output
    assert data["test_cases"]["generated"] > 0 and result.returncode == 0, output
    assert server.poll() is None, "the server died under the fuzzer"
