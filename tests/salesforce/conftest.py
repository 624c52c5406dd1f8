"""Fixtures for the connector's wire-shape tests (respx) and its behaviour tests (the local org)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from core.config.provisioner import ProvisionerConfig
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
