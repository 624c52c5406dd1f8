"""``sfsync login``: OAuth web-server login (PKCE + state) through a callback on this machine.

The refresh token and instance URL land in the provisioner file (0600), as IDM's admin UI stores them.
Over SSH: ``--no-browser`` prints the URL; forward the callback port (``ssh -L 1717:localhost:1717 host``)
or paste the URL the browser ended on. Nothing secret is printed: the token is shown masked.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import sys
import threading
import webbrowser
from typing import Any

from core.errors import ConfigError, UsageError

SECRET_ENV = "SFSYNC_CLIENT_SECRET"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "login", help="log in to Salesforce with OAuth and save the refresh token",
        description="Open the Salesforce login page, wait for its redirect to "
                    "http://localhost:PORT/OauthRedirect (or for the final URL pasted on standard input), "
                    "and save refreshToken and instanceUrl into conf/provisioner.openicf-salesforce.json. "
                    f"The client secret may come from ${SECRET_ENV}.")
    parser.add_argument("--no-browser", action="store_true", help="print the login URL instead of opening a browser")
    parser.add_argument("--port", type=int, default=None,
                        help="callback port (default: callback_port in sfsync.toml, else 1717); the connected "
                             "app's callback URL must be http://localhost:PORT/OauthRedirect")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the browser (default 300)")
    parser.add_argument("--login-url", metavar="URL",
                        help="production, sandbox, or a token/My Domain URL (saved as loginUrl)")
    parser.add_argument("--client-id", metavar="ID", help="the connected app's consumer key (saved as clientId)")
    parser.add_argument("--scope", help="OAuth scopes (default: api refresh_token offline_access id)")
    parser.set_defaults(func=handle)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from core.config import LoginUrlKind, login_url_for

    changes: dict[str, Any] = {}
    if args.login_url:
        choice = args.login_url.strip()
        try:
            if choice.lower() in ("production", "sandbox"):
                changes["loginUrl"] = login_url_for(LoginUrlKind(choice.capitalize()))
            else:
                changes["loginUrl"] = login_url_for(LoginUrlKind.CUSTOM, choice)
        except ValueError as exc:
            raise UsageError(f"--login-url: {exc}") from None
    if args.client_id:
        changes["clientId"] = args.client_id.strip()
    if os.environ.get(SECRET_ENV):
        changes["clientSecret"] = os.environ[SECRET_ENV]
    return changes


def handle(args: argparse.Namespace) -> int:
    from core.config import Project, ProvisionerConfig, Settings, display_path, mask_secret

    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError("--port: must be between 0 and 65535")
    if args.timeout <= 0:
        raise UsageError("--timeout: must be more than 0 seconds")
    project = Project.resolve(args.project)
    settings = Settings.load(project)
    config = ProvisionerConfig.load(project, strict=False)  # a login is how a lost key is recovered
    changes = _overrides(args)
    config.update_properties(**changes)
    lost = config.properties.unreadable_secrets.get("clientSecret")
    if lost:
        raise ConfigError(lost, path=display_path(project.provisioner_path), field="configurationProperties.clientSecret")
    port = settings.callback_port if args.port is None else args.port

    token, who = asyncio.run(_login(config, settings, port, args))

    from core.repo import Actor
    from core.salesforce import save_login

    save_login(project, token, Actor.local("cli"), message="sfsync login", changes=changes)
    print(f"Logged in as {who.describe()}")
    print(f"Saved refreshToken ({mask_secret(token.refresh_token)}, encrypted) and instanceUrl to "
          f"{project.provisioner_path} (mode 0600).")
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _gui_browser_likely() -> bool:
    """Over SSH or without a display, a browser would open on the wrong machine or in this terminal."""
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _copy_to_clipboard(text: str) -> bool:
    """OSC 52: terminals that allow it (iTerm2, kitty, WezTerm, tmux with set-clipboard) copy the URL."""
    if not sys.stderr.isatty() or os.environ.get("TERM", "") in ("", "dumb"):
        return False
    payload = base64.b64encode(text.encode()).decode()
    sys.stderr.write(f"\033]52;c;{payload}\a")
    sys.stderr.flush()
    return True


async def _login(config: Any, settings: Any, port: int, args: argparse.Namespace) -> Any:
    from core.salesforce import LoginFlow

    async with LoginFlow(config.properties, port=port, scope=args.scope, ca_file=settings.ca_bundle()) as flow:
        opened = False
        if not args.no_browser and _gui_browser_likely():
            with contextlib.suppress(Exception):
                opened = await asyncio.to_thread(webbrowser.open, flow.authorize_url)
        _say("Open this URL in a browser and log in to Salesforce:" if not opened else
             "A browser was opened on the Salesforce login page; if not, open this URL:")
        print(flow.authorize_url, flush=True)
        if _copy_to_clipboard(flow.authorize_url):
            _say("(copied to the clipboard where the terminal allows it)")
        _say(f"Waiting for the redirect to {flow.redirect_uri} (up to {args.timeout:g} s; Ctrl-C cancels).")
        _say(f"If the browser runs on another machine, forward the port first: "
             f"ssh -L {flow.port}:localhost:{flow.port} <this host>")
        _say("…or paste here the URL the browser ended on (even if the page did not load) and press Enter.")
        reader = _StdinLines(asyncio.get_running_loop(), flow)
        reader.start()
        return await flow.login(args.timeout)


class _StdinLines:
    """Reads pasted URLs in a daemon thread (it never holds the process open) and hands them to the flow."""

    def __init__(self, loop: asyncio.AbstractEventLoop, flow: Any) -> None:
        self.loop = loop
        self.flow = flow

    def start(self) -> None:
        if sys.stdin is None or sys.stdin.closed:
            return
        threading.Thread(target=self._run, name="sfsync-login-stdin", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError, RuntimeError):
                return
            if not line:
                return
            if line.strip():
                with contextlib.suppress(RuntimeError):
                    self.loop.call_soon_threadsafe(self._offer, line)

    def _offer(self, line: str) -> None:
        from core.errors import SfsyncError

        try:
            self.flow.complete_from_url(line)
        except SfsyncError as exc:
            _say(f"sfsync: {exc}")
