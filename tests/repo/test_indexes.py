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
