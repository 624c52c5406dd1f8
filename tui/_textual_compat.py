"""Every use of Textual's private internals, in one place (Textual is pinned exactly in pyproject.toml).

The app reaches below Textual's public API in three places, each for a measured reason written beside it. When
Textual is upgraded, this file and ``tests/tui/test_textual_compat.py`` (a test per function, against the
installed Textual) are all that need looking at: a renamed internal fails there, not somewhere in the app.
"""

from __future__ import annotations

from typing import Any

from textual._context import active_app
from textual.app import App
from textual.dom import DOMNode

__all__ = ["active_app_or_none", "build_mode", "css_update_count", "has_built_mode", "mark_css_current"]


def active_app_or_none() -> App[Any] | None:
    """The app whose message loop is running now (Textual's context variable), or None outside one."""
    return active_app.get(None)


def css_update_count(app: App[Any]) -> int:
    """How many times the app's CSS has changed (a theme change bumps it); a node whose own count equals it
    is styled as current."""
    return int(app._css_update_count)


def mark_css_current(node: DOMNode, count: int) -> None:
    """Tell Textual ``node`` is styled for CSS update ``count``, so showing it skips a full restyle."""
    node._css_update_count = count  # type: ignore[attr-defined]  # set on Widget/Screen, not declared on DOMNode


def has_built_mode(app: App[Any], mode: str) -> bool:
    """Whether ``mode``'s screen stack exists (built by a switch or by :func:`build_mode`)."""
    return mode in app._screen_stacks


def build_mode(app: App[Any], mode: str) -> None:
    """Build ``mode``'s screen without showing it (what ``switch_mode`` does first), so the first switch to it
    later is instant."""
    app._init_mode(mode)
