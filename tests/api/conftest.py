"""Fixtures for the REST API tests: a project folder copied from the sample, and HTTP clients over it."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from core.config.project import Project

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}


@pytest.fixture
def sample_project(tmp_path: Path) -> Project:
    """A fresh project holding the repository's sample ``conf/`` (no credentials set, no db yet)."""
    shutil.copytree(ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("sfsync.toml"))
    return Project(tmp_path)


def _asgi_client(app, *, headers: dict[str, str] | None = None,
                 client_host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080", headers=headers)


@pytest.fixture
def asgi_client():
    """``asgi_client(app, headers=..., client_host=...)``: an httpx client calling the app in-process."""
    return _asgi_client
