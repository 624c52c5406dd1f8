"""Request limits (core/api/limits.py), each in IDM's error shape: body size (413), expensive queries per client
(429 with Retry-After)."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from core.api import create_app
from core.api.backend import ApiBackend
from core.api.limits import TokenBuckets, is_expensive
from tests.api.conftest import ADMIN


@pytest.fixture
async def limited(managed_project, asgi_client):
    def make(**settings):
        if settings:
            managed_project.settings_path.write_text("".join(f"{k} = {v!r}\n" for k, v in settings.items()))
        backend = ApiBackend(managed_project)
        return backend, asgi_client(create_app(managed_project, services=backend), headers=ADMIN)
    return make


async def test_a_body_over_the_limit_is_a_413_in_idm_shape(limited):
    backend, client = limited(max_request_body=1000)
    async with client:
        big = {"userName": "big", "givenName": "B", "sn": "B", "mail": "b@example.com", "description": "x" * 2000}
        response = await client.post("/openidm/managed/user?_action=create", json=big)
        assert response.status_code == 413
        assert set(response.json()) == {"code", "reason", "message"}
        assert response.json()["code"] == 413 and response.json()["reason"] == HTTPStatus(413).phrase
        assert "max_request_body" in response.json()["message"]

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(5):
                yield b" " * 400
        streamed = await client.post("/openidm/managed/user?_action=create", content=chunks(),
                                     headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413 and streamed.json()["code"] == 413
        small = await client.post("/openidm/managed/user?_action=create", json={**big, "description": "fits"})
        assert small.status_code == 201
        assert (await client.get("/openidm/managed/user", params={"_queryFilter": "userName eq \"big\""})
                ).json()["resultCount"] == 1  # the refused ones were not created
    await backend.aclose()
    backend.sync.close()


async def test_expensive_queries_beyond_the_burst_are_429_with_retry_after_per_client(limited, asgi_client):
    backend, client = limited(expensive_query_burst=3, expensive_query_rate=0.01)
    async with client:
        counted = {"_queryFilter": "true", "_totalPagedResultsPolicy": "EXACT"}
        answers = [await client.get("/openidm/managed/user", params=counted) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.json()["code"] == 429 and refused.json()["reason"] == "Too Many Requests"
        assert int(refused.headers["Retry-After"]) >= 1
        unindexed = await client.get("/openidm/audit/recon", params={"_queryFilter": "true", "_sortKeys": "message"})
        assert unindexed.status_code == 429
        cheap = await client.get("/openidm/managed/user", params={"_queryFilter": "true", "_sortKeys": "-sn",
                                                                 "_pageSize": "10"})
        assert cheap.status_code == 200  # sn is searchable (indexed): not expensive
        other = asgi_client(client._transport.app, headers=ADMIN, client_host="127.0.0.2")
        async with other:
            assert (await other.get("/openidm/managed/user", params=counted)).status_code == 200
    await backend.aclose()
    backend.sync.close()


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    buckets = TokenBuckets(2, 0.5, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(2.0)
    now[0] += 2.0
    assert buckets.take("a") == 0


def test_what_counts_as_expensive():
    from starlette.datastructures import QueryParams

    indexed = ("userName", "sn")
    assert is_expensive(QueryParams("_totalPagedResultsPolicy=exact"), indexed)
    assert is_expensive(QueryParams("_sortKeys=userName,-/address/city"), indexed)
    assert not is_expensive(QueryParams("_sortKeys=-userName,_id&_totalPagedResultsPolicy=NONE"), indexed)
