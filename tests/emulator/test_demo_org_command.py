"""``sfsync demo-org`` as a user runs it: a process whose first stdout line is the JSON object."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "demo-org", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return proc, json.loads(line)


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(20)


def login(info: dict, verify=True) -> dict:
    r = httpx.post(info["loginUrl"], verify=verify, data={
        "grant_type": "password", "client_id": info["clientId"], "client_secret": info["clientSecret"],
        "username": info["username"], "password": info["password"]})
    assert r.status_code == 200, r.text
    return r.json()


def test_json_line_then_serving_then_clean_stop_with_data_kept(tmp_path):
    data = tmp_path / "org.json"
    proc, info = start("--users", "12", "--seed", "5", "--data", str(data))
    try:
        assert set(info) == {"url", "loginUrl", "clientId", "clientSecret", "username", "password"}
        assert info["url"].startswith("http://127.0.0.1:") and info["loginUrl"] == info["url"] + "/services/oauth2/token"
        token = login(info)
        assert token["instance_url"] == info["url"]
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        r = httpx.get(info["url"] + "/services/data/v62.0/query", params={"q": "SELECT Id FROM User"}, headers=auth)
        assert r.json()["totalSize"] == 16
        users = r.json()["records"]
        r = httpx.patch(info["url"] + f"/services/data/v62.0/sobjects/User/{users[5]['Id']}",
                        json={"Title": "Survives restarts"}, headers=auth)
        assert r.status_code == 204
    finally:
        assert stop(proc) == 0
    assert data.exists()
    proc, again = start("--data", str(data))
    try:
        assert again["clientSecret"] == info["clientSecret"] and again["password"] == info["password"]
        token = login(again)
        r = httpx.get(again["url"] + f"/services/data/v62.0/sobjects/User/{users[5]['Id']}",
                      headers={"Authorization": f"Bearer {token['access_token']}"})
        assert r.json()["Title"] == "Survives restarts"
    finally:
        assert stop(proc) == 0


def test_tls_prints_a_ca_file_that_clients_trust(tmp_path):
    proc, info = start("--users", "3", "--tls")
    try:
        assert info["url"].startswith("https://") and Path(info["caFile"]).exists()
        context = ssl.create_default_context(cafile=info["caFile"])
        token = login(info, verify=context)
        r = httpx.get(info["url"] + "/services/data/", verify=context)
        assert r.status_code == 200 and token["instance_url"].startswith("https://")
    finally:
        assert stop(proc) == 0
    assert not Path(info["caFile"]).exists()        # a throw-away CA goes with the process


def test_bad_arguments_exit_2_with_the_argument_named():
    r = subprocess.run([sys.executable, "-m", "tui.cli", "demo-org", "--error-rate", "1.5"], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--error-rate" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tui.cli", "demo-org", "--token-ttl", "0"], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--token-ttl" in r.stderr
