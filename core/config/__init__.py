"""The project folder and the IDM-format configuration files in its ``conf/``.

:class:`ProjectConfig` is one look at those files, each read once when first needed; a front end keeps a
:class:`ConfigWatcher` and takes its ``current()`` look per operation (``core/config/loaded.py``).

The names below are imported on first use (PEP 562): ``core.config.project`` alone is what start-up needs,
and the provisioner's models bring pydantic (~0.2 s), which the app's first screen must not wait for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config.jsonfile import display_path
    from core.config.loaded import ConfigWatcher, ProjectConfig, file_stamp, watcher_of
    from core.config.masking import mask_secret
    from core.config.project import Project
    from core.config.provisioner import ConfigurationProperties, ProvisionerConfig
    from core.config.rotation import rotate_key
    from core.config.settings import Settings
    from core.config.urls import LoginUrlKind, check_url, kind_of, login_url_for

_WHERE = {
    "ConfigWatcher": "loaded",
    "ConfigurationProperties": "provisioner",
    "LoginUrlKind": "urls",
    "Project": "project",
    "ProjectConfig": "loaded",
    "ProvisionerConfig": "provisioner",
    "Settings": "settings",
    "check_url": "urls",
    "display_path": "jsonfile",
    "file_stamp": "loaded",
    "kind_of": "urls",
    "login_url_for": "urls",
    "mask_secret": "masking",
    "rotate_key": "rotation",
    "watcher_of": "loaded",
}

__all__ = [
    "ConfigWatcher",
    "ConfigurationProperties",
    "LoginUrlKind",
    "Project",
    "ProjectConfig",
    "ProvisionerConfig",
    "Settings",
    "check_url",
    "display_path",
    "file_stamp",
    "kind_of",
    "login_url_for",
    "mask_secret",
    "rotate_key",
    "watcher_of",
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
