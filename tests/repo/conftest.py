"""Fixtures for the repository tests: a real SQLite file in a temporary folder, with the sample's schema.

A test (or module) marked ``@pytest.mark.backends("sqlite", "postgresql")`` runs once per backend
(tests/fixtures/pg.py): its ``repo`` and ``bare_repo`` are then a PostgreSQL repository in a fresh database of
the test server as well. Unmarked tests look at SQLite internals and run on SQLite only.
"""

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
def backend(repo_backend: str) -> str:
    """The backend of this test (tests/fixtures/pg.py: the ``backends`` marker's parameter)."""
    return repo_backend


def _open(request: pytest.FixtureRequest, backend: str, path: Path, schema: ManagedSchema | None) -> Any:
    if backend == "postgresql":
        from core.repo.pgrepository import PgRepository

        return PgRepository.open(request.getfixturevalue("pg_url"), schema)
    return Repository.open(path, schema)


@pytest.fixture
def repo(request: pytest.FixtureRequest, backend: str, tmp_path: Path, schema: ManagedSchema) -> Iterator[Any]:
    r = _open(request, backend, tmp_path / "db" / "sfsync.sqlite3", schema)
    yield r
    r.close()


@pytest.fixture
def bare_repo(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Any]:
    """A repository opened without a schema: no validation, the default searchable columns."""
    r = _open(request, backend, tmp_path / "bare.sqlite3", None)
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
