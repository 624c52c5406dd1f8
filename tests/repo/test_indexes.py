"""The searchable fields are answered from indexes (query plans, not timings: bench/bench_repo.py times them)."""

from __future__ import annotations

from core.repo.query import QueryRequest


def plan(repo, request: QueryRequest) -> str:
    """SQLite's query plan for the statement run_query would run, captured through a trace callback."""
    from core.repo.query import run_query

    statements: list[str] = []
    conn = repo.db.conn()
    conn.set_trace_callback(statements.append)
    try:
        run_query(conn, repo.users.collection, request)
    finally:
        conn.set_trace_callback(None)
    select = next(s for s in statements if s.lstrip().upper().startswith("SELECT"))
    return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + select))


def test_equality_on_user_name_is_an_index_seek(repo):
    assert "USING INDEX" in plan(repo, QueryRequest('userName eq "bjensen"'))


def test_a_sorted_page_walks_the_sort_index_without_sorting(repo):
    text = plan(repo, QueryRequest("true", sort_keys=("sn",), page_size=50))
    assert "ix_managed_user_sn" in text and "TEMP B-TREE" not in text


def test_a_prefix_filter_on_a_searchable_field_uses_its_index(repo):
    assert "ix_managed_user_mail" in plan(repo, QueryRequest('mail sw "ann"'))


def test_the_next_page_seeks_past_the_cookie_with_the_index(repo, new_user):
    for _ in range(3):
        repo.create(new_user())
    cookie = repo.query(QueryRequest("true", sort_keys=("-sn",), page_size=1))["pagedResultsCookie"]
    text = plan(repo, QueryRequest("true", sort_keys=("-sn",), page_size=1, paged_results_cookie=cookie))
    assert "ix_managed_user_sn" in text and "TEMP B-TREE" not in text


def test_statistics_steer_a_low_selectivity_equality_away_from_its_index(bare_repo):
    """accountStatus is "active" for everyone: once the table is analyzed, the sn range is the better index."""
    bare_repo.create_many([{"userName": f"u{i}", "sn": f"{'Smith' if i % 10 == 0 else 'Jones'}{i}",
                            "accountStatus": "active"} for i in range(1500)])
    assert bare_repo.db.conn().execute(
        "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'managed_user'").fetchone()[0] > 0
    text = plan(bare_repo, QueryRequest('sn sw "Sm" and accountStatus eq "active"', sort_keys=("givenName",),
                                        page_size=50))
    assert "ix_managed_user_sn" in text and "ix_managed_user_accountStatus" not in text


def test_optimize_refreshes_statistics_and_empties_the_wal(bare_repo):
    bare_repo.create_many([{"userName": f"u{i}"} for i in range(300)])
    bare_repo.link_many("m", [(f"sf{i}", f"u{i}") for i in range(300)])
    bare_repo.optimize()
    conn = bare_repo.db.conn()
    assert {r[0] for r in conn.execute("SELECT tbl FROM sqlite_stat1")} >= {"managed_user", "links"}
    wal = bare_repo.path.with_name(bare_repo.path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
