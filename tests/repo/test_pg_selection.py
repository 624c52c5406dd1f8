"""Which repository a project opens: SFSYNC_REPO_URL (wins), IDM's conf/datasource.jdbc-default.json, else SQLite;
a bad or unreachable setting is a ConfigError naming the variable or file, the password never shown."""

from __future__ import annotations

import json

import pytest

from core.config.project import Project
from core.errors import ConfigError
from core.repo import Repository
from core.repo.datasource import pg_settings
from core.repo.pgrepository import PgRepository


def _project(tmp_path) -> Project:
    (tmp_path / "conf").mkdir(exist_ok=True)
    return Project(tmp_path)


def _datasource(tmp_path, **fields) -> None:
    body = {"driverClass": "org.postgresql.Driver", "jdbcUrl": "jdbc:postgresql://db.example:5433/openidm",
            "databaseName": "openidm", "username": "openidm", "password": "s3cr3t-pw", "connectionTimeout": 5000,
            "connectionPool": {"type": "hikari", "minimumIdle": 2, "maximumPoolSize": 50}, **fields}
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "datasource.jdbc-default.json").write_text(json.dumps(body))


def test_neither_setting_opens_the_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SFSYNC_REPO_URL", raising=False)
    with Repository.for_project(_project(tmp_path), validate=False) as repo:
        assert isinstance(repo, Repository) and repo.location.endswith("sfsync.sqlite3")


def test_sfsync_repo_url_opens_postgresql_in_idms_layout(tmp_path, monkeypatch, pg_url):
    monkeypatch.setenv("SFSYNC_REPO_URL", pg_url)
    with Repository.for_project(_project(tmp_path), validate=False) as repo:
        assert isinstance(repo, PgRepository)
        created = repo.create({"userName": "ann@example.com", "sn": "Lee"})
        row = repo.db.fetchone("SELECT t.objecttype, m.fullobject FROM openidm.managedobjects m "
                               "JOIN openidm.objecttypes t ON t.id = m.objecttypes_id WHERE m.objectid = %s",
                               (created["_id"],))
        assert row == ("managed/user", {"userName": "ann@example.com", "sn": "Lee"})
    assert not (tmp_path / "db" / "sfsync.sqlite3").exists()


def test_the_datasource_file_is_read_as_idm_reads_it(tmp_path, monkeypatch):
    monkeypatch.delenv("SFSYNC_REPO_URL", raising=False)
    _datasource(tmp_path)
    settings = pg_settings(tmp_path / "conf")
    assert settings is not None
    assert settings.url == "postgresql://openidm:s3cr3t-pw@db.example:5433/openidm"
    assert (settings.timeout, settings.min_size, settings.max_size) == (5.0, 2, 16)  # the pool capped at 16
    monkeypatch.setenv("SFSYNC_REPO_URL", "postgresql:///other?host=/tmp")
    assert pg_settings(tmp_path / "conf").url == "postgresql:///other?host=/tmp"  # the variable wins


@pytest.mark.parametrize("fields, field", [
    ({"jdbcUrl": "jdbc:mysql://db:3306/openidm"}, "jdbcUrl"),
    ({"jdbcUrl": "jdbc:postgresql://&{openidm.repo.host}:5432/openidm"}, "jdbcUrl"),
    ({"jdbcUrl": "jdbc:postgresql://db:port/openidm"}, "jdbcUrl"),
    ({"jdbcUrl": "jdbc:postgresql://db:5432/", "databaseName": None}, "databaseName"),
    ({"jndiName": "jdbc/openidm"}, "jndiName"),
    ({"connectionPool": {"maximumPoolSize": "many"}}, "connectionPool.maximumPoolSize"),
    ({"password": {"$crypto": {"type": "x-simple-encryption", "value": {"stableId": "openidm-sym-default"}}}},
     "password"),
])
def test_a_bad_datasource_file_names_the_file_and_field(tmp_path, monkeypatch, fields, field):
    monkeypatch.delenv("SFSYNC_REPO_URL", raising=False)
    _datasource(tmp_path, **fields)
    with pytest.raises(ConfigError) as caught:
        Repository.for_project(_project(tmp_path), validate=False)
    assert f"datasource.jdbc-default.json: {field}:" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)


def test_an_unreachable_server_names_the_file_and_masks_the_password(tmp_path, monkeypatch):
    monkeypatch.delenv("SFSYNC_REPO_URL", raising=False)
    _datasource(tmp_path, jdbcUrl="jdbc:postgresql://127.0.0.1:1/openidm", connectionTimeout=2000)
    with pytest.raises(ConfigError) as caught:
        Repository.for_project(_project(tmp_path), validate=False)
    text = str(caught.value)
    assert "datasource.jdbc-default.json" in text and "cannot connect" in text
    assert "openidm:***@127.0.0.1:1/openidm" in text and "s3cr3t-pw" not in text


@pytest.mark.parametrize("url, shown", [
    ("mysql://db/openidm", "not a PostgreSQL URI"),
    ("postgresql://u:hunter2@127.0.0.1:1/x?connect_timeout=2", "u:***@127.0.0.1:1/x"),
])
def test_a_bad_or_unreachable_url_names_the_variable(tmp_path, monkeypatch, url, shown):
    monkeypatch.setenv("SFSYNC_REPO_URL", url)
    with pytest.raises(ConfigError) as caught:
        Repository.for_project(_project(tmp_path), validate=False)
    assert str(caught.value).startswith("SFSYNC_REPO_URL: ") and shown in str(caught.value)
    assert "hunter2" not in str(caught.value)
