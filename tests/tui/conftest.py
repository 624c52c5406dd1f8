"""Fixtures for the app's tests: a throw-away project folder, a quiet app, no real browser or clipboard."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Input

from core.config.project import Project

REPO = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "warm_up: keep the app's background build of the other screens")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A copy of the sample project (conf/ only; db/ is created on first use)."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return Project(tmp_path)


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes screenshots differ run to run."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


@pytest.fixture(autouse=True)
def no_background_screen_build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the other screens after start-up is for people (test_app_shell covers it); tests skip it."""
    if "warm_up" not in request.keywords:
        monkeypatch.setattr("tui.app.WARM_UP_AFTER", 3600.0)


@pytest.fixture(autouse=True)
def no_browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Tests must never launch a browser; the URLs the app tried to open are recorded instead."""
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    return opened


NAMES = [("Zoë", "Ñúñez"), ("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Edsger", "Dijkstra")]


@pytest.fixture
def seed_users():
    """Put ``n`` deterministic managed users into a project's repository (every 5th has the same name)."""

    def seed(project: Project, n: int) -> None:
        from core.repo import Repository

        project.db_dir.mkdir(parents=True, exist_ok=True)
        repo = Repository.for_project(project)
        objs = []
        for i in range(n):
            given, sn = NAMES[i % len(NAMES)]
            objs.append({"userName": f"{given.lower()}.{i:05d}@example.com", "givenName": given, "sn": sn,
                         "mail": f"{given.lower()}.{i:05d}@example.com", "accountStatus": "active"})
        with repo.transaction():
            repo.create_many(objs)
        repo.close()

    return seed


#: a run object mid-way through the source phase, in IDM's recon status shape
SAMPLE_RUN = {
    "_id": "0f2b6c1e-run", "mapping": "systemSalesforceUser_managedUser", "state": "ACTIVE",
    "stage": "ACTIVE_RECONCILING_SOURCE", "stageDescription": "reconciling source entries",
    "progress": {"source": {"existing": {"processed": 500, "total": "1000"}},
                 "target": {"existing": {"processed": 0, "total": "?"}, "created": 480},
                 "links": {"existing": {"processed": 0, "total": "?"}, "created": 480}},
    "situationSummary": {"ABSENT": 480, "CONFIRMED": 20, "FOUND_ALREADY_LINKED": 0},
    "statusSummary": {"SUCCESS": 499, "FAILURE": 1}, "started": "2026-11-27T21:00:00Z", "ended": "",
    "duration": 2000,
}


@pytest.fixture
def sample_run() -> dict:
    import copy

    return copy.deepcopy(SAMPLE_RUN)


@pytest.fixture
def org_options() -> dict:
    """Override in a test module to size or slow the org (``users``, ``latency_ms``)."""
    return {"users": 60}


@pytest.fixture
def demo(tmp_path: Path, org_options: dict):
    """A live local org on a free loopback port and a demo project pointed at it."""
    from tui.commands.demo import prepare_project, start_org

    org = start_org(seed=7, **org_options)
    try:
        project = prepare_project(tmp_path / "demo", org)
        yield project, org
    finally:
        org.stop()


@pytest.fixture
def logged_in(demo):
    """The demo project as after a login: a refresh token the org itself issued for its admin user.

    (The login screen's own flow is tested in test_demo_flows; this keeps the other flows independent of it.)
    """
    from pydantic import SecretStr

    from core.config.provisioner import ProvisionerConfig

    project, org = demo
    _, refresh = org.org.auth.issue(org.org.auth.client, org.org.admin_id, "api refresh_token", 3600,
                                    with_refresh=True)
    config = ProvisionerConfig.load(project)
    config.update_properties(refreshToken=SecretStr(refresh), instanceUrl=org.url)
    config.save(project)
    return project, org
