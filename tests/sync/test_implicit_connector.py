"""Implicit sync keeps one connector (and its access token) per service, whatever loop or thread a change
comes from (the TUI: a worker thread's ``asyncio.run`` per edit; REST: its server's loop), saves a rotated
refresh token, picks up a new login, and closes it with the service. Against the local org on a loopback
socket, through the project's provisioner file."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import Any

import pytest

from core.config.provisioner import ProvisionerConfig
from core.sync.implicit import SUCCESSFUL
from core.sync.service import SyncService
from tests.sync.orgproject import make_project

INBOUND = "systemSalesforceUser_managedUser"
OUTBOUND = "managedUser_systemSalesforceUser"


@pytest.fixture
def linked(live_org_factory, tmp_path):
    """A service over a reconciled project, and users linked to Salesforce users that can be pushed."""
    live = live_org_factory(users=30, seed=41)
    service = SyncService(make_project(tmp_path / "p", live.org, live.url))
    asyncio.run(service.reconcile(INBOUND))
    links = [link for link in service.repo.iter_links(INBOUND)
             if link.first_id != live.org.admin_id and len(live.org.user(link.first_id)["Username"]) <= 40]
    yield live, service, links
    service.close()


def edit(service: SyncService, user_id: str, last_name: str) -> dict[str, Any]:
    """One TUI-style edit: a fresh event loop, as a worker thread's ``asyncio.run`` gives."""
    body = {k: v for k, v in service.repo.read(user_id).items() if not k.startswith("_")} | {"sn": last_name}
    _, results = asyncio.run(service.update_user(user_id, body))
    return results


def test_edits_from_many_loops_share_one_connector_and_one_token(linked):
    live, service, links = linked
    times = []
    for n, link in enumerate(links[:6]):
        started = time.perf_counter()
        results = edit(service, link.second_id, f"Pushed{n}")
        times.append(time.perf_counter() - started)
        assert results[OUTBOUND].result == SUCCESSFUL, results[OUTBOUND]
        assert live.org.user(link.first_id)["LastName"] == f"Pushed{n}"
    shared = service.implicit_connector
    assert shared.built == 1
    assert shared.current.session.stats["refreshes"] == 1  # one token for every edit
    print(f"\nupdate_user: first {times[0] * 1000:.0f} ms, median of the rest "
          f"{statistics.median(times[1:]) * 1000:.0f} ms")


def test_concurrent_edits_from_threads_build_one_connector(linked):
    live, service, links = linked
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            results = edit(service, links[n].second_id, f"Threaded{n}")
            assert results[OUTBOUND].result == SUCCESSFUL, results[OUTBOUND]
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert [live.org.user(link.first_id)["LastName"] for link in links[:4]] == [f"Threaded{n}" for n in range(4)]
    assert service.implicit_connector.built == 1


def test_a_rotated_refresh_token_is_saved_and_keeps_the_connector(linked):
    live, service, links = linked
    live.org.auth.client.rotate_refresh_tokens = True
    live.org.auth.expire_all_access_tokens()
    before = ProvisionerConfig.load(service.project).properties.refresh_token
    edit(service, links[0].second_id, "Rotated0")
    shared = service.implicit_connector
    session = shared.current.session
    saved = ProvisionerConfig.load(service.project).properties.refresh_token
    assert session.stats["rotations"] == 1 and saved != before
    assert saved == session.token.refresh_token
    live.org.auth.expire_all_access_tokens()  # the next edit refreshes with the saved, rotated token
    results = edit(service, links[1].second_id, "Rotated1")
    assert results[OUTBOUND].result == SUCCESSFUL, results[OUTBOUND]
    assert shared.built == 1  # our own saved rotation is not a new login
    assert live.org.user(links[1].first_id)["LastName"] == "Rotated1"
    assert ProvisionerConfig.load(service.project).properties.refresh_token == session.token.refresh_token


def test_a_new_login_in_the_provisioner_file_builds_a_new_connector(linked):
    live, service, links = linked
    edit(service, links[0].second_id, "OldLogin")
    shared = service.implicit_connector
    old = shared.current
    org = live.org
    _, refresh = org.auth.issue(org.auth.client, org.admin_id, "api refresh_token id", 7200, with_refresh=True)
    config = ProvisionerConfig.load(service.project)
    config.update_properties(refreshToken=refresh)
    config.save(service.project)
    results = edit(service, links[1].second_id, "NewLogin")
    assert results[OUTBOUND].result == SUCCESSFUL, results[OUTBOUND]
    assert shared.built == 2 and shared.current is not old
    assert shared.current.config.properties.refresh_token == refresh
    assert old.session.client.is_closed  # the old login's client is closed, not leaked


def test_closing_the_service_closes_the_connector_and_its_loop(live_org_factory, tmp_path):
    live = live_org_factory(users=10, seed=42)
    service = SyncService(make_project(tmp_path / "p", live.org, live.url))
    asyncio.run(service.reconcile(INBOUND))
    link = next(iter(service.repo.iter_links(INBOUND)))
    edit(service, link.second_id, "BeforeClose")
    shared = service.implicit_connector
    connector = shared.current
    assert shared.running
    service.close()
    assert connector.session.client.is_closed
    assert not shared.running and shared.current is None


def test_the_tls_context_is_built_once_per_ca_file_and_again_when_it_changes(tmp_path):
    from core.emulator.tls import make_certificates
    from core.salesforce.http import shared_ssl_context

    assert shared_ssl_context(None) is shared_ssl_context(None)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(make_certificates(tmp_path / "one").ca_file.read_bytes())
    first = shared_ssl_context(str(ca_file))
    assert shared_ssl_context(str(ca_file)) is first and first is not shared_ssl_context(None)
    # another CA: a new file on disk
    ca_file.write_bytes(make_certificates(tmp_path / "two").ca_file.read_bytes() + b"\n")
    assert shared_ssl_context(str(ca_file)) is not first
