"""The org over real sockets: the live_org fixture, stop/start on the same port, TLS."""

from __future__ import annotations

import httpx
import pytest

from .helpers import V


def test_live_org_serves_the_api_and_survives_a_restart(live_org):
    token = live_org.token()
    headers = {"Authorization": f"Bearer {token}"}
    url = live_org.url
    r = httpx.get(f"{url}{V}/query", params={"q": "SELECT Id FROM User"}, headers=headers)
    assert r.status_code == 200 and r.json()["totalSize"] == len(live_org.org.users)
    live_org.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}{V}/limits", headers=headers)
    live_org.start()
    assert live_org.url == url
    assert httpx.get(f"{url}{V}/limits", headers=headers).status_code == 200   # same org, same tokens


def test_outage_brings_the_org_back_after_the_delay(live_org):
    headers = {"Authorization": f"Bearer {live_org.token()}"}
    timer = live_org.outage(1.0)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{live_org.url}{V}/limits", headers=headers)
    timer.join(5)
    assert httpx.get(f"{live_org.url}{V}/limits", headers=headers).status_code == 200


def test_tls_org_is_trusted_with_its_ca_file_only(live_org_factory):
    org = live_org_factory(users=5, tls=True)
    assert org.url.startswith("https://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{org.url}/services/data/")
    r = httpx.get(f"{org.url}/services/data/", verify=org.verify())
    assert r.status_code == 200 and r.json()[0]["version"] == "31.0"
    r = httpx.get(f"https://localhost:{org.server.port}/services/data/", verify=org.verify())
    assert r.status_code == 200
