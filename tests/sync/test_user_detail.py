"""``SyncService.user_detail``: a managed user beside its linked Salesforce record, the link and the compared
fields derived from sync.json (not a link type written into the front end)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.sync import SyncConfig, UserDetail
from core.sync.user_detail import copied_pairs, remote_link
from tests.sync.orgproject import REPO_ROOT, in_process_service, make_project

INBOUND = "systemSalesforceUser_managedUser"


@pytest.fixture
def setup(org_factory, tmp_path):
    services = []

    async def make(sync_json: Path | None = None, inbound: str = INBOUND):
        handle = org_factory(users=8, seed=19)
        project = make_project(tmp_path / f"p{len(services)}", handle.org, "http://localhost", sync_json=sync_json)
        service = in_process_service(project, handle.app)
        services.append(service)
        run = await service.reconcile(inbound)
        assert run["state"] == "SUCCESS", run
        return handle.org, service

    yield make
    for s in services:
        s.close()


def renamed_sync_json(tmp_path: Path) -> Path:
    """The sample's mappings under other names (the outbound one's ``links`` follows the inbound's)."""
    text = (REPO_ROOT / "conf" / "sync.json").read_text(encoding="utf-8")
    text = text.replace("managedUser_systemSalesforceUser", "toSalesforce").replace(INBOUND, "fromSalesforce")
    path = tmp_path / "renamed-sync.json"
    path.write_text(text, encoding="utf-8")
    return path


def managed_ids(service) -> list[str]:
    from core.repo import QueryRequest

    return [u["_id"] for u in service.repo.query(QueryRequest(query_filter="true", fields=("_id",)))["result"]]


def test_pairs_and_link_come_from_sync_json():
    config = SyncConfig.from_data(json.loads((REPO_ROOT / "conf" / "sync.json").read_text()),
                                  path=REPO_ROOT / "conf" / "sync.json")
    pairs = copied_pairs(config, "managed/user")
    assert ("givenName", "FirstName") in pairs and ("mail", "Email") in pairs
    assert ("givenName", "Alias") not in pairs  # through a transform: not a verbatim copy
    link = remote_link(config, "managed/user")
    assert link is not None and (link.link_type, link.remote, link.sobject) == (INBOUND, "system/salesforce/User",
                                                                               "User")
    assert remote_link(config, "managed/role") is None


async def test_a_linked_user_is_shown_beside_its_salesforce_record(setup):
    org, service = await setup()
    link = service.remote_link()
    ids = managed_ids(service)
    linked = link.remote_ids(service.repo, ids)
    user_id = sorted(linked)[0]

    detail = await service.user_detail(user_id)
    assert isinstance(detail, UserDetail)
    assert (detail.linked, detail.link_type, detail.remote_id, detail.remote_error) == (True, INBOUND,
                                                                                       linked[user_id], None)
    assert detail.remote is not None and detail.remote["FirstName"] == org.user(linked[user_id])["FirstName"]
    before = detail.differences()
    assert ("givenName", "FirstName") not in before and ("mail", "Email") not in before

    user = service.repo.read(user_id)  # a change the org has not seen (no implicit sync: written directly)
    service.repo.update(user_id, {**user, "givenName": "Changed-Here"}, user["_rev"])
    detail = await service.user_detail(user_id)
    assert set(detail.differences()) == {*before, ("givenName", "FirstName")}


async def test_the_link_type_follows_the_mappings_names(setup, tmp_path):
    _, service = await setup(renamed_sync_json(tmp_path), inbound="fromSalesforce")
    ids = managed_ids(service)
    user_id = sorted(service.remote_link().remote_ids(service.repo, ids))[0]
    detail = await service.user_detail(user_id)
    assert detail.link_type == "fromSalesforce" and detail.remote is not None


async def test_an_unlinked_user_and_a_failed_read(setup):
    _, service = await setup()
    created = service.repo.create({"userName": "solo@example.com", "givenName": "So", "sn": "Lo",
                                   "mail": "solo@example.com"})
    detail = await service.user_detail(created["_id"])
    assert (detail.linked, detail.remote, detail.remote_error) == (False, None, None)
    assert detail.user["userName"] == "solo@example.com" and detail.pairs

    service.repo.link(INBOUND, "005000000000000AAA", created["_id"])  # a Salesforce record that is not there
    detail = await service.user_detail(created["_id"])
    assert (detail.linked, detail.remote, detail.remote_error) == (True, None, None)


async def test_a_failed_read_is_kept_and_the_managed_side_still_shown(tmp_path):
    """Not logged in: reading the Salesforce record fails; the error is kept, not raised."""
    import shutil

    from core.config.project import Project
    from core.salesforce import AuthError
    from core.sync import SyncService

    (tmp_path / "conf").mkdir()
    for name in ("managed.json", "provisioner.openicf-salesforce.json", "sync.json"):
        shutil.copy(REPO_ROOT / "conf" / name, tmp_path / "conf" / name)
    service = SyncService(Project(tmp_path))
    try:
        created = service.repo.create({"userName": "solo@example.com", "givenName": "So", "sn": "Lo",
                                       "mail": "solo@example.com"})
        service.repo.link(INBOUND, "005000000000001AAA", created["_id"])
        detail = await service.user_detail(created["_id"])
        assert detail.linked and detail.remote is None and isinstance(detail.remote_error, AuthError)
        assert detail.user["userName"] == "solo@example.com"
    finally:
        service.close()
