"""Fixtures for the repository tests: a real SQLite file in a temporary folder, with the sample's schema."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config.project import Project
from core.repo import ManagedSchema, Repository

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def schema() -> ManagedSchema:
    """The user schema of the repository's own conf/managed.json (the IDM 6.5 sample's)."""
    return ManagedSchema.load(Project(ROOT))


@pytest.fixture
def repo(tmp_path: Path, schema: ManagedSchema) -> Iterator[Repository]:
    r = Repository.open(tmp_path / "db" / "sfsync.sqlite3", schema)
    yield r
    r.close()


@pytest.fixture
def bare_repo(tmp_path: Path) -> Iterator[Repository]:
    """A repository opened without a schema: no validation, the default searchable columns."""
    r = Repository.open(tmp_path / "bare.sqlite3")
    yield r
    r.close()


@pytest.fixture
def new_user() -> Callable[..., dict[str, Any]]:
    """A valid user; keyword arguments override fields (userName is unique per call)."""
    counter = itertools.count(1)

    def make(**fields: Any) -> dict[str, Any]:
        n = next(counter)
        user = {"userName": f"user{n}@example.com", "givenName": f"Given{n}", "sn": f"Sn{n}",
                "mail": f"user{n}@example.com"}
        user.update(fields)
        return user

    return make
