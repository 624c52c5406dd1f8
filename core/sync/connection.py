"""One Salesforce connector per :class:`~core.sync.service.SyncService` for implicit sync, on a loop of its own.

An edit in the app or a REST PUT (the server's loop) used to build a connector per change: a new HTTP client,
a new TLS connection and a token refresh round trip each time. Here the connector lives on one event loop in
a thread owned by the service (started by :func:`core.runner.start`, ended by :meth:`SharedConnector.close`),
whatever loop or thread the caller is on, so its access token and keep-alive connections serve every change;
the object sets run their coroutines with ``run_coroutine_threadsafe`` on the loop they are given.

A new login is picked up: when the service's :class:`~core.config.ConfigWatcher` gives a new look at the
files (one of them changed on disk), the look's login fields are compared with the connector's; a refresh
token the connector itself rotated (and saved through ``from_config``'s ``on_rotate``) is not a new login,
anything else is, and the connector is rebuilt.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.runner import Cancel, Run, start

if TYPE_CHECKING:
    from core.config.loaded import ConfigWatcher, ProjectConfig

log = logging.getLogger(__name__)

#: configurationProperties that decide which org and client a connector talks to (refreshToken apart)
_LOGIN_FIELDS = ("loginUrl", "clientId", "instanceUrl", "version", "connectTimeout", "proxyHost", "proxyPort",
                 "maximumConnections")


class SharedConnector:
    """The service's connector and the loop it runs on; thread-safe; :meth:`close` ends both."""

    def __init__(self, configs: ConfigWatcher, factory: Callable[[], Any] | None = None) -> None:
        self.configs = configs
        self._factory = factory
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run: Run[None] | None = None
        self._connector: Any = None
        self._seen: ProjectConfig | None = None  # the look the connector's login was last checked against
        self._login: tuple[Any, ...] | None = None
        #: connectors built so far (a figure for tests: a new login builds one more)
        self.built = 0

    @property
    def current(self) -> Any:
        """The connector in use (None before the first change that needs Salesforce, or after close)."""
        return self._connector

    @property
    def running(self) -> bool:
        """Whether the connector's loop thread is running."""
        return self._run is not None and not self._run.done()

    def get(self) -> tuple[Any, asyncio.AbstractEventLoop]:
        """The connector (built or rebuilt when needed) and its loop; blocking, call from a worker thread."""
        with self._lock:
            loop = self._ensure_loop()
            if self._connector is not None and self._factory is None and self._login_changed():
                log.info("the provisioner file changed: a new connector for the new login")
                self._close_connector()
            if self._connector is None:
                self._connector = self._build()
                self.built += 1
            return self._connector, loop

    def close(self) -> None:
        with self._lock:
            if self._loop is None:
                return
            self._close_connector()
            run, self._run, self._loop = self._run, None, None
        if run is not None:
            run.cancel()
            run.join(timeout=10)

    # ---- internals ---------------------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            ready: concurrent.futures.Future[asyncio.AbstractEventLoop] = concurrent.futures.Future()

            async def serve(cancel: Cancel) -> None:  # the loop lives until close(): coroutines are sent to it
                closed = asyncio.Event()
                cancel.on_cancel(closed.set)
                ready.set_result(asyncio.get_running_loop())
                await closed.wait()

            self._run = start(serve, name="sfsync-connector")
            self._loop = ready.result(timeout=30)
        return self._loop

    def _build(self) -> Any:
        if self._factory is not None:
            return self._factory()
        from core.salesforce.connector import SalesforceConnector

        loaded = self.configs.current()
        connector = SalesforceConnector.from_config(loaded)
        self._seen, self._login = loaded, self._login_of(loaded)
        return connector

    @staticmethod
    def _login_of(loaded: ProjectConfig) -> tuple[Any, ...]:
        props = loaded.provisioner.properties
        return (*(getattr(props, f) for f in _LOGIN_FIELDS), props.client_secret, loaded.settings.ca_bundle())

    def _login_changed(self) -> bool:
        """Whether the files name another login than the connector's (a ``stat`` each when none changed)."""
        loaded = self.configs.current()
        if loaded is self._seen:
            return False
        props = loaded.provisioner.properties
        session = self._connector.session
        current = session.token.refresh_token if session.token is not None else None
        known = {self._connector.config.properties.refresh_token, current}
        if self._login_of(loaded) != self._login or props.refresh_token not in known:
            return True
        self._seen = loaded  # e.g. our own rotated refresh token was saved: the same login
        return False

    def _close_connector(self) -> None:
        connector, self._connector = self._connector, None
        if connector is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(connector.aclose(), self._loop)
        with contextlib.suppress(Exception):
            future.result(timeout=10)
