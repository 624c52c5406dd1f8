"""A local Salesforce org: OAuth server and REST data API over an in-memory org of Users and Profiles.

``Org.generate(users, seed)`` / ``Org.load(path)`` build the org; ``create_app(org, ...)`` serves it as a
Starlette app; ``serve(...)`` runs it with uvicorn and prints the JSON line the ``sfsync demo-org`` command
promises; ``OrgServer`` runs it in a thread (the demo, tests). Stand-alone: imports nothing else of sfsync.
The server names load uvicorn, so they are imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .app import create_app
from .org import Org

if TYPE_CHECKING:
    from .server import OrgServer, serve

__all__ = ["Org", "OrgServer", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name not in ("OrgServer", "serve"):
        raise AttributeError(f"module 'core.emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module("core.emulator.server"), name)
    globals()[name] = value
    return value
