"""Stopping ``sfsync serve`` (Ctrl-C) while a client waits on a long recon: the server exits promptly and
the run it started ends CANCELED, never left ACTIVE."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from core.repo import Repository
from tests.api.conftest import log_in_to

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}


def test_ctrl_c_with_a_recon_in_flight_cancels_it_and_exits(sample_project, live_org_factory):
    org = live_org_factory(users=5000, latency_ms=1000)  # three query pages, a second each
    project = log_in_to(sample_project, org.org, org.url)
    proc = subprocess.Popen([sys.executable, "-m", "tui", "-p", str(project.root), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        url = line.split("at ", 1)[1].split("/openidm/", 1)[0]
        answers: list[httpx.Response | Exception] = []

        def wait_for_recon() -> None:
            try:
                answers.append(httpx.post(f"{url}/openidm/recon", headers=ADMIN, timeout=60, params={
                    "_action": "recon", "mapping": "systemSalesforceUser_managedUser", "waitForCompletion": "true"}))
            except Exception as exc:  # noqa: BLE001 - the server going away mid-request is expected
                answers.append(exc)

        client = threading.Thread(target=wait_for_recon)
        client.start()
        with Repository.for_project(project) as repo:
            deadline = time.monotonic() + 20
            while not repo.runs.list() and time.monotonic() < deadline:
                time.sleep(0.05)
            runs = repo.runs.list()
            assert runs and runs[0]["state"] == "ACTIVE"
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
            client.join(30)
            assert repo.runs.get(runs[0]["_id"])["state"] == "CANCELED"
        # the waiting client got the run's end as its answer, before the server closed
        assert isinstance(answers[0], httpx.Response), answers
        assert answers[0].json() == {"_id": runs[0]["_id"], "state": "CANCELED"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
