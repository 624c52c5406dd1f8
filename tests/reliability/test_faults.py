"""Faults of the org, over real sockets (the local org on a loopback port, its fault switches): the run
survives what a retry can fix, with an exact end state, and fails with a clear reason when the org is gone."""

from __future__ import annotations

import asyncio
import threading

from core.salesforce.retry import RetryPolicy
from core.sync.service import SyncService
from tests.reliability.helpers import (
    INBOUND,
    OUTBOUND,
    accepted,
    assert_failures_are_the_invalid_users,
    assert_inbound_exact,
    assert_no_retryable_failure,
    assert_outbound_exact,
    audit_failures,
    managed,
)
from tests.sync.orgproject import make_project


def settings_of(live):
    """The org's fault switches, changed while it serves (``core.emulator.state.Settings``)."""
    return live.server.app.state.emulator.settings


def service_for(live, tmp_path, name="p", retry: RetryPolicy | None = None, ahead: int | None = None) -> SyncService:
    """A service on ``live``; ``service.connectors`` keeps each connector it made (their ``session.stats``).
    ``ahead``: query pages fetched ahead (1 keeps a run's calls spread over its time, for tests that must
    catch it between pages; the connector's default fetches several at once)."""
    from core.salesforce.connector import SalesforceConnector

    project = make_project(tmp_path / name, live.org, live.url)
    made: list[SalesforceConnector] = []

    def connector() -> SalesforceConnector:
        c = SalesforceConnector.from_project(project)
        if retry is not None:
            c.session.retry = retry
        if ahead is not None:
            c.prefetch_pages = ahead
        made.append(c)
        return c

    service = SyncService(project, connector_factory=connector)
    service.connectors = made
    return service


def test_access_tokens_expiring_every_second_during_a_10000_user_recon(live_org_factory, tmp_path):
    # 400 ms a call spreads the run's calls over several seconds, whatever the engine's speed, so tokens do
    # expire between them
    live = live_org_factory(users=10_000, seed=11, token_ttl=1, latency_ms=400)
    service = service_for(live, tmp_path, ahead=1)
    try:
        run = asyncio.run(service.reconcile(INBOUND))
        assert run["state"] == "SUCCESS", run.get("failureReason")
        assert_inbound_exact(live.org, service)
        assert_failures_are_the_invalid_users(live.org, service, run)
        # the run outlived several tokens and really refreshed mid-run
        stats = service.connectors[0].session.stats
        assert stats["refreshes"] >= 2, stats
    finally:
        service.close()


def test_five_percent_of_calls_failing_with_503_or_request_limit(live_org_factory, tmp_path):
    # seed 43: the org's fault dice fall early (calls 3, 4, 31, 37), during the recons and the implicit syncs
    live = live_org_factory(users=4_000, seed=43, error_rate=0.05)
    # the default tries, with short waits: this test is about surviving faults, not about waiting
    service = service_for(live, tmp_path, retry=RetryPolicy(base_delay=0.02, max_delay=0.2))
    try:
        run = asyncio.run(service.reconcile(INBOUND))
        assert run["state"] == "SUCCESS", run.get("failureReason")
        assert_inbound_exact(live.org, service)
        assert_failures_are_the_invalid_users(live.org, service, run)
        # outbound through the same faults: new managed users created in Salesforce, batched, none lost
        profile = accepted(live.org)[0]["ProfileId"]
        service.repo.create_many([{"userName": f"fault.{i}@example.com", "givenName": f"F{i}", "sn": "Fault",
                                   "mail": f"fault.{i}@example.com", "profileId": profile} for i in range(600)])
        out = asyncio.run(service.reconcile(OUTBOUND))
        assert out["state"] == "SUCCESS", out.get("failureReason")
        assert_no_retryable_failure(service, out)
        # the only failures are Salesforce's refusals a retry cannot fix: the sample maps userName to
        # CommunityNickname (40 characters at most) and the org has users with longer names
        too_long = {u["_id"] for u in managed(service) if len(u["userName"]) > 40}
        failed = {e["sourceObjectId"].rsplit("/", 1)[-1] for e in audit_failures(service, out)}
        assert failed == too_long
        assert all("STRING_TOO_LONG" in e["message"] for e in audit_failures(service, out))
        assert_outbound_exact(live.org, service)
        # implicit sync, one user at a time: many small calls, each may meet a fault
        edited = [u for u in managed(service) if u["userName"].startswith("fault.")][:15]

        async def edit_all():
            for user in edited:
                body = {k: v for k, v in user.items() if not k.startswith("_")} | {"sn": "Edited"}
                _, results = await service.update_user(user["_id"], body, rev=user["_rev"])
                assert all(r.result == "SUCCESSFUL" for r in results.values()), results

        asyncio.run(edit_all())
        assert all(live.org.user_by_username(u["userName"])["LastName"] == "Edited" for u in edited)
        retries = sum(c.session.stats["retries"] for c in service.connectors)
        assert retries >= 2, f"only {retries} faults met: the test did not exercise what it claims"
    finally:
        service.close()


def test_150_ms_latency(live_org_factory, tmp_path):
    live = live_org_factory(users=2_500, seed=13, latency_ms=150)
    service = service_for(live, tmp_path)
    try:
        run = asyncio.run(service.reconcile(INBOUND))
        assert run["state"] == "SUCCESS", run.get("failureReason")
        assert_inbound_exact(live.org, service)
        assert_failures_are_the_invalid_users(live.org, service, run)
    finally:
        service.close()


class LowestJitter:
    """An rng for :class:`RetryPolicy` that always draws the shortest wait: the worst case for riding out an
    outage (the product's default budget must survive it whatever the jitter draws)."""

    def uniform(self, low: float, high: float) -> float:
        return low


def test_org_away_for_10_seconds_mid_run_then_back(live_org_factory, tmp_path):
    # 150 ms a call so the outage lands mid-run; the org comes back on the same port with the same state
    live = live_org_factory(users=6_000, seed=14, latency_ms=150)
    service = service_for(live, tmp_path, retry=RetryPolicy(rng=LowestJitter()), ahead=1)
    outage: list[threading.Thread] = []

    def on_progress(run):
        if not outage and run["progress"]["source"]["existing"]["processed"] >= 2000:
            outage.append(live.outage(10))

    try:
        run = asyncio.run(service.reconcile(INBOUND, on_progress=on_progress))
        assert outage, "the outage never started"
        outage[0].join()
        assert run["state"] == "SUCCESS", run.get("failureReason")
        # it rode the outage out by retrying, not by missing it
        assert service.connectors[0].session.stats["retries"] > 0, service.connectors[0].session.stats
        assert_inbound_exact(live.org, service)
        assert_failures_are_the_invalid_users(live.org, service, run)
    finally:
        service.close()


def test_org_gone_for_good_fails_the_run_with_a_clear_reason_and_nothing_half_written(live_org_factory, tmp_path):
    live = live_org_factory(users=6_000, seed=15, latency_ms=100)
    # a short retry budget so the test is fast; the product's default gives up after minutes, not never
    service = service_for(live, tmp_path, retry=RetryPolicy(attempts=4, base_delay=0.1, max_delay=0.5,
                                                            max_elapsed=5), ahead=1)
    gone: list[bool] = []

    def on_progress(run):
        if not gone and run["progress"]["source"]["existing"]["processed"] >= 2000:
            gone.append(True)
            live.stop()

    try:
        run = asyncio.run(service.reconcile(INBOUND, on_progress=on_progress))
        assert gone
        assert run["state"] == "FAILED"
        reason = run.get("failureReason") or ""
        assert live.url.split("//")[1] in reason or "connect" in reason.lower(), reason
        stored = service.run(run["_id"])
        assert stored["state"] == "FAILED" and stored["ended"]
        # whole pages only: every managed user that exists is linked, and is one of the org's
        users = managed(service)
        links = {link.second_id: link.first_id for link in service.repo.iter_links(INBOUND)}
        assert 0 < len(users) < len(accepted(live.org))
        assert set(links) == {u["_id"] for u in users}
        for user in users:
            assert live.org.user(links[user["_id"]])["Username"] == user["userName"]
        assert service.repo.runs.holder(INBOUND) is None  # the lock is released: the next run may start
    finally:
        service.close()
