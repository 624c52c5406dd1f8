"""Outbound over several pages sent at once (PageWriter's sending depth, the connector's shared bound on
composite calls) through 10% faults: per record, the result is its own, in order, exact, none lost or doubled."""

from __future__ import annotations

import asyncio
from collections import Counter

from core.salesforce.retry import RetryPolicy
from core.sync.service import SyncService
from tests.reliability.helpers import (
    INBOUND,
    OUTBOUND,
    accepted,
    assert_no_retryable_failure,
    assert_outbound_exact,
    audit_failures,
    managed,
)
from tests.sync.orgproject import make_project


def test_outbound_pages_sent_several_deep_through_faults_are_exact(live_org_factory, tmp_path):
    live = live_org_factory(users=5_000, seed=43, error_rate=0.1, latency_ms=20)
    project = make_project(tmp_path / "p", live.org, live.url)
    made = []

    def connector():
        from core.salesforce.connector import SalesforceConnector

        c = SalesforceConnector.from_project(project)
        c.session.retry = RetryPolicy(base_delay=0.02, max_delay=0.2)
        made.append(c)
        return c

    service = SyncService(project, connector_factory=connector)
    try:
        assert asyncio.run(service.reconcile(INBOUND))["state"] == "SUCCESS"
        asyncio.run(service.reconcile(OUTBOUND))    # the mapping's defaults settled once
        users = managed(service)
        # every managed user changed (updates over three pages), and 700 new ones (creates on the last page)
        service.repo.update_many([(u["_id"], {k: v for k, v in u.items() if not k.startswith("_")}
                                   | {"sn": f"{u['sn']} P{n}"}, None) for n, u in enumerate(users)])
        profile = accepted(live.org)[0]["ProfileId"]
        service.repo.create_many([{"userName": f"pipe.{i}@example.com", "givenName": f"P{i}", "sn": "Pipe",
                                   "mail": f"pipe.{i}@example.com", "profileId": profile} for i in range(700)])
        before = sum(c.session.stats["retries"] for c in made)
        out = asyncio.run(service.reconcile(OUTBOUND))
        assert out["state"] == "SUCCESS", out.get("failureReason")
        assert_no_retryable_failure(service, out)
        assert_outbound_exact(live.org, service)
        failed = {e["sourceObjectId"].rsplit("/", 1)[-1] for e in audit_failures(service, out)}
        # each record's own result: the Salesforce user of every managed user not failed has its new name
        links = {link.second_id: link.first_id for link in service.repo.iter_links(INBOUND)}
        now = managed(service)
        assert len(now) == len(users) + 700 > 4_000
        for user in now:
            if user["_id"] not in failed:
                assert live.org.user(links[user["_id"]])["LastName"] == user["sn"], user["userName"]
        # one audit entry per record, none doubled, numbered in order
        entries = [e for e in service.audit(out["_id"])["result"] if e.get("sourceObjectId")]
        sources = Counter(e["sourceObjectId"] for e in entries)
        assert len(sources) == len(now) and max(sources.values()) == 1
        assert out["progress"]["source"]["existing"]["processed"] == len(now)
        numbers = [int(e["_id"].rsplit("-", 1)[-1]) for e in service.audit(out["_id"])["result"]]
        assert len(set(numbers)) == len(numbers)
        assert sum(c.session.stats["retries"] for c in made) - before >= 2, "this run met no faults"
    finally:
        service.close()


def test_a_cancel_mid_outbound_leaves_every_salesforce_write_audited_and_none_unaudited(live_org_factory, tmp_path):
    import threading

    live = live_org_factory(users=7_000, seed=5, latency_ms=20)
    project = make_project(tmp_path / "p", live.org, live.url)
    service = SyncService(project)
    try:
        assert asyncio.run(service.reconcile(INBOUND))["state"] == "SUCCESS"
        asyncio.run(service.reconcile(OUTBOUND))
        users = managed(service)
        service.repo.update_many([(u["_id"], {k: v for k, v in u.items() if not k.startswith("_")}
                                   | {"sn": f"{u['sn']} C"}, None) for u in users])
        cancel = threading.Event()

        def on_progress(run):
            if run["progress"]["source"]["existing"]["processed"] > 0:
                cancel.set()     # after the first committed page; a page already sent still commits

        out = asyncio.run(service.reconcile(OUTBOUND, on_progress=on_progress, cancel=cancel))
        assert out["state"] == "CANCELED"
        processed = out["progress"]["source"]["existing"]["processed"]
        assert 0 < processed < len(users)
        entries = [e for e in service.audit(out["_id"])["result"] if e.get("sourceObjectId")]
        updated = {e["sourceObjectId"].rsplit("/", 1)[-1] for e in entries
                   if e["status"] == "SUCCESS" and e.get("action") == "UPDATE"}
        links = {link.second_id: link.first_id for link in service.repo.iter_links(INBOUND)}
        written = {u["_id"] for u in users
                   if u["_id"] in links and live.org.user(links[u["_id"]])["LastName"] == f"{u['sn']} C"}
        # whole pages: a Salesforce user has its new name exactly when its record's UPDATE is audited
        assert written == updated and len(entries) == processed and len(updated) > 1000
    finally:
        service.close()
