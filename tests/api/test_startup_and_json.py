"""The server's start-up loads what a reconciliation needs, and its JSON answers (orjson, ``json`` fallback)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from core.api.routes import dump_json
from tests.api.conftest import ROOT

# in a fresh interpreter: this process's modules and shared TLS contexts are those of earlier tests
STARTUP = textwrap.dedent("""
    import sys
    from pathlib import Path
    from starlette.testclient import TestClient
    from core.api import create_app
    from core.config.project import Project

    app = create_app(Project(Path(sys.argv[1])))
    before = "core.salesforce.connector" in sys.modules
    with TestClient(app):  # runs the lifespan: start-up, then shutdown
        from core.salesforce import http
        print(before, "core.salesforce.connector" in sys.modules, len(http._contexts),
              app.state.backend._sync is not None and app.state.backend._sync._repo is not None)
""")


def test_start_up_loads_the_connector_and_its_tls_context_before_the_first_request(sample_project) -> None:
    """Otherwise the first run after start pays ~0.5 s of imports, CA stores and repository opening inside
    its ``duration`` (worse with readers competing for the interpreter)."""
    out = subprocess.run([sys.executable, "-c", STARTUP, str(sample_project.root)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "1", "True"]


def test_start_up_survives_a_project_whose_connector_cannot_be_built(sample_project) -> None:
    (sample_project.root / "conf" / "provisioner.openicf-salesforce.json").write_text("{not json")
    out = subprocess.run([sys.executable, "-c", STARTUP, str(sample_project.root)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "False" and out.stdout.split()[2] == "0"


def test_dump_json_is_compact_or_indented_like_idm() -> None:
    data = {"result": [{"_id": "a", "mail": "é@example.com", "n": 1.5, "ok": True, "x": None}], "resultCount": 1}
    assert dump_json(data) == json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    assert dump_json(data, pretty=True) == json.dumps(data, ensure_ascii=False, indent=2).encode()


def test_dump_json_falls_back_for_what_orjson_refuses() -> None:
    big = {"n": 2**70, "m": [-(2**65)]}
    assert json.loads(dump_json(big)) == big
    assert json.loads(dump_json({1: "a"}, pretty=True)) == {"1": "a"}
