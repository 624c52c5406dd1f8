"""The Connector screen: the Salesforce connector as IDM's admin UI shows it, validated field by field.

Save writes ``conf/provisioner.openicf-salesforce.json`` through ``core.config`` (only what changed, atomic,
0600). The consumer secret is never put back into a widget: the field starts empty, its placeholder shows
the masked value, and typing replaces it. Test and Save run in thread workers that post messages. The help
panel (command palette, "Keys") shows how to create the Salesforce app (:mod:`tui.screens.connector_help`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.validation import Function, Integer, ValidationResult, Validator
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.config import LoginUrlKind, check_url, kind_of, login_url_for, mask_secret
from tui.messages import ConnectionState, ConnectorLoaded, ConnectorSaved, ConnectorTested
from tui.screens.base import BaseScreen, set_field_error
from tui.screens.connector_help import CONNECTOR_HELP


class UrlValidator(Validator):
    """https (or http on loopback) URLs; empty is allowed where the field is optional."""

    def __init__(self, *, optional: bool = True) -> None:
        super().__init__()
        self.optional = optional

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.success() if self.optional else self.failure("required")
        try:
            check_url(value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


def _version_ok(value: str) -> bool:
    try:
        return 20 <= float(value) < 1000
    except ValueError:
        return False


#: (field id, label, validators, placeholder) in the admin UI's order
FIELDS: tuple[tuple[str, str, list[Validator], str], ...] = (
    ("clientId", "Consumer Key", [], "the connected app's consumer key"),
    ("clientSecret", "Consumer Secret", [], "the connected app's consumer secret"),
    ("instanceUrl", "Instance URL", [UrlValidator()], "set by Log in, e.g. https://na1.salesforce.com"),
    ("version", "API version", [Function(_version_ok, "not a Salesforce API version (e.g. 44 or 62.0)")], "44"),
    ("connectTimeout", "Connect timeout (ms)", [Integer(minimum=0, failure_description="a whole number ≥ 0")],
     "120000"),
    ("idleCheckInterval", "Idle check (ms)", [Integer(minimum=0, failure_description="a whole number ≥ 0")],
     "optional"),
    ("proxyHost", "Proxy host", [], "optional, e.g. proxy.example.com"),
    ("proxyPort", "Proxy port", [Integer(minimum=1, maximum=65535, failure_description="a port, 1–65535")],
     "3128"),
)
INT_FIELDS = {"connectTimeout", "idleCheckInterval", "proxyPort"}
KINDS = [(k.value, k) for k in LoginUrlKind]


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


class ConnectorScreen(BaseScreen):
    """Enabled, Login URL (Production/Sandbox/Custom), key, secret, instance, version, timeouts, proxy."""

    SCREEN_TITLE = "Connector"
    HELP = CONNECTOR_HELP  # the help panel's text for every field of the screen (none has its own)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="connector-save"),
        Binding("ctrl+t", "test", "Test", id="connector-test"),
        Binding("ctrl+l", "login", "Log in", id="connector-login"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="connector-form", classes="form"):
            with Horizontal(classes="row"):
                yield Label("Enabled", classes="field-label")
                yield Checkbox("connector enabled", id="enabled", compact=True)
            with Horizontal(classes="row"):
                yield Label("Login URL", classes="field-label")
                yield Select(KINDS, id="login-kind", allow_blank=False, compact=True, value=LoginUrlKind.PRODUCTION)
            with Horizontal(classes="row", id="custom-row"):
                yield Label("Custom URL", classes="field-label")
                yield Input(id="customUrl", placeholder="https://mydomain.my.salesforce.com", compact=True,
                            validators=[UrlValidator(optional=False)], validate_on=["changed", "blur"])
            yield Label("", id="customUrl-error", classes="field-error")
            for name, label, validators, placeholder in FIELDS:
                with Horizontal(classes="row"):
                    yield Label(label, classes="field-label")
                    yield Input(id=name, placeholder=placeholder, compact=True, validators=validators,
                                password=name == "clientSecret", validate_on=["changed", "blur"],
                                valid_empty=True)
                yield Label("", id=f"{name}-error", classes="field-error")
            with Horizontal(id="connector-buttons", classes="buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Test", id="test", compact=True)
                yield Button("Log in", id="login", compact=True)
            yield Static(id="connector-result", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#custom-row").display = False
        self._loaded: dict[str, str] = {}
        self._enabled_loaded: bool | None = None
        self._has_secret = False
        self._load()

    # ---- load ---------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="connector-load", description="Loading the connector")
    def _load(self) -> None:
        self.post_message(ConnectorLoaded(self.backend.load_connector()))

    @on(ConnectorLoaded)
    def _fill(self, message: ConnectorLoaded) -> None:
        config = message.config
        props = config.properties
        values = {name: _shown(getattr(props, name, None)) for name, *_ in FIELDS if name != "clientSecret"}
        kind = kind_of(props.loginUrl)
        values["customUrl"] = props.loginUrl if kind is LoginUrlKind.CUSTOM else ""
        values["loginUrl"] = props.loginUrl
        self._loaded = values
        self._enabled_loaded = bool(config.enabled)
        self._has_secret = props.clientSecret is not None and bool(props.client_secret)
        self.query_one("#enabled", Checkbox).value = bool(config.enabled)
        self.query_one("#login-kind", Select).value = kind
        self.query_one("#custom-row").display = kind is LoginUrlKind.CUSTOM
        for name, value in values.items():
            if name != "loginUrl":
                self.query_one(f"#{name}", Input).value = value
        secret = self.query_one("#clientSecret", Input)
        secret.value = ""
        secret.placeholder = (f"set ({mask_secret(props.clientSecret)}); type to replace" if self._has_secret
                              else "the connected app's consumer secret")
        for name in [*values, "clientSecret"]:
            if name != "loginUrl":
                set_field_error(self.query_one(f"#{name}-error", Label), None)

    def on_screen_resume(self) -> None:
        """Coming back (e.g. after Log in wrote the instance URL): show the file again unless edits are pending."""
        if self._loaded and not self.has_pending_edits():
            self._load()

    def has_pending_edits(self) -> bool:
        """True when a field differs from what was loaded (the secret field counts when anything is typed)."""
        if self.query_one("#clientSecret", Input).value:
            return True
        if self._enabled_loaded is not None and self.query_one("#enabled", Checkbox).value != self._enabled_loaded:
            return True
        for name, value in self._loaded.items():
            if name != "loginUrl" and self.query_one(f"#{name}", Input).value != value:
                return True
        return False

    # ---- inline validation --------------------------------------------------------------------------
    @on(Select.Changed, "#login-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        self.query_one("#custom-row").display = event.value is LoginUrlKind.CUSTOM
        if event.value is not LoginUrlKind.CUSTOM:
            set_field_error(self.query_one("#customUrl-error", Label), None)

    @on(Input.Changed)
    def _field_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.validation_result is not None:
            self._show_error(event.input.id, event.validation_result)

    def _show_error(self, name: str, result: ValidationResult | None) -> None:
        label = self.query_one(f"#{name}-error", Label)
        valid = result is None or result.is_valid
        set_field_error(label, None if valid else "; ".join(result.failure_descriptions))  # type: ignore[union-attr]

    def collect(self) -> tuple[dict[str, Any], bool | None, list[str]]:
        """The changed values (typed), the Enabled change, and the names of invalid fields."""
        from pydantic import SecretStr  # here, not at start-up (pydantic's import is ~0.1-0.2 s)

        errors: list[str] = []
        changes: dict[str, Any] = {}
        kind = self.query_one("#login-kind", Select).value
        custom = self.query_one("#customUrl", Input)
        try:
            login_url = login_url_for(kind, custom.value) if isinstance(kind, LoginUrlKind) else None
        except ValueError as exc:
            errors.append("customUrl")
            set_field_error(self.query_one("#customUrl-error", Label), str(exc))
            login_url = None
        if login_url and login_url != self._loaded.get("loginUrl"):
            changes["loginUrl"] = login_url
        for name, *_ in FIELDS:
            widget = self.query_one(f"#{name}", Input)
            result = widget.validate(widget.value)
            self._show_error(name, result)
            if result is not None and not result.is_valid:
                errors.append(name)
                continue
            value = widget.value.strip()
            if name == "clientSecret":
                if value:
                    changes[name] = SecretStr(value)
                continue
            if value == self._loaded.get(name, ""):
                continue
            if value == "":
                changes[name] = None
            elif name in INT_FIELDS:
                changes[name] = int(value)
            elif name == "version":
                changes[name] = int(float(value)) if float(value).is_integer() and "." not in value else float(value)
            else:
                changes[name] = value
        enabled = self.query_one("#enabled", Checkbox).value
        return changes, (enabled if enabled != self._enabled_loaded else None), errors

    # ---- actions ------------------------------------------------------------------------------------
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        changes, enabled, errors = self.collect()
        if errors:
            self.notify(f"Fix {len(errors)} field{'s' if len(errors) > 1 else ''} before saving.",
                        severity="error", title="Not saved")
            return
        if not changes and enabled is None:
            self.notify("Nothing changed.", title="Connector")
            return
        self._save(changes, enabled)

    @work(thread=True, exclusive=True, exit_on_error=False, group="connector-save", description="Saving the connector")
    def _save(self, changes: dict[str, Any], enabled: bool | None) -> None:
        path = self.backend.save_connector(changes, enabled)
        names = sorted(changes) + (["enabled"] if enabled is not None else [])
        self.post_message(ConnectorSaved(str(path), names))

    @on(ConnectorSaved)
    def _saved(self, message: ConnectorSaved) -> None:
        self.notify(f"Saved {', '.join(message.changed)} to {message.path}", title="Connector", markup=False)
        self._load()

    @on(Button.Pressed, "#test")
    def action_test(self) -> None:
        self.query_one("#connector-result", Static).update(Text("Testing the connector…", style="italic"))
        self._test()

    @work(thread=True, exclusive=True, exit_on_error=False, group="connector-test", description="Connector test")
    def _test(self) -> None:
        result, usage = self.backend.test_connector()
        if usage:
            self.post_message(ConnectionState(api_usage=tuple(usage)))  # type: ignore[arg-type]
        self.post_message(ConnectorTested(result))

    @on(ConnectorTested)
    def _tested(self, message: ConnectorTested) -> None:
        self.query_one("#connector-result", Static).update(render_test(message.result))

    @on(Button.Pressed, "#login")
    def action_login(self) -> None:
        self.app.switch_mode("login")


def render_test(result: dict[str, Any]) -> Text:
    """IDM's test object, readably: ok and the object types, or the reason."""
    name = str(result.get("displayName") or result.get("name") or "connector")
    if result.get("ok"):
        types = ", ".join(str(t) for t in result.get("objectTypes") or [])
        return Text.assemble(("✔ ", "bold green"), (name, "bold"), " is ok", "\nobject types: ", (types, "cyan"))
    return Text.assemble(("✘ ", "bold red"), (name, "bold"), " failed",
                         "\nreason: ", (str(result.get("error") or "unknown"), "red"))
