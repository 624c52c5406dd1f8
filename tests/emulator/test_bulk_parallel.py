"""The local org as a remote one: Bulk API query jobs that take time, resultPages (parallel results) as
Salesforce documents them, result URLs that expire, latency and bandwidth on every data call."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from core.emulator import bulk as org_bulk

from .helpers import V

V58 = "/services/data/v58.0"


async def _job(h, headers, query: str = "SELECT Id FROM User ORDER BY Id", base: str = V58) -> dict:
    r = await h.client.post(f"{base}/jobs/query", json={"operation": "query", "query": query}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _ids(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["Id"]
    return [r[0] for r in rows[1:]]


async def _all_urls(h, headers, job_id: str) -> list[str]:
    urls: list[str] = []
    next_url: str | None = f"{V58}/jobs/query/{job_id}/resultPages"
    answers = 0
    while next_url:
        r = await h.client.get(next_url, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        answers += 1
        assert 1 <= len(body["resultPages"]) <= 5
        urls += [p["resultUrl"] for p in body["resultPages"]]
        assert body["done"] == (body["nextRecordsUrl"] is None)
        next_url = body["nextRecordsUrl"]
    return urls


def test_a_job_takes_a_fixed_time_plus_a_time_that_grows_with_its_rows():
    timing = org_bulk.JobTiming(1.0, 50_000)
    assert timing.seconds(0) == 1.0 and timing.seconds(100_000) == 3.0
    assert org_bulk.JobTiming.instant().seconds(10**6) == 0
    with pytest.raises(ValueError, match="job_rate"):
        org_bulk.JobTiming(1.0, -1)


async def test_a_job_in_progress_answers_412_for_results_and_can_be_aborted(org_factory):
    h = org_factory(users=20, job_ms=600_000)   # ten minutes: certainly still running during this test
    headers = await h.headers()
    job = await _job(h, headers)
    assert job["state"] == "UploadComplete"
    info = (await h.client.get(f"{V58}/jobs/query/{job['id']}", headers=headers)).json()
    assert info["state"] == "InProgress" and info["numberRecordsProcessed"] == 0
    for tail in ("results", "resultPages"):
        r = await h.client.get(f"{V58}/jobs/query/{job['id']}/{tail}", headers=headers)
        assert r.status_code == 412 and r.json()[0]["errorCode"] == "JOB_NOT_COMPLETE", tail
    r = await h.client.patch(f"{V58}/jobs/query/{job['id']}", json={"state": "Aborted"}, headers=headers)
    assert r.status_code == 200 and r.json()["state"] == "Aborted"
    info = (await h.client.get(f"{V58}/jobs/query/{job['id']}", headers=headers)).json()
    assert info["state"] == "Aborted"
    r = await h.client.patch(f"{V58}/jobs/query/{job['id']}", json={"state": "Aborted"}, headers=headers)
    assert r.status_code == 400


async def test_a_job_completes_after_its_time(org_factory):
    h = org_factory(users=20, job_ms=50, job_rate=0)
    headers = await h.headers()
    job = await _job(h, headers)
    for _ in range(400):
        info = (await h.client.get(f"{V58}/jobs/query/{job['id']}", headers=headers)).json()
        if info["state"] == "JobComplete":
            break
        assert info["state"] == "InProgress"
        await asyncio.sleep(0.02)
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == len(h.org.users)


async def test_result_pages_list_five_urls_an_answer_usable_in_any_order_and_in_parallel(org_factory):
    h = org_factory(users=62_000, instant_jobs=True)   # 62,004 rows: 7 result pages of 10,000
    headers = await h.headers()
    job = await _job(h, headers)
    urls = await _all_urls(h, headers, job["id"])
    assert len(urls) == 7 and len(set(urls)) == 7
    answers = await asyncio.gather(*(h.client.get(u, headers=headers) for u in reversed(urls)))
    assert all(r.status_code == 200 for r in answers)
    chunks = [_ids(r.text) for r in reversed(answers)]
    assert [len(c) for c in chunks] == [10_000] * 6 + [2_004]
    assert all(r.headers["Sforce-Locator"] for r in answers)
    ids = [i for c in chunks for i in c]
    assert ids == sorted(h.org.users) and len(set(ids)) == len(ids)   # none lost, none twice, in order


async def test_result_pages_need_api_58_and_the_jobs_own_version(org_factory):
    h = org_factory(users=5, instant_jobs=True)
    headers = await h.headers()
    old = await _job(h, headers, base=V)   # a v62.0 job
    r = await h.client.get(f"/services/data/v57.0/jobs/query/{old['id']}/resultPages", headers=headers)
    assert r.status_code == 404   # resultPages exists from 58.0
    r = await h.client.get(f"{V58}/jobs/query/{old['id']}/resultPages", headers=headers)
    assert r.status_code == 409   # results are read with the version the job was made with
    r = await h.client.get(f"{V}/jobs/query/{old['id']}/resultPages", headers=headers)
    assert r.status_code == 200 and r.json()["done"] is True and len(r.json()["resultPages"]) == 1
    assert r.json()["resultPages"][0]["resultUrl"].startswith(f"{V}/jobs/query/{old['id']}/results?locator=")
    r = await h.client.get(f"{V}/jobs/query/{old['id']}/resultPages", params={"locator": "9"}, headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_LOCATOR"


async def test_a_result_url_expires(org_factory, monkeypatch):
    h = org_factory(users=5, instant_jobs=True, result_ttl=60)
    headers = await h.headers()
    job = await _job(h, headers)
    [url] = await _all_urls(h, headers, job["id"])
    assert (await h.client.get(url, headers=headers)).status_code == 200
    now = org_bulk._wall()
    monkeypatch.setattr(org_bulk, "_wall", lambda: now + 61)
    r = await h.client.get(url, headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_LOCATOR"
    [fresh] = await _all_urls(h, headers, job["id"])      # a new listing gives URLs that work again
    assert (await h.client.get(fresh, headers=headers)).status_code == 200
    # the sequential locators (Sforce-Locator) carry no expiry
    r = await h.client.get(f"{V58}/jobs/query/{job['id']}/results", headers=headers)
    assert r.status_code == 200


async def test_latency_and_bandwidth_apply_to_bulk_results(org_factory, monkeypatch):
    h = org_factory(users=30, instant_jobs=True, latency_ms=250, bandwidth=10_000)
    headers = await h.headers()
    job = await _job(h, headers)
    [url] = await _all_urls(h, headers, job["id"])
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(delay: float, *args):
        slept.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr("core.emulator.rest.asyncio.sleep", recorded_sleep)
    r = await h.client.get(url, headers=headers)
    assert r.status_code == 200
    assert slept == [0.25, len(r.content) / 10_000]   # the latency, then the answer's size over the bandwidth


def test_bad_remote_settings_are_refused():
    from core.emulator import Org, create_app
    org = Org.generate(users=0)
    with pytest.raises(ValueError, match="bandwidth"):
        create_app(org, bandwidth=-1)
    with pytest.raises(ValueError, match="job_ms"):
        create_app(org, job_ms=-5)
    with pytest.raises(ValueError, match="result_ttl"):
        create_app(org, result_ttl=0)
