"""Fixtures for the connector's wire-shape tests (respx) and its behaviour tests (the local org)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Project, Settings
from core.config.provisioner import ProvisionerConfig
from core.salesforce.oauth import LoginFlow
from core.salesforce.retry import RetryPolicy

LOGIN_URL = "https://login.salesforce.com/services/oauth2/token"
INSTANCE = "https://acme.my.salesforce.com"


def make_config(**props: object) -> ProvisionerConfig:
    values: dict[str, object] = {
        "loginUrl": LOGIN_URL, "clientId": "3MVGclientid", "clientSecret": "clientsecretvalue123",
        "refreshToken": "5AepOLDREFRESHTOKEN0001", "instanceUrl": INSTANCE, "version": 62,
        "connectTimeout": 5000, "maximumConnections": 4,
    }
    values.update(props)
    return ProvisionerConfig.model_validate({
        "enabled": True,
        "connectorRef": {"connectorName": "org.forgerock.openicf.connectors.salesforce.SalesforceConnector"},
        "configurationProperties": values,
        "objectTypes": {"User": {"type": "object"}},
    })


@pytest.fixture
def config_factory():
    """``make_config(**props)``: a valid, enabled provisioner configuration pointing at a fake org."""
    return make_config


@dataclass
class SleepRecorder:
    """Stands in for asyncio.sleep so backoff can be observed without waiting; a fake clock advances."""

    waits: list[float] = field(default_factory=list)
    now: float = 0.0

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def policy(sleeps: SleepRecorder) -> RetryPolicy:
    return RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0, max_elapsed=60.0, sleep=sleeps.sleep,
                       clock=sleeps.clock)


# ---- the local org ---------------------------------------------------------------------------------
IN_PROCESS_LOGIN_URL = "http://localhost/services/oauth2/token"


@pytest.fixture
def fast_policy() -> RetryPolicy:
    """Real sleeps, but short: behaviour tests against the org must stay fast."""
    return RetryPolicy(attempts=8, base_delay=0.005, max_delay=0.05, max_elapsed=30.0)


@pytest.fixture
def org_connector(fast_policy: RetryPolicy):
    """``await org_connector(org)``: log in to an in-process org (authorize, paste, exchange) and connect."""
    import httpx

    from core.salesforce.connector import SalesforceConnector
    from core.salesforce.oauth import LoginFlow

    opened: list[SalesforceConnector] = []

    async def connect(org, **kwargs):
        config = make_config(loginUrl=IN_PROCESS_LOGIN_URL, clientId=org.client_id,
                             clientSecret=org.client_secret, refreshToken=None, instanceUrl=None,
                             version=62, maximumConnections=10)
        transport = httpx.ASGITransport(app=org.app)
        async with LoginFlow(config.properties, port=0, transport=transport) as flow:
            answer = await org.client.get(flow.authorize_url)
            assert answer.status_code in (302, 303), answer.text[:300]
            flow.complete_from_url(answer.headers["location"])
            token, _who = await flow.login(timeout=10)
        config.update_properties(refreshToken=token.refresh_token, instanceUrl=token.instance_url)
        kwargs.setdefault("retry", fast_policy)
        conn = SalesforceConnector(config, transport=transport, **kwargs)
        opened.append(conn)
        return conn

    yield connect
    # connectors are closed by the tests (async with); the ASGI transport holds no sockets


REPO_SAMPLE = Path(__file__).resolve().parents[2] / "conf" / "provisioner.openicf-salesforce.json"


@pytest.fixture
def logged_in_project():
    """``await logged_in_project(tmp_path, live_org)``: a project logged in to a live org via the real callback."""
    return _logged_in_project


async def _logged_in_project(tmp_path: Path, org: Any) -> Project:
    """A project whose provisioner file holds a real refresh token for ``org`` (via the real callback)."""
    (tmp_path / "conf").mkdir(exist_ok=True)
    project = Project(tmp_path)
    project.provisioner_path.write_bytes(REPO_SAMPLE.read_bytes())
    if org.ca_file:
        settings = Settings(ca_file=org.ca_file)
        settings.save(project)
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=org.login_url, clientId=org.client_id, clientSecret=org.client_secret)
    config.enabled = True
    async with LoginFlow(config.properties, port=0, ca_file=org.ca_file) as flow, \
            httpx.AsyncClient(follow_redirects=True, timeout=30, verify=org.verify()) as browser:
        login = asyncio.create_task(flow.login(timeout=30))
        await browser.get(flow.authorize_url)
        token, _ = await login
    config.update_properties(refreshToken=token.refresh_token, instanceUrl=token.instance_url)
    config.save(project)
    return project


