"""``sfsync test`` outcomes against the local org: ok, and each reason it is not (IDM's test object)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from core.config import Project, ProvisionerConfig, Settings
from core.salesforce.connector import SalesforceConnector
from core.salesforce.retry import RetryPolicy

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "conf" / "provisioner.openicf-salesforce.json"
QUICK = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02, max_elapsed=5)


async def run_test_object(project: Project) -> dict[str, Any]:
    async with SalesforceConnector.from_project(project, retry=QUICK) as conn:
        return await conn.test()


def edit(project: Project, enabled: bool | None = None, **props: Any) -> None:
    config = ProvisionerConfig.load(project)
    config.update_properties(**props)
    if enabled is not None:
        config.enabled = enabled
    config.save(project)


async def test_each_failure_reason_is_reported_and_ok_only_when_usable(tmp_path: Path, live_org: Any,
                                                                         logged_in_project: Any) -> None:
    project = await logged_in_project(tmp_path, live_org)
    good = project.provisioner_path.read_bytes()

    ok = await run_test_object(project)
    assert ok["ok"] is True and "error" not in ok
    assert list(ok) == ["name", "enabled", "config", "connectorRef", "displayName", "objectTypes", "ok"]

    edit(project, enabled=False)
    assert (await run_test_object(project))["error"].startswith("connector is disabled")

    project.provisioner_path.write_bytes(good)
    edit(project, refreshToken=None)
    assert (await run_test_object(project))["error"] == "no credentials: refreshToken not set (run sfsync login)"

    project.provisioner_path.write_bytes(good)
    edit(project, clientSecret="not-the-secret-at-all")
    result = await run_test_object(project)
    assert not result["ok"] and "OAuth client was refused" in result["error"]

    project.provisioner_path.write_bytes(good)
    edit(project, refreshToken="5AepNOTAREALTOKEN00000000")
    result = await run_test_object(project)
    assert result["error"].startswith("token refused: log in again:"), result["error"]
    assert "5AepNOTAREAL" not in json.dumps(result)

    project.provisioner_path.write_bytes(good)
    live_org.stop()
    result = await run_test_object(project)
    assert result["error"].startswith("unreachable: cannot reach http://127.0.0.1:"), result["error"]
    live_org.start()
    assert (await run_test_object(project))["ok"] is True


async def test_tls_org_is_trusted_through_the_ca_file_setting(tmp_path: Path, live_org_factory: Any,
                                                               logged_in_project: Any) -> None:
    org = live_org_factory(users=5, tls=True, auto_approve=True)
    assert org.url.startswith("https://")
    project = await logged_in_project(tmp_path, org)
    assert stat.S_IMODE(project.settings_path.stat().st_mode) == 0o600
    assert (await run_test_object(project))["ok"] is True
    Settings().save(project)  # no extra CA: the org's certificate is not trusted, so it is unreachable
    result = await run_test_object(project)
    assert not result["ok"] and "CERTIFICATE_VERIFY_FAILED" in result["error"]


async def test_rotated_refresh_token_from_the_org_is_saved(tmp_path: Path, live_org: Any,
                                                           logged_in_project: Any) -> None:
    live_org.org.auth.client.rotate_refresh_tokens = True
    project = await logged_in_project(tmp_path, live_org)
    before = ProvisionerConfig.load(project).properties.refresh_token
    async with SalesforceConnector.from_project(project, retry=QUICK) as conn:
        assert (await conn.test())["ok"]
        assert conn.session.stats["rotations"] == 1
    after = ProvisionerConfig.load(project).properties.refresh_token
    assert after and after != before
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600
    # the saved token works (the old one is rotated out)
    assert (await run_test_object(project))["ok"] is True


@pytest.mark.parametrize("bad", ['{"enabled": tru}', '{"configurationProperties": {"loginUrl": "nope"}}'])
def test_cli_test_exits_2_on_a_broken_file(tmp_path: Path, bad: str) -> None:
    import subprocess
    import sys

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "provisioner.openicf-salesforce.json").write_text(bad)
    result = subprocess.run([sys.executable, "-m", "tui", "-p", str(tmp_path), "test"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "provisioner.openicf-salesforce.json" in result.stderr


def sfsync_test(project: Project) -> tuple[int, dict[str, Any], str]:
    """The real ``sfsync test`` command in a process of its own: exit code, the printed test object, stderr."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "tui", "-p", str(project.root), "test"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


async def test_cli_test_exits_1_whenever_the_test_object_is_not_ok(tmp_path: Path, live_org: Any,
                                                                   logged_in_project: Any) -> None:
    """README and CONTRACT: ``sfsync test`` exits 0 only when ``ok``; a refused token, an unreachable org and a
    disabled connector each print ``ok: false`` with the reason and exit 1 (a failed test)."""
    project = await logged_in_project(tmp_path, live_org)
    good = project.provisioner_path.read_bytes()
    code, result, _ = sfsync_test(project)
    assert (code, result["ok"]) == (0, True)

    edit(project, refreshToken="5AepNOTAREALTOKEN00000000")
    code, result, _ = sfsync_test(project)
    assert result["ok"] is False and result["error"].startswith("token refused"), result
    assert code == 1

    project.provisioner_path.write_bytes(good)
    edit(project, enabled=False)
    code, result, _ = sfsync_test(project)
    assert result["ok"] is False and result["error"].startswith("connector is disabled"), result
    assert code == 1

    project.provisioner_path.write_bytes(good)
    live_org.stop()
    try:
        code, result, _ = sfsync_test(project)
    finally:
        live_org.start()
    assert result["ok"] is False and result["error"].startswith("unreachable"), result
    assert code == 1
