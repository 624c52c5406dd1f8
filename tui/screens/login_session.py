"""One login attempt, run to its end for a thread worker on an event loop of its own (``core.runner.start``).

The screen talks to it from the app's loop: :meth:`LoginSession.paste` and :meth:`LoginSession.cancel` are
thread-safe (they hop onto the session's loop). With ``headless`` (``sfsync demo``), the session fetches the
authorize URL itself, as a browser would: the local org auto-approves and redirects to our callback, so the
whole real flow (PKCE, state, callback, exchange) runs without a browser.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from core.config import Project
from tui.messages import LoginOutcome

DEFAULT_TIMEOUT = 300.0


class LoginSession:
    """Run with :meth:`run` in a worker thread; steer with :meth:`paste` / :meth:`cancel` from anywhere."""

    def __init__(self, project: Project, *, headless: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 port: int | None = None) -> None:
        self.project = project
        self.headless = headless
        self.timeout = timeout
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flow: Any = None
        self._cancelled: asyncio.Event | None = None
        self._early_cancel = threading.Event()
        self._notice: Callable[[str], None] = lambda _text: None

    def run(self, on_started: Callable[[str, str, float], None],
            on_notice: Callable[[str], None] | None = None) -> LoginOutcome:
        """Listen, report the URL, wait for the browser / a pasted URL / Cancel / timeout; save the tokens."""
        from core.runner import start

        if on_notice is not None:
            self._notice = on_notice
        return start(lambda _cancel: self._main(on_started), name="sfsync-tui-login").wait()

    async def _main(self, on_started: Callable[[str, str, float], None]) -> LoginOutcome:
        from core.config import ProvisionerConfig, Settings
        from core.salesforce import LoginError, LoginFlow

        self._loop = asyncio.get_running_loop()
        self._cancelled = asyncio.Event()
        if self._early_cancel.is_set():
            return LoginOutcome(False, "cancelled")
        settings = Settings.load(self.project)
        config = ProvisionerConfig.load(self.project, strict=False)  # a login is how a lost key is recovered
        lost = config.properties.unreadable_secrets.get("clientSecret")
        if lost:
            return LoginOutcome(False, f"clientSecret {lost}")
        port = settings.callback_port if self.port is None else self.port
        try:
            async with LoginFlow(config.properties, port=port, ca_file=settings.ca_bundle()) as flow:
                self._flow = flow
                on_started(flow.authorize_url, flow.redirect_uri, self.timeout)
                visit = asyncio.create_task(self._visit(flow.authorize_url, settings.ca_bundle())) \
                    if self.headless else None
                login = asyncio.create_task(flow.login(self.timeout))
                cancelled = asyncio.create_task(self._cancelled.wait())
                done, _ = await asyncio.wait({login, cancelled}, return_when=asyncio.FIRST_COMPLETED)
                if visit is not None and login in done:
                    # let our "browser" read the callback's answer page before the listener closes
                    await asyncio.wait({visit}, timeout=5)
                for task in (visit, cancelled, login):
                    if task is not None and task not in done:
                        task.cancel()
                if login not in done:
                    return LoginOutcome(False, "cancelled")
                token, who = login.result()
        except LoginError as exc:
            return LoginOutcome(False, str(exc))
        finally:
            self._flow = None
        from core.repo import Actor
        from core.salesforce import save_login

        save_login(self.project, token, Actor.local("tui"), message="Login screen: log in")
        return LoginOutcome(True, f"Logged in as {who.describe()}", org=token.instance_url,
                            user=who.username or who.user_id)

    async def _visit(self, url: str, ca_file: str | None) -> None:
        """Be the browser: follow the authorize URL's redirects to our own callback."""
        import httpx

        async with httpx.AsyncClient(follow_redirects=True, timeout=30, verify=ca_file or True) as client:
            try:
                await client.get(url)
            except httpx.HTTPError as exc:
                self._notice(f"Could not reach the authorize URL: {type(exc).__name__}")

    # ---- thread-safe controls -----------------------------------------------------------------------
    def paste(self, url: str) -> None:
        """Complete with the URL the browser ended on; a wrong URL is reported and the wait goes on."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._paste, url)

    def _paste(self, url: str) -> None:
        from core.errors import SfsyncError

        if self._flow is None:
            return
        try:
            self._flow.complete_from_url(url)
        except SfsyncError as exc:
            self._notice(str(exc))

    def cancel(self) -> None:
        self._early_cancel.set()
        if self._loop is not None and self._cancelled is not None:
            self._loop.call_soon_threadsafe(self._cancelled.set)
