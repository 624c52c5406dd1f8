"""Which path a full read takes, from the org's answers (size, latency measured), and ``recon --explain``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.salesforce.plan import plan_read
from tests.reliability.helpers import INBOUND, OUTBOUND, cli
from tests.sync.orgproject import make_project


def test_below_the_threshold_or_with_it_zero_the_read_is_rest_pages():
    assert plan_read(10_000, 0.25, threshold=50_000).path == "rest"
    assert "below bulk_query_threshold" in plan_read(10_000, 0.25, threshold=50_000).why
    assert plan_read(10**6, 0.25, threshold=0).path == "rest"


def test_from_the_threshold_the_quicker_path_wins_by_the_latency_measured():
    near = plan_read(100_000, 0.002, threshold=50_000)
    assert near.path == "rest" and near.rest_seconds < near.bulk_seconds
    assert near.expected_calls == 49          # 50 pages, the first already read
    far = plan_read(2_000_000, 0.5, threshold=50_000)    # 1,000 pages at 500 ms, 6 at a time: ~84 s of waiting
    assert far.path == "bulk" and far.bulk_seconds <= far.rest_seconds
    assert far.pages == 200 and far.expected_calls < 999 / 2   # far fewer than the REST pages
    assert "Bulk API job" in far.why


def test_the_bulk_api_is_taken_when_rest_calls_would_eat_the_daily_limit_or_when_asked():
    tight = plan_read(100_000, 0.01, threshold=50_000, api_left=60)
    assert tight.path == "bulk" and "API requests left" in tight.why
    assert plan_read(100_000, 0.01, threshold=50_000, mode="always").path == "bulk"
    assert plan_read(10_000, 0.01, threshold=50_000, mode="always").path == "rest"
    with pytest.raises(ValueError, match="bulk_query"):
        plan_read(1, 0.0, threshold=1, mode="sometimes")


def test_recon_explain_prints_the_plan_and_runs_nothing(live_org_factory: Any, tmp_path: Any, capsys: Any):
    live = live_org_factory(users=3_000, latency_ms=30)
    project = make_project(tmp_path / "p", live.org, live.url)
    (project.conf_dir / "sfsync.toml").write_text("bulk_query_threshold = 2000\n")
    before = live.org.api_used
    result = cli(capsys, project.root, "recon", INBOUND, "--explain")
    assert result.returncode == 0, result.stderr
    assert "source: system/salesforce/User, 3,004 records by REST query pages" in result.stdout
    assert "why: at " in result.stdout and "target: managed/user from the repository" in result.stdout
    assert live.org.api_used - before == 1      # one COUNT() call, nothing else
    assert not (project.root / "db" / "sfsync.sqlite3").exists() or _no_runs(project.root)

    result = cli(capsys, project.root, "recon", OUTBOUND, "--explain", "--json")
    plan = json.loads(result.stdout)
    [source, target] = plan["reads"]
    assert source["path"] == "repository" and target["path"] == "rest" and target["records"] == 3_004
    assert target["latency_ms"] >= 30 and target["expected_calls"] == 2
    assert plan["writes"]["path"] == "composite/sobjects" and plan["writes"]["calls_at_once"] >= 1

    (project.conf_dir / "sfsync.toml").write_text('bulk_query_threshold = 2000\nbulk_query = "always"\n')
    plan = json.loads(cli(capsys, project.root, "recon", INBOUND, "--explain", "--json").stdout)
    assert plan["reads"][0]["path"] == "bulk" and "always" in plan["reads"][0]["why"]


def _no_runs(root: Any) -> bool:
    from core.repo import Repository

    with Repository.open(root / "db" / "sfsync.sqlite3") as repo:
        return repo.runs.list() == []
