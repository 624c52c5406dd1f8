"""A repository file written by the first layout (text primary keys, user_version 1) opens with its data."""

from __future__ import annotations

import sqlite3

from core.repo import Repository


def test_a_version_1_file_keeps_its_users_and_links(tmp_path, schema):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE links (id TEXT PRIMARY KEY, rev TEXT NOT NULL, link_type TEXT NOT NULL,
                link_qualifier TEXT NOT NULL DEFAULT 'default', first_id TEXT NOT NULL, second_id TEXT NOT NULL,
                UNIQUE (link_type, link_qualifier, first_id), UNIQUE (link_type, link_qualifier, second_id));
            CREATE INDEX ix_links_type ON links (link_type, id);
            INSERT INTO links VALUES ('l1', '0', 'm', 'default', 'sf1', 'u1');
            CREATE TABLE managed_user (id TEXT PRIMARY KEY, rev TEXT NOT NULL, data TEXT NOT NULL);
            INSERT INTO managed_user VALUES ('u1', '00000000aaaaaaaa',
                '{"userName":"old","givenName":"O","sn":"Ld","mail":"old@example.com"}');
            PRAGMA user_version = 1;
        """)
    with Repository.open(path, schema) as repo:
        assert repo.read("u1")["userName"] == "old"
        assert repo.links_by_first("m", ["sf1"])["sf1"].second_id == "u1"
        assert repo.query({"_queryFilter": 'userName eq "OLD"'})["resultCount"] == 1
        repo.create({"userName": "new", "givenName": "N", "sn": "Ew", "mail": "new@example.com"})
        assert list(repo.iter_ids())[0] == "u1"
    with Repository.open(path, schema) as again:  # opening a current file changes nothing
        assert again.count() == 2 and again.links.count("m") == 1


def test_a_version_3_file_gets_the_run_index_and_a_run_page_needs_no_sort(tmp_path):
    """user_version 3 had only (recon_id, situation): a page of one run's entries sorted the whole run."""
    import sqlite3

    from core.repo import Repository
    from core.repo.db import SCHEMA_VERSION

    path = tmp_path / "v3.sqlite3"
    with Repository.open(path) as repo:
        repo.audit.add_many([{"reconId": "r1", "status": "SUCCESS", "situation": "ABSENT"}] * 3)
    conn = sqlite3.connect(path)
    conn.executescript("DROP INDEX ix_audit_run; PRAGMA user_version = 3;")
    conn.close()
    with Repository.open(path) as repo:
        conn = repo.db.conn()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        plan = " ".join(row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id, data FROM recon_audit WHERE recon_id = ? ORDER BY seq LIMIT 50", ("r1",)))
        assert "ix_audit_run" in plan and "TEMP B-TREE" not in plan
        assert repo.audit.count("r1") == 3
