"""``provisioner.openicf-salesforce.json``: IDM's Salesforce connector configuration, as a pydantic model.

The file belongs to IDM as much as to us. Loading keeps the parsed original; saving writes back only the
values that changed, at their original positions, so key order, unknown keys, untouched values (``44``
stays ``44``, not ``44.0``) and the file's formatting survive, and an unchanged file is written back byte
for byte. Secrets are :class:`~pydantic.SecretStr` so they never show in a repr or a log line.

At rest, ``clientSecret`` and ``refreshToken`` are IDM-shaped ``$crypto`` objects (:mod:`core.config.secrets`):
loading opens them into the ``SecretStr`` fields, saving seals a changed one and keeps an unchanged one's
ciphertext (an unchanged file stays byte-identical), and a plain value typed into the file is sealed by the
next load, as IDM does at start-up. One that cannot be opened (IDM's keystore, a lost key, altered data) is a
:class:`ConfigError` naming the field and what to do, or, for ``load(strict=False)`` (what ``sfsync login``
and the Connector screen use to recover), an unset value that stays as it is in the file until replaced.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from core.config.jsonfile import display_path, load_json, save_json_atomic
from core.config.secrets import Key, KeyStore, UnreadableSecret, is_crypto, open_value, seal
from core.config.urls import PRODUCTION_TOKEN_URL, check_url
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config.project import Project

#: fields whose values must never appear in an error message
SECRET_FIELDS = frozenset({"clientSecret", "refreshToken"})
#: the same, in the order errors are reported
_SECRET_ORDER = ("clientSecret", "refreshToken")


class ConfigurationProperties(BaseModel):
    """``configurationProperties``: what the OpenICF Salesforce connector reads (IDM 6.5 names and units)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    loginUrl: str = PRODUCTION_TOKEN_URL
    clientId: str | None = None
    clientSecret: SecretStr | None = None
    refreshToken: SecretStr | None = None
    instanceUrl: str | None = None
    version: int | float | str = 44
    connectTimeout: int = Field(default=120000, ge=0, description="milliseconds")
    idleCheckInterval: int | None = Field(default=None, ge=0, description="milliseconds")
    proxyHost: str | None = None
    proxyPort: int | None = Field(default=3128, ge=1, le=65535)
    maximumConnections: int = Field(default=10, ge=1, le=1000)
    supportedObjectTypes: list[str] = Field(default_factory=lambda: ["User"])

    #: secrets left encrypted (``{"$crypto": …}``) because sfsync cannot open them; the user must set them again
    _encrypted: set[str] = PrivateAttr(default_factory=set)
    #: why each of those cannot be opened, and what to do (no secret in it)
    _reasons: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _idm_encrypted(cls, data: Any, handler: Any) -> ConfigurationProperties:
        """IDM encrypts secrets it saved (``{"$crypto": …}``): load them as unset and remember which."""
        encrypted: set[str] = set()
        if isinstance(data, dict):
            encrypted = {k for k in SECRET_FIELDS if isinstance(data.get(k), dict) and "$crypto" in data[k]}
            if encrypted:
                data = {k: (None if k in encrypted else v) for k, v in data.items()}
        model = handler(data)
        if encrypted:
            model._encrypted = encrypted
        return model

    @field_validator("loginUrl")
    @classmethod
    def _login_url(cls, value: str) -> str:
        return check_url(value, what="URL")

    @field_validator("instanceUrl")
    @classmethod
    def _instance_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return value
        return check_url(value, what="URL").rstrip("/")

    @field_validator("version")
    @classmethod
    def _version(cls, value: int | float | str) -> int | float | str:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError("not a Salesforce API version (e.g. 44 or 62.0)") from None
        if not 20 <= number < 1000:
            raise ValueError("not a Salesforce API version (e.g. 44 or 62.0)")
        return value

    @field_validator("clientSecret", "refreshToken", mode="before")
    @classmethod
    def _secret(cls, value: Any) -> Any:
        if isinstance(value, dict):
            raise ValueError("must be a string")
        return value

    # ---- conveniences for the connector and the UI -------------------------------------------------
    @property
    def api_version(self) -> str:
        """The REST version segment value: ``44`` -> ``"44.0"``."""
        return f"{float(self.version):.1f}"

    @property
    def client_secret(self) -> str | None:
        """The client secret's value, ``None`` when unset or empty."""
        return _secret_value(self.clientSecret)

    @property
    def refresh_token(self) -> str | None:
        """The refresh token's value, ``None`` when unset or empty."""
        return _secret_value(self.refreshToken)

    @property
    def encrypted_fields(self) -> frozenset[str]:
        """Secrets left encrypted in this file because sfsync cannot open them (IDM's keystore, a lost key)."""
        return frozenset(self._encrypted)

    @property
    def unreadable_secrets(self) -> dict[str, str]:
        """:attr:`encrypted_fields` with why each cannot be opened and what to do."""
        return {name: self._reasons.get(name, "encrypted by IDM's keystore, which sfsync cannot read; "
                                              "set it again or run `sfsync login`")
                for name in sorted(self._encrypted)}

    @property
    def proxy_url(self) -> str | None:
        """``http://host:port`` when a proxy is configured."""
        if not self.proxyHost:
            return None
        host = self.proxyHost if "://" in self.proxyHost else f"http://{self.proxyHost}"
        return f"{host}:{self.proxyPort or 3128}"


def _secret_value(secret: SecretStr | None) -> str | None:
    if secret is None:
        return None
    return secret.get_secret_value() or None


class ProvisionerConfig(BaseModel):
    """The whole provisioner file; ``objectTypes`` and other IDM sections are kept as they are."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    enabled: bool = True
    connectorRef: dict[str, Any] = Field(default_factory=dict)
    configurationProperties: ConfigurationProperties = Field(default_factory=ConfigurationProperties)
    objectTypes: dict[str, Any] = Field(default_factory=dict)

    _original: dict[str, Any] | None = PrivateAttr(default=None)
    _original_text: str | None = PrivateAttr(default=None)
    _loaded_dump: dict[str, Any] | None = PrivateAttr(default=None)
    _path: str | None = PrivateAttr(default=None)

    # ---- load / save ------------------------------------------------------------------------------
    @classmethod
    def load(cls, project: Project, *, strict: bool = True) -> ProvisionerConfig:
        """The project's provisioner file, validated; a bad file is one :class:`ConfigError`.

        ``strict=False`` loads a secret that cannot be decrypted as unset instead of refusing the file
        (see :attr:`ConfigurationProperties.unreadable_secrets`): for what replaces it, as a login does.
        """
        return cls.load_path(project.provisioner_path, strict=strict)

    @classmethod
    def load_path(cls, path: str | os.PathLike[str], *, strict: bool = True) -> ProvisionerConfig:
        data, text = load_json(path)
        shown = display_path(path)
        view, reasons, plain = _open_secrets(data, KeyStore.for_config(path), shown, strict=strict)
        config = cls.from_data(view, path=shown)
        config.configurationProperties._reasons = reasons
        config._original = data
        config._original_text = text
        config._loaded_dump = config.to_data()
        config._path = os.fspath(path)
        if plain:
            config.save()  # a secret typed into the file in plain text: sealed now, as IDM does at start-up
        return config

    @classmethod
    def from_data(cls, data: Any, *, path: str | None = None) -> ProvisionerConfig:
        """Validate already-parsed JSON; errors name ``path`` and the field path."""
        if not isinstance(data, dict):
            raise ConfigError("must be a JSON object", path=path)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise config_error_from(exc, path) from None

    def save(self, project: Project | None = None, *, rekey: Key | None = None) -> None:
        """Write the file atomically, mode 0600, changing only what changed since :meth:`load`.

        A changed secret is sealed with the project's key (made on first need); with ``rekey`` (a key
        rotation) every secret that has a value is sealed again with that key instead.
        """
        if project is not None:
            path: str | os.PathLike[str] = project.provisioner_path
        elif self._path is not None:
            path = self._path
        else:
            raise ValueError("save() needs a project for a configuration that was not loaded from a file")
        current = self.to_data()
        if self._original is not None and self._loaded_dump is not None:
            data = merge_changes(self._original, self._loaded_dump, current)
        else:
            data = current
        data = _seal_secrets(data, KeyStore.for_config(path), rekey=rekey, plain=current)
        save_json_atomic(path, data, 0o600, original_text=self._original_text)
        self._original = copy.deepcopy(data)
        self._original_text = None if self._original_text is None else self._reread(path)
        self._loaded_dump = current
        self._path = os.fspath(path)

    @staticmethod
    def _reread(path: str | os.PathLike[str]) -> str:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()

    def update_properties(self, **changes: Any) -> None:
        """Set ``configurationProperties`` values; a wrong one is a :class:`ConfigError` naming the field."""
        props = self.configurationProperties
        for name, value in changes.items():
            try:
                setattr(props, name, value)
            except ValidationError as exc:
                raise config_error_from(exc, self._path and display_path(self._path),
                                        prefix="configurationProperties") from None
            if name in SECRET_FIELDS:
                props._encrypted.discard(name)
                props._reasons.pop(name, None)

    def to_data(self) -> dict[str, Any]:
        """The model as plain JSON data, secrets included (for writing the file only)."""
        return _plain(self.model_dump())

    # ---- conveniences -------------------------------------------------------------------------------
    @property
    def original(self) -> dict[str, Any]:
        """The file's JSON as read (secrets sealed, IDM's sections untouched); the model's data when it was
        not read from a file."""
        return copy.deepcopy(self._original) if self._original is not None else self.to_data()

    @property
    def properties(self) -> ConfigurationProperties:
        """``configurationProperties`` (the name the architecture notes use)."""
        return self.configurationProperties

    @property
    def object_type_names(self) -> list[str]:
        """IDM's test object lists ``__ALL__`` followed by the configured object types."""
        return ["__ALL__", *self.objectTypes.keys()]


def _open_secrets(data: Any, store: KeyStore, shown: str, *,
                  strict: bool) -> tuple[Any, dict[str, str], bool]:
    """``data`` with its ``$crypto`` secrets opened: ``(view, reasons for those left sealed, plain seen)``."""
    props = data.get("configurationProperties") if isinstance(data, dict) else None
    if not isinstance(props, dict):
        return data, {}, False
    opened = dict(props)
    reasons: dict[str, str] = {}
    plain = False
    for name in _SECRET_ORDER:
        value = props.get(name)
        if is_crypto(value):
            field = f"configurationProperties.{name}"
            assert isinstance(value, dict)  # is_crypto: a {"$crypto": ...} object
            try:
                opened[name] = open_value(value, store, field)
            except UnreadableSecret as exc:
                if strict:
                    raise ConfigError(str(exc), path=shown, field=field) from None
                reasons[name] = str(exc)  # left sealed: the model loads it as unset and a save keeps it
        elif isinstance(value, str) and value:
            plain = True
    return {**data, "configurationProperties": opened}, reasons, plain


def _seal_secrets(data: dict[str, Any], store: KeyStore, *, rekey: Key | None = None,
                  plain: dict[str, Any] | None = None) -> dict[str, Any]:
    """``data`` with every plain secret sealed (a ``$crypto`` kept from the file is already sealed); with
    ``rekey``, every secret with a value in ``plain`` (the model's data) sealed with that key."""
    props = data.get("configurationProperties")
    if not isinstance(props, dict):
        return data
    values = props
    if rekey is not None and plain is not None:
        values = plain.get("configurationProperties") or {}
    names = [name for name in _SECRET_ORDER if isinstance(values.get(name), str) and values[name]]
    if not names:
        return data
    key = rekey or store.current_or_create()
    sealed = dict(props)
    for name in names:
        sealed[name] = seal(values[name], key, f"configurationProperties.{name}")
    return {**data, "configurationProperties": sealed}


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def merge_changes(original: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``original`` with the differences between ``before`` and ``after`` applied in place of old values.

    Untouched keys keep their original JSON value and position; new keys are appended; keys the model
    dropped are removed. Nested objects are merged the same way, so editing ``loginUrl`` rewrites only it.
    """
    result: dict[str, Any] = {}
    for key, value in original.items():
        if key not in after:
            if key in before:
                continue  # removed by the model
            result[key] = value
            continue
        if key in before and before[key] == after[key] and _same(before[key], after[key]):
            result[key] = value
        elif isinstance(value, dict) and isinstance(before.get(key), dict) and isinstance(after[key], dict):
            result[key] = merge_changes(value, before[key], after[key])
        else:
            result[key] = after[key]
    for key, value in after.items():
        if key in original:
            continue
        if key in before and before[key] == value:
            continue  # a default the file never had and nobody changed
        result[key] = value
    return result


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b)


def config_error_from(exc: ValidationError, path: str | None, *, prefix: str | None = None) -> ConfigError:
    """The first validation problem as ``file: field.path: reason`` (no secret value ever shown)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ([prefix] if prefix else []) + [str(p) for p in first["loc"]]
    field = ".".join(loc) or None
    msg = str(first["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    shown_input = first.get("input")
    if first["type"] not in ("value_error", "missing") and not (set(loc) & SECRET_FIELDS) \
            and isinstance(shown_input, (str, int, float, bool)) and not isinstance(shown_input, dict):
        msg = f"{msg[:1].lower()}{msg[1:]} (got {shown_input!r})"
    if len(errors) > 1:
        msg += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ConfigError(msg, path=path, field=field)
