"""The HTTP client follows the connector's configuration: timeouts, pool size, proxy, extra CA."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.config import ProvisionerConfig
from core.errors import ConfigError
from core.salesforce.http import build_client, ssl_context, timeout_from

Factory = Callable[..., ProvisionerConfig]


def test_connect_timeout_is_milliseconds_and_zero_means_none(config_factory: Factory) -> None:
    timeout = timeout_from(config_factory(connectTimeout=2500).properties)
    assert timeout.connect == 2.5 and timeout.read == 60.0
    assert timeout_from(config_factory(connectTimeout=0).properties).connect is None


async def test_pool_size_is_maximum_connections(config_factory: Factory) -> None:
    client = build_client(config_factory(maximumConnections=3).properties)
    try:
        assert client._transport._pool._max_connections == 3  # httpcore's pool under httpx
    finally:
        await client.aclose()


def test_missing_or_bad_ca_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CA file not found"):
        ssl_context(str(tmp_path / "none.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="not a PEM CA bundle"):
        ssl_context(str(bad))


class ForwardProxy:
    """A plain HTTP forward proxy on loopback that records the absolute-form requests it relays."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def __aenter__(self) -> ForwardProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                self.seen.append(f"{method} {target}")
                headers = [h for h in lines[1:] if h and not h.lower().startswith(("connection:", "proxy-"))]
                length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0)
                body = await reader.readexactly(length) if length else b""
                host_port = target.split("/")[2]
                host, port = host_port.rsplit(":", 1)
                path = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
                up_r, up_w = await asyncio.open_connection(host, int(port))
                up_w.write((f"{method} {path} {version}\r\n" + "\r\n".join(headers)
                            + "\r\nConnection: close\r\n\r\n").encode("latin-1") + body)
                await up_w.drain()
                response = await up_r.read()
                up_w.close()
                writer.write(response)
                await writer.drain()
                return  # the upstream answered "Connection: close": so do we
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def test_requests_go_through_the_configured_proxy(tmp_path: Path, live_org: Any,
                                                        logged_in_project: Any) -> None:
    from core.salesforce.connector import SalesforceConnector

    project = await logged_in_project(tmp_path, live_org)
    async with ForwardProxy() as proxy:
        config = ProvisionerConfig.load(project)
        config.update_properties(proxyHost="127.0.0.1", proxyPort=proxy.port)
        config.save(project)
        async with SalesforceConnector.from_project(project) as conn:
            assert (await conn.test())["ok"] is True
    assert f"POST {live_org.url}/services/oauth2/token" in proxy.seen
    assert f"GET {live_org.url}/services/data/v44.0" in proxy.seen
