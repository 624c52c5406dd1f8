"""Fixtures for the app's tests: a throw-away project folder, a quiet app, no real browser or clipboard."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Input

from core.config.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A copy of the sample project (conf/ only; db/ is created on first use)."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return Project(tmp_path)


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes screenshots differ run to run."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


@pytest.fixture(autouse=True)
def no_browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Tests must never launch a browser; the URLs the app tried to open are recorded instead."""
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    return opened
