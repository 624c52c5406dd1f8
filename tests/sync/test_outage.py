"""An outage pauses the run while the connector retries; when it lasts, the run fails with its reason,
having committed what it did (a rerun then converges)."""

from __future__ import annotations

import asyncio

from core.config.provisioner import ProvisionerConfig
from core.salesforce.connector import SalesforceConnector
from core.salesforce.retry import RetryPolicy
from core.sync.service import SyncService
from tests.sync.orgproject import make_project

INBOUND = "systemSalesforceUser_managedUser"


def service_with(project, retry: RetryPolicy, ahead: int | None = None) -> SyncService:
    """``ahead``: query pages fetched ahead (1: the run's calls stay spread over its time, so an outage started
    after its first page lands between calls; the connector's default fetches several at once)."""
    def connector() -> SalesforceConnector:
        made = SalesforceConnector(ProvisionerConfig.load(project), retry=retry)
        if ahead is not None:
            made.prefetch_pages = ahead
        return made

    return SyncService(project, connector_factory=connector)


def test_a_short_outage_is_ridden_out(live_org_factory, tmp_path):
    live = live_org_factory(users=4500, seed=5, latency_ms=100)
    project = make_project(tmp_path / "p", live.org, live.url)
    service = service_with(project, RetryPolicy(attempts=8, base_delay=0.2, max_delay=1.0, max_elapsed=30))
    outage = []

    def progress(run):
        if not outage and run["progress"]["source"]["existing"]["processed"] >= 2000:
            outage.append(live.outage(1.0))  # the org goes away for a second between pages

    try:
        run = asyncio.run(service.reconcile(INBOUND, on_progress=progress))
        assert outage, "the outage never happened"
        assert run["state"] == "SUCCESS", run.get("failureReason")
        assert run["progress"]["source"]["existing"]["processed"] == 4504
    finally:
        for t in outage:
            t.join()
        service.close()


def test_a_lasting_outage_fails_the_run_with_its_reason(live_org_factory, tmp_path):
    live = live_org_factory(users=10000, seed=6, latency_ms=150)  # 5 pages: the outage comes mid-run
    project = make_project(tmp_path / "p", live.org, live.url)
    service = service_with(project, RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1, max_elapsed=2), ahead=1)

    def progress(run):
        if run["progress"]["source"]["existing"]["processed"] >= 2000 and live.server.running:
            live.stop()

    try:
        run = asyncio.run(service.reconcile(INBOUND, on_progress=progress))
        assert run["state"] == "FAILED" and run["stage"] == "COMPLETED_FAILED"
        assert run["failureReason"], run
        committed = service.repo.count()
        assert committed >= 1990  # the first page stays committed, with its links
        assert len(list(service.repo.iter_links(INBOUND))) == committed
        live.start()
        again = asyncio.run(service.reconcile(INBOUND))
        assert again["state"] == "SUCCESS"
        assert again["situationSummary"]["CONFIRMED"] == committed
    finally:
        service.close()
