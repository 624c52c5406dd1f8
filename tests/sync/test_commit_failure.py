"""A page whose transaction fails at its end (COMMIT on a full disk) is rolled back and never counted: the
FAILED run, as returned, as stored and as last published, says exactly what the repository holds.

The repository is the real SQLite file; only its outermost transaction of the N-th page is made to fail
after the page's writes, audit entries and run progress were all done in it, which is where a COMMIT fails.
(tests/reliability/test_storage.py does the same on a real full tmpfs, as root.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from core.repo.errors import RepoError
from core.sync import objectsets
from core.sync.service import SyncService

USERS = 35
PAGE = 10
FAILING_PAGE = 3  # pages 1 and 2 commit, page 3 does not, page 4 is never reached


class _Audit:
    def __init__(self, audit: Any, owner: CommitFailsOnPage) -> None:
        self._audit = audit
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._audit, name)

    def add_many(self, entries: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        if any(e.get("entryType") == "entry" for e in entries):
            self._owner.mark_page()
        return self._audit.add_many(entries, *args, **kwargs)

    def insert(self, rows: list[tuple[str, str, str]]) -> Any:
        """A page's rows, prepared before its transaction (``(id, reconId, JSON)``)."""
        if any('"entryType":"entry"' in row[2] for row in rows):
            self._owner.mark_page()
        return self._audit.insert(rows)


class CommitFailsOnPage:
    """The project's repository, but the outermost transaction that holds the ``fail_on``-th page of audit
    entries raises at its end (so the real transaction rolls back), as ``Db.transaction`` does when COMMIT
    fails."""

    def __init__(self, repo: Any, fail_on: int) -> None:
        self._repo = repo
        self._local = threading.local()
        self._fail_on = fail_on
        self.pages = 0
        self.failed = False
        self.audit = _Audit(repo.audit, self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def close(self) -> None:
        """The fixture's own service closes the real repository."""

    def mark_page(self) -> None:
        self._local.page = True

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        if depth == 0:
            self._local.page = False
        try:
            with self._repo.transaction() as conn:
                yield conn
                if depth == 0 and self._local.page:
                    self.pages += 1
                    if self.pages == self._fail_on:
                        self.failed = True
                        raise RepoError(f"{self._repo.db.path}: the write could not be saved: "
                                        "database or disk is full")
        finally:
            self._local.depth = depth


COUNTED = ("progress", "situationSummary", "statusSummary", "actionSummary")


@pytest.mark.parametrize("dry_run", [False, True], ids=["writing", "dry-run"])
def test_a_page_whose_commit_fails_is_not_counted_in_the_failed_run(make_env, monkeypatch, dry_run):
    monkeypatch.setattr(objectsets, "PAGE_SIZE", PAGE)
    env = make_env()
    for n in range(USERS):
        env.user(f"user{n:03d}")
    failing = CommitFailsOnPage(env.repo, FAILING_PAGE)
    service = SyncService(env.project, repo=failing)
    published: list[dict[str, Any]] = []
    try:
        run = asyncio.run(service.reconcile("userAccount", dry_run=dry_run, on_progress=published.append))
    finally:
        service.close()
    assert failing.failed
    assert run["state"] == "FAILED" and "disk is full" in run["failureReason"], run

    stored = env.repo.runs.get(run["_id"])
    assert {k: stored[k] for k in COUNTED} == {k: run[k] for k in COUNTED}
    assert {k: published[-1][k] for k in COUNTED} == {k: run[k] for k in COUNTED}

    committed = (FAILING_PAGE - 1) * PAGE
    entries = env.audit(run)
    assert len(entries) == committed  # the failed page's audit entries were rolled back with it
    assert run["progress"]["source"]["existing"]["processed"] == committed
    assert run["statusSummary"] == {"SUCCESS": committed, "FAILURE": 0}
    assert run["situationSummary"]["ABSENT"] == committed
    assert run["actionSummary"] == {"CREATE": committed}
    assert run["progress"]["target"]["created"] == committed
    assert sum(1 for e in entries if e.get("action") == "CREATE") == committed
    if dry_run:
        assert env.accounts() == [] and env.links() == []
    else:
        assert len(env.accounts()) == len(env.links()) == committed
        assert run["progress"]["links"]["created"] == committed
    # audit ids stay contiguous: the rolled-back page's numbers were given to the summary
    numbers = sorted(int(e["_id"].rsplit("-", 1)[1]) for e in env.service.audit(run["_id"])["result"])
    assert numbers == list(range(1, len(numbers) + 1))


def test_a_rerun_after_a_failed_commit_creates_the_rest_and_counts_them(make_env, monkeypatch):
    monkeypatch.setattr(objectsets, "PAGE_SIZE", PAGE)
    env = make_env()
    for n in range(USERS):
        env.user(f"user{n:03d}")
    service = SyncService(env.project, repo=CommitFailsOnPage(env.repo, FAILING_PAGE))
    try:
        failed = asyncio.run(service.reconcile("userAccount"))
    finally:
        service.close()
    assert failed["state"] == "FAILED"
    again = env.recon()
    assert again["state"] == "SUCCESS"
    created = USERS - failed["progress"]["target"]["created"]
    assert again["progress"]["target"]["created"] == created
    assert again["situationSummary"]["FOUND"] == 0 and again["situationSummary"]["CONFIRMED"] == USERS - created
    assert len(env.accounts()) == len(env.links()) == USERS
