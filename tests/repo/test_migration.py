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
