"""The connection limits of ``sfsync serve`` (core/api/protocol.py), against a real server on loopback, spoken to
with a raw socket: the request head's size and field count (431, 414 for the target), and the slow-client
timeouts (408, then the connection is closed). The tests bound their own waits generously and assert no
duration: only that the server answered as documented and closed the connection."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from http import HTTPStatus

import pytest

from tests.api.conftest import ADMIN, ROOT, user_account_mapping

WAIT = 60  # seconds a test waits for the server's answer or close at most (the server's figures are 1 s)
AUTH = "".join(f"{k}: {v}\r\n" for k, v in ADMIN.items())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    project = tmp / "project"
    (project / "conf").mkdir(parents=True)
    shutil.copy(ROOT / "conf" / "managed.json", project / "conf" / "managed.json")
    (project / "conf" / "sync.json").write_text(json.dumps({"mappings": [user_account_mapping()]}))
    (project / "conf" / "sfsync.toml").write_text(
        "max_header_bytes = 4096\nmax_header_count = 20\nrequest_header_timeout = 1.0\nrequest_body_timeout = 1.0\n")
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "tui", "-p", str(project), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True, cwd=tmp,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert "serving" in line, (tmp / "server.log").read_text()
        port = int(line.split("at ", 1)[1].split("/openidm/", 1)[0].rsplit(":", 1)[1])
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a socket timeout fails the test)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def _status_and_body(data: bytes) -> tuple[int, dict]:
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_a_request_within_the_limits_is_answered(server):
    with _connect(server) as sock:
        sock.sendall(f"GET /openidm/managed/user?_queryFilter=true HTTP/1.1\r\nHost: x\r\n{AUTH}"
                     f"X-Padding: {'p' * 2000}\r\nConnection: close\r\n\r\n".encode())
        status, body = _status_and_body(_read_until_closed(sock))
    assert status == 200 and "result" in body


def test_header_fields_over_max_header_bytes_are_a_431_in_idm_shape_and_the_connection_closes(server):
    with _connect(server) as sock:
        sock.sendall(f"GET /openidm/managed/user?_queryFilter=true HTTP/1.1\r\nHost: x\r\n{AUTH}"
                     f"X-Padding: {'p' * 5000}\r\n\r\n".encode())
        status, body = _status_and_body(_read_until_closed(sock))
    assert status == 431
    assert body["code"] == 431 and body["reason"] == "Request Header Fields Too Large"
    assert "max_header_bytes" in body["message"]


def test_more_header_fields_than_max_header_count_are_a_431(server):
    many = "".join(f"X-Field-{i}: {i}\r\n" for i in range(25))
    with _connect(server) as sock:
        sock.sendall(f"GET /openapi.json HTTP/1.1\r\nHost: x\r\n{AUTH}{many}\r\n".encode())
        status, body = _status_and_body(_read_until_closed(sock))
    assert status == 431 and body["code"] == 431 and "max_header_count" in body["message"]


def test_a_request_target_over_max_header_bytes_is_a_414(server):
    with _connect(server) as sock:
        sock.sendall(f"GET /openidm/managed/user?_queryFilter={'a' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, body = _status_and_body(_read_until_closed(sock))
    assert status == 414 and body["code"] == 414 and body["reason"] == HTTPStatus(414).phrase


def test_an_idle_connection_is_closed_with_a_408(server):
    with _connect(server) as sock:
        status, body = _status_and_body(_read_until_closed(sock))  # sends nothing at all
    assert status == 408 and body["reason"] == "Request Timeout" and "request_header_timeout" in body["message"]


def test_headers_sent_in_part_then_nothing_get_a_408_and_the_connection_closes(server):
    with _connect(server) as sock:
        sock.sendall(f"GET /openapi.json HTTP/1.1\r\nHost: x\r\n{AUTH}".encode())  # no blank line: unfinished
        status, body = _status_and_body(_read_until_closed(sock))
    assert status == 408 and body["code"] == 408


def test_headers_trickled_a_byte_at_a_time_are_cut_off(server):
    """Each byte arrives well within the timeout, but the headers never end in time: the timer is not reset by
    data (a slowloris client cannot hold the connection)."""
    request = f"GET /openapi.json HTTP/1.1\r\nHost: x\r\n{AUTH}" + "X-Slow: " + "s" * 1000
    closed = False
    with _connect(server) as sock:
        sock.settimeout(0.2)
        for byte in request.encode():
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue  # nothing from the server yet: the next byte
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            else:  # the 408: the close follows
                sock.settimeout(WAIT)
                _read_until_closed(sock)
                closed = True
                break
    assert closed, "the server kept a trickling client's connection for the whole request"


def test_a_body_sent_in_part_then_nothing_gets_a_408_and_the_connection_closes(server):
    with _connect(server) as sock:
        sock.sendall(f"POST /openidm/managed/user?_action=create HTTP/1.1\r\nHost: x\r\n{AUTH}"
                     "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"userName\": ".encode())
        status, body = _status_and_body(_read_until_closed(sock))
    assert status == 408 and "request_body_timeout" in body["message"]


def test_the_server_still_answers_after_the_refusals(server):
    with _connect(server) as sock:
        sock.sendall(f"GET /openapi.json HTTP/1.1\r\nHost: x\r\n{AUTH}Connection: close\r\n\r\n".encode())
        status, body = _status_and_body(_read_until_closed(sock))
    assert status == 200 and body["openapi"].startswith("3.")
