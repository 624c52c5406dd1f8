"""The Login screen: Salesforce's OAuth web-server flow (PKCE + state) through a loopback callback.

It shows the authorize URL (open it, or copy it through the terminal with OSC 52), the callback address
being listened on, a countdown, a field for pasting the URL the browser ended on (when the callback cannot
reach this machine, e.g. over SSH; the ``ssh -L`` hint says how to make it reach), Cancel, and the outcome.
The flow itself runs in a thread worker on its own event loop (:class:`tui.screens.login_session.LoginSession`).
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, Input, Label, Static

from tui.messages import ConnectionState, LoginOutcome, LoginStarted
from tui.screens.base import BaseScreen


def ssh_hint(port: int) -> Text:
    """How to make the browser's redirect reach this machine when it runs elsewhere."""
    over_ssh = bool(os.environ.get("SSH_CONNECTION"))
    lead = "You are connected over SSH. " if over_ssh else "Browser on another machine? "
    return Text.assemble(
        (lead, "bold" if over_ssh else ""), "On that machine run ",
        (f"ssh -L {port}:127.0.0.1:{port} <this-host>", "bold cyan"),
        " before opening the URL, or paste the address the browser ended on below.",
    )


class LoginScreen(BaseScreen):
    """Start, wait with a countdown, accept a pasted redirect URL, cancel, show who logged in where."""

    SCREEN_TITLE = "Login"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "start", "Log in", id="login-start"),
        Binding("ctrl+o", "open_browser", "Open browser", id="login-open"),
        Binding("ctrl+y", "copy_url", "Copy URL", id="login-copy"),
        Binding("escape", "cancel", "Cancel", id="login-cancel"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="login-body", classes="form"):
            yield Static(Text("Log in to Salesforce with the connector's consumer key. The refresh token and "
                              "instance URL are saved to the connector configuration."), id="login-intro")
            with Horizontal(classes="buttons"):
                yield Button("Log in", id="start", variant="primary", compact=True)
                yield Button("Open browser", id="open", compact=True, disabled=True)
                yield Button("Copy URL", id="copy", compact=True, disabled=True)
                yield Button("Cancel", id="cancel", compact=True, disabled=True)
            yield Label("Authorize URL", classes="section")
            yield Static("–", id="authorize-url", markup=False)
            yield Label("Callback", classes="section")
            yield Static("–", id="callback", markup=False)
            yield Static("", id="countdown")
            yield Static("", id="ssh-hint")
            with Horizontal(classes="row"):
                yield Label("Paste URL", classes="field-label")
                yield Input(id="pasted-url", placeholder="http://localhost:1717/OauthRedirect?code=…", compact=True,
                            disabled=True)
            yield Static("", id="login-outcome")

    def on_mount(self) -> None:
        super().on_mount()
        self.authorize_url: str | None = None
        self.session: Any = None
        self._deadline = 0.0
        self._timer: Timer | None = None

    # ---- start --------------------------------------------------------------------------------------
    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if self.session is not None:
            return
        self.query_one("#login-outcome", Static).update(Text("Starting…", style="italic"))
        self.session = self.backend.login_session()
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self._run_login(self.session)

    @work(thread=True, exclusive=True, exit_on_error=False, group="login", description="Log in")
    def _run_login(self, session: Any) -> None:
        def started(url: str, callback: str, timeout: float) -> None:
            self.post_message(LoginStarted(url, callback, timeout))

        def notice(text: str) -> None:
            self.app.notify(text, title="Login", severity="warning", markup=False)

        try:
            outcome = session.run(on_started=started, on_notice=notice)
        except Exception as exc:  # every failure is an outcome the user reads, not a crash
            from tui.errors import describe_error

            outcome = LoginOutcome(ok=False, detail=describe_error(exc))
        self.post_message(outcome)

    @on(LoginStarted)
    def _started(self, message: LoginStarted) -> None:
        self.authorize_url = message.authorize_url
        self.query_one("#authorize-url", Static).update(Text(message.authorize_url, style="underline"))
        self.query_one("#callback", Static).update(Text(f"listening on {message.callback}"))
        port = int(message.callback.rsplit(":", 1)[-1].split("/", 1)[0]) if ":" in message.callback else 1717
        self.query_one("#ssh-hint", Static).update(ssh_hint(port))
        for name in ("#open", "#copy"):
            self.query_one(name, Button).disabled = False
        self.query_one("#pasted-url", Input).disabled = False
        self.query_one("#login-outcome", Static).update(Text("Waiting for the browser…", style="italic"))
        self._deadline = time.monotonic() + message.timeout
        self._tick()
        self._timer = self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        left = max(0, int(round(self._deadline - time.monotonic())))
        self.query_one("#countdown", Static).update(Text.assemble("time left ", (f"{left // 60}:{left % 60:02d}", "bold")))

    # ---- user actions while waiting -----------------------------------------------------------------
    @on(Button.Pressed, "#open")
    def action_open_browser(self) -> None:
        if self.authorize_url:
            self.app.open_url(self.authorize_url)

    @on(Button.Pressed, "#copy")
    def action_copy_url(self) -> None:
        if self.authorize_url:
            self.app.copy_to_clipboard(self.authorize_url)
            self.notify("Authorize URL copied (if your terminal supports OSC 52).", title="Login")

    @on(Input.Submitted, "#pasted-url")
    def _pasted(self, event: Input.Submitted) -> None:
        if self.session is not None and event.value.strip():
            self.session.paste(event.value.strip())
            event.input.value = ""

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.session is not None:
            self.session.cancel()

    # ---- outcome ------------------------------------------------------------------------------------
    @on(LoginOutcome)
    def _outcome(self, message: LoginOutcome) -> None:
        self.session = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.query_one("#countdown", Static).update("")
        for name in ("#open", "#copy", "#cancel"):
            self.query_one(name, Button).disabled = True
        self.query_one("#pasted-url", Input).disabled = True
        self.query_one("#start", Button).disabled = False
        outcome = self.query_one("#login-outcome", Static)
        if message.ok:
            outcome.update(Text.assemble(("✔ ", "bold green"), message.detail))
            self.post_message(ConnectionState(org=message.org, user=message.user, logged_in=True))
        else:
            outcome.update(Text.assemble(("✘ Not logged in: ", "bold red"), message.detail))
