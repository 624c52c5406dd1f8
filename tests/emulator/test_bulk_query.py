"""Bulk API 2.0 query jobs: create, state, CSV results in chunks by locator, refusals, API calls counted."""

from __future__ import annotations

import base64
import csv
import io

from .helpers import V


async def _job(h, headers, query: str, operation: str = "query"):
    return await h.client.post(f"{V}/jobs/query", json={"operation": operation, "query": query}, headers=headers)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_a_job_reads_every_user_once_in_chunks_followed_by_locator(org_factory):
    h = org_factory(users=450, instant_jobs=True)
    headers = await h.headers()
    created = await _job(h, headers, "SELECT Id, Username, IsActive, Profile.Name FROM User ORDER BY Id")
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["state"] == "UploadComplete" and job["object"] == "User" and job["id"].startswith("750")
    assert job["contentType"] == "CSV" and job["apiVersion"] == 62.0
    info = (await h.client.get(f"{V}/jobs/query/{job['id']}", headers=headers)).json()
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 454 and info["jobType"] == "V2Query"

    rows, locators, locator = [], [], None
    while True:
        params = {"maxRecords": "200", **({"locator": locator} if locator else {})}
        r = await h.client.get(f"{V}/jobs/query/{job['id']}/results", params=params, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        chunk = _rows(r.text)
        assert chunk[0] == ["Id", "Username", "IsActive", "Profile.Name"]
        assert int(r.headers["Sforce-NumberOfRecords"]) == len(chunk) - 1
        rows += chunk[1:]
        locator = r.headers["Sforce-Locator"]
        locators.append(locator)
        if locator == "null":
            break
    assert locators == [base64.b64encode(b"200").decode().rstrip("="), "NDAw", "null"]  # MjAw: "200", as Salesforce's
    assert [r[0] for r in rows] == sorted(h.org.users) and len(rows) == 454
    admin = next(r for r in rows if r[0] == h.org.admin_id)
    assert admin[2] == "true" and admin[3] == "System Administrator"


async def test_values_round_trip_through_csv_quotes_commas_newlines_and_nulls(org_factory):
    h = org_factory(users=3, instant_jobs=True)
    headers = await h.headers()
    awkward = 'O\'Brien, "Jr."\nsecond line — Zoë'
    h.org.update_user(h.org.admin_id, {"Title": awkward, "Department": None})
    job = (await _job(h, headers, f"SELECT Id, Title, Department FROM User WHERE Id = '{h.org.admin_id}'")).json()
    r = await h.client.get(f"{V}/jobs/query/{job['id']}/results", headers=headers)
    assert _rows(r.text) == [["Id", "Title", "Department"], [h.org.admin_id, awkward, ""]]
    assert f',"{awkward.replace(chr(34), chr(34) * 2)}",\n' in r.text  # text quoted, a null an empty field


async def test_results_are_the_values_when_the_job_ran(org_factory):
    h = org_factory(users=3, instant_jobs=True)
    headers = await h.headers()
    job = (await _job(h, headers, f"SELECT Title FROM User WHERE Id = '{h.org.admin_id}'")).json()
    h.org.update_user(h.org.admin_id, {"Title": "Changed after the job"})
    r = await h.client.get(f"{V}/jobs/query/{job['id']}/results", headers=headers)
    assert "Changed after the job" not in r.text


async def test_what_bulk_api_2_refuses(org_factory):
    h = org_factory(users=3, instant_jobs=True)
    headers = await h.headers()
    for query, code in [("SELECT COUNT() FROM User", "API_ERROR"), ("SELECT Id FROM User OFFSET 5", "API_ERROR"),
                        ("SELECT Nope FROM User", "INVALID_FIELD")]:
        r = await _job(h, headers, query)
        assert r.status_code == 400 and r.json()[0]["errorCode"] == code, (query, r.text)
    r = await _job(h, headers, "SELECT Id FROM User", operation="upsert")
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALIDJOB"
    job = (await _job(h, headers, "SELECT Id FROM User")).json()
    r = await h.client.get(f"{V}/jobs/query/{job['id']}/results", params={"locator": "bm90IGEgbnVtYmVy"},
                           headers=headers)
    assert r.status_code == 400 and "invalid locator" in r.json()[0]["message"]
    r = await h.client.get(f"/services/data/v61.0/jobs/query/{job['id']}/results", headers=headers)
    assert r.status_code == 409  # results are read with the version the job was made with
    r = await h.client.get(f"/services/data/v46.0/jobs/query/{job['id']}", headers=headers)
    assert r.status_code == 404  # no Bulk API 2.0 query before 47.0
    assert (await h.client.delete(f"{V}/jobs/query/{job['id']}", headers=headers)).status_code == 204
    assert (await h.client.get(f"{V}/jobs/query/{job['id']}", headers=headers)).status_code == 404


async def test_each_bulk_call_counts_against_the_daily_api_limit(org_factory):
    h = org_factory(users=5, instant_jobs=True)
    headers = await h.headers()
    before = h.org.api_used
    job = (await _job(h, headers, "SELECT Id FROM User")).json()
    await h.client.get(f"{V}/jobs/query/{job['id']}", headers=headers)
    r = await h.client.get(f"{V}/jobs/query/{job['id']}/results", headers=headers)
    assert h.org.api_used - before == 3 and r.headers["Sforce-Limit-Info"] == f"api-usage={h.org.api_used}/{h.org.api_max}"
