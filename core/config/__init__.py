"""The project folder and the IDM-format configuration files in its ``conf/``.

The names below are imported on first use (PEP 562): ``core.config.project`` alone is what start-up needs,
and the provisioner's models bring pydantic (~0.2 s), which the app's first screen must not wait for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config.masking import mask_secret
    from core.config.project import Project
    from core.config.provisioner import ConfigurationProperties, ProvisionerConfig
    from core.config.settings import Settings
    from core.config.urls import LoginUrlKind, kind_of, login_url_for

_WHERE = {
    "ConfigurationProperties": "provisioner",
    "LoginUrlKind": "urls",
    "Project": "project",
    "ProvisionerConfig": "provisioner",
    "Settings": "settings",
    "kind_of": "urls",
    "login_url_for": "urls",
    "mask_secret": "masking",
}

__all__ = [
    "ConfigurationProperties",
    "LoginUrlKind",
    "Project",
    "ProvisionerConfig",
    "Settings",
    "kind_of",
    "login_url_for",
    "mask_secret",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next look-up is a plain global
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
