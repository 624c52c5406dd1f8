"""The OAuth callback listener on real loopback sockets: state checks, denial, timeout, busy port, paste."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from core.config import ProvisionerConfig
from core.salesforce.errors import LoginError
from core.salesforce.oauth import LoginFlow

Factory = Callable[..., ProvisionerConfig]


async def browser_get(port: int, target: str, host: str = "127.0.0.1") -> tuple[int, str]:
    """A minimal browser: one GET on a fresh connection; the status code and body."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode("utf-8", "replace")


def redirect(state: str | None, **params: str) -> str:
    if state is not None:
        params["state"] = state
    return "/OauthRedirect?" + urlencode(params)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def test_authorize_url_carries_pkce_s256_state_scope_and_redirect(config_factory: Factory) -> None:
    async with LoginFlow(config_factory().properties, port=0) as flow:
        url = urlsplit(flow.authorize_url)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert f"{url.scheme}://{url.netloc}{url.path}" == "https://login.salesforce.com/services/oauth2/authorize"
        assert params["response_type"] == "code" and params["client_id"] == "3MVGclientid"
        assert params["redirect_uri"] == f"http://localhost:{flow.port}/OauthRedirect"
        assert params["scope"] == "api refresh_token offline_access id"
        assert params["state"] == flow.state and len(flow.state) >= 32
        assert params["code_challenge_method"] == "S256"
        digest = hashlib.sha256(flow.code_verifier.encode()).digest()
        assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert 43 <= len(flow.code_verifier) <= 128
        assert "client_secret" not in flow.authorize_url and "clientsecretvalue" not in flow.authorize_url


async def test_wrong_or_missing_state_is_refused_and_the_wait_goes_on(config_factory: Factory) -> None:
    async with LoginFlow(config_factory().properties, port=0) as flow:
        waiting = asyncio.create_task(flow.wait(timeout=10))
        status, body = await browser_get(flow.port, redirect("forged-state", code="aPrxFORGED"))
        assert status == 400 and "state" in body
        status, _ = await browser_get(flow.port, redirect(None, code="aPrxNOSTATE"))
        assert status == 400
        assert not waiting.done() and flow.server.refused_requests == 2
        flow.server.finish = None  # answer the browser at once: no token exchange in this test
        status, _ = await browser_get(flow.port, redirect(flow.state, code="aPrxGOODCODE=="))
        assert status == 200
        assert await waiting == "aPrxGOODCODE=="
        status, _ = await browser_get(flow.port, redirect(flow.state, code="aPrxSECOND"))
        assert status == 410  # answered once


async def test_callback_also_listens_on_ipv6_loopback(config_factory: Factory) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    async with LoginFlow(config_factory().properties, port=0) as flow:
        if len(flow.server._servers) < 2:
            pytest.skip("no ::1 on this machine")
        status, _ = await browser_get(flow.port, "/favicon.ico", host="::1")
        assert status == 404


async def test_error_from_salesforce_ends_the_login_with_its_reason(config_factory: Factory) -> None:
    async with LoginFlow(config_factory().properties, port=0) as flow:
        waiting = asyncio.create_task(flow.wait(timeout=10))
        status, body = await browser_get(flow.port, redirect(
            flow.state, error="access_denied", error_description="end-user denied authorization"))
        assert status == 200 and "end-user denied authorization" in body
        with pytest.raises(LoginError, match="access_denied .end-user denied authorization."):
            await waiting


async def test_no_answer_times_out_and_frees_the_port(config_factory: Factory) -> None:
    async with LoginFlow(config_factory().properties, port=0) as flow:
        port = flow.port
        with pytest.raises(LoginError, match="within 0.2 seconds"):
            await flow.wait(timeout=0.2)
    assert port_is_free(port)


async def test_cancelling_the_wait_frees_the_port(config_factory: Factory) -> None:
    async with LoginFlow(config_factory().properties, port=0) as flow:
        port = flow.port
        waiting = asyncio.create_task(flow.wait(timeout=30))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert port_is_free(port)


async def test_busy_port_is_a_clear_error_naming_the_option(config_factory: Factory) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LoginError, match=f"port {port} is busy.*--port"):
            async with LoginFlow(config_factory().properties, port=port):
                pass


async def test_pasted_url_completes_and_its_state_is_checked(config_factory: Factory) -> None:
    async with LoginFlow(config_factory().properties, port=0) as flow:
        waiting = asyncio.create_task(flow.wait(timeout=10))
        with pytest.raises(LoginError, match="does not belong to this login"):
            flow.complete_from_url(f"http://localhost:{flow.port}" + redirect("bad", code="aPrxFORGED"))
        with pytest.raises(LoginError, match="not the /OauthRedirect URL"):
            flow.complete_from_url("https://example.com/elsewhere?code=x&state=" + flow.state)
        await asyncio.sleep(0)
        assert not waiting.done()
        flow.complete_from_url(f"  http://localhost:{flow.port}" + redirect(flow.state, code="aPrxPASTED==") + "\n")
        assert await waiting == "aPrxPASTED=="


async def test_other_paths_and_methods_are_not_the_callback(config_factory: Factory) -> None:
    async with LoginFlow(config_factory().properties, port=0) as flow:
        assert (await browser_get(flow.port, "/"))[0] == 404
        reader, writer = await asyncio.open_connection("127.0.0.1", flow.port)
        writer.write(b"POST /OauthRedirect HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        data = await reader.read()
        writer.close()
        assert data.startswith(b"HTTP/1.1 405")
