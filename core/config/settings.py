"""``conf/sfsync.toml``: the settings IDM has no file for (callback port, CA file, REST admin, UI).

Read with :mod:`tomllib`, written with :mod:`tomli_w`, atomically and 0600 (it may hold the REST admin's
password hash). An unchanged file is written back as it was, comments included; a changed one is
rewritten from the model: the settings that differ from their defaults and unknown keys (comments lost,
which is TOML tooling's usual trade-off).
"""

from __future__ import annotations

import os
import tomllib
from typing import TYPE_CHECKING, Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from core.config.jsonfile import display_path, read_text, write_text_atomic
from core.config.provisioner import config_error_from
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config.project import Project

DEFAULT_CALLBACK_PORT = 1717
#: 50 readers with no pause took a 20,000-user run to 1.17x its unloaded time (median of 20 rounds); at 0.3,
#: 1.04x (bench/bench_api.py, bench/README.md)
DEFAULT_READ_SHARE_DURING_RECON = 0.3


class Settings(BaseModel):
    """sfsync's own settings; every field has a default, so a missing file is a valid, empty one."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    #: the OAuth callback port (``http://localhost:PORT/OauthRedirect``), as the Salesforce CLI's 1717
    callback_port: int = Field(default=DEFAULT_CALLBACK_PORT, ge=1, le=65535)
    #: an extra CA bundle (PEM) to trust, e.g. a corporate TLS proxy or the local org's ``--tls``
    ca_file: str | None = None
    #: ``sfsync serve``: the REST admin user and the hash of its password (never the password)
    admin_username: str | None = None
    admin_password_hash: str | None = None
    #: how many reconciliation runs (with their audit entries) to keep
    keep_runs: int = Field(default=100, ge=1)
    #: a full reconciliation reads Salesforce through a Bulk API 2.0 query job from this many records up
    #: (a few API calls instead of one per 2,000 records); 0: always the REST query
    bulk_query_threshold: int = Field(default=50_000, ge=0)
    #: from the threshold on, "auto" takes the Bulk API when it is estimated no slower than REST pages fetched
    #: ahead at the latency measured (or the REST calls would use up the daily API requests); "always" takes it
    bulk_query: Literal["auto", "always"] = "auto"
    #: the deletion safeguard: a reconciliation whose DELETE actions (managed users deleted, Salesforce users
    #: deactivated) would exceed this many applies none of them and ends FAILED (``--allow-deletions`` goes
    #: on); 0 turns it off
    deletion_threshold: int = Field(default=500, ge=0, strict=True)
    #: ``sfsync serve``: while a reconciliation it started runs, the share of each read slot's time reads may
    #: take (after each read its slot stays idle for the rest); the rest is left to the run. 1: no pause.
    #: At least 0.1, so a read never holds its slot for more than 9 times its own time
    read_share_during_recon: float = Field(default=DEFAULT_READ_SHARE_DURING_RECON, ge=0.1, le=1, strict=True)
    #: ``sfsync serve``: the largest request body accepted, in bytes (larger: 413)
    max_request_body: int = Field(default=1024 * 1024, ge=1, strict=True)
    #: ``sfsync serve``: expensive queries (a total count, or a sort on an unindexed field) per client address:
    #: a burst of this many, then ``expensive_query_rate`` a second (more: 429 with Retry-After); 0: no limit
    expensive_query_burst: int = Field(default=10, ge=0, strict=True)
    expensive_query_rate: float = Field(default=1.0, gt=0)
    #: ``sfsync serve``: the request head (target and header fields) at most this many bytes and header fields
    #: (more: 431, or 414 for the target alone), and the seconds a client has to send the headers (from the
    #: connection's opening or the request's first byte) and then the body (later: 408, connection closed)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, strict=True)
    max_header_count: int = Field(default=100, ge=10, strict=True)
    request_header_timeout: float = Field(default=10.0, gt=0)
    request_body_timeout: float = Field(default=30.0, gt=0)
    #: UI preferences: the Textual theme, and a free-form table the app may extend
    theme: str | None = None
    ui: dict[str, Any] = Field(default_factory=dict)

    _original_text: str | None = PrivateAttr(default=None)
    _loaded: dict[str, Any] | None = PrivateAttr(default=None)

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        return value or None

    @classmethod
    def load(cls, project: Project) -> Settings:
        """The project's ``sfsync.toml``, or the defaults when there is none."""
        return cls.load_path(project.settings_path)

    @classmethod
    def load_path(cls, path: str | os.PathLike[str]) -> Settings:
        if not os.path.exists(path):
            return cls()
        text = read_text(path)
        shown = display_path(path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, column = _toml_position(str(exc))
            reason = str(exc).split(" (at ")[0]
            raise ConfigError(f"not valid TOML: {reason}", path=shown, line=line, column=column) from None
        try:
            settings = cls.model_validate(data)
        except ValidationError as exc:
            raise config_error_from(exc, shown) from None
        settings._original_text = text
        settings._loaded = settings.to_data()
        return settings

    def save(self, project: Project) -> None:
        """Write ``sfsync.toml`` atomically with mode 0600 (unchanged settings keep the file's text)."""
        data = self.to_data()
        if self._original_text is not None and data == self._loaded:
            text = self._original_text
        else:
            text = tomli_w.dumps(data)
        write_text_atomic(project.settings_path, text, 0o600)
        self._original_text = text
        self._loaded = data

    def to_data(self) -> dict[str, Any]:
        """What the file must say: the settings that differ from their defaults, and unknown keys (so a
        default changed in a later version reaches every project that never set it; TOML has no null)."""
        return {k: v for k, v in self.model_dump(exclude_defaults=True).items() if v is not None and v != {}}

    def ca_bundle(self) -> str | None:
        """The CA file to trust besides the system's: the setting, else ``$SSL_CERT_FILE``."""
        return self.ca_file or os.environ.get("SSL_CERT_FILE") or None


def _toml_position(message: str) -> tuple[int | None, int | None]:
    """tomllib says ``(at line 3, column 7)``; pull the numbers out for ``file:line:column``."""
    import re

    m = re.search(r"line (\d+), column (\d+)", message)
    if not m:
        return None, None
    return int(m.group(1)), int(m.group(2))
