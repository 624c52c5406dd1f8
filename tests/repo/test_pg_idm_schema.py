"""The PostgreSQL repository on a database whose tables IDM's own scripts made: used as they are (nothing
altered, nothing added to IDM's tables), objects IDM wrote are read, and what sfsync writes is where IDM looks.
Also: two processes updating one user with the same ``_rev`` — one wins, the other gets PreconditionFailed."""

from __future__ import annotations

import json
import multiprocessing

import psycopg
import pytest

from core.repo import PreconditionFailed, QueryRequest
from core.repo.pgrepository import PgRepository

#: IDM's DDL for the tables sfsync uses, as IDM's db/postgresql/scripts/openidm.pgsql makes them (reference
#: idm-beyond-the-sample.md §1.3); ``{json}`` is JSON (5.x-7.0) or JSONB (later 7.x)
IDM_PGSQL = """
CREATE SCHEMA openidm;
CREATE TABLE openidm.objecttypes (
  id BIGSERIAL NOT NULL, objecttype VARCHAR(255) NOT NULL, PRIMARY KEY (id),
  CONSTRAINT idx_objecttypes_objecttype UNIQUE (objecttype));
CREATE TABLE openidm.managedobjects (
  id BIGSERIAL NOT NULL, objecttypes_id BIGINT NOT NULL, objectid VARCHAR(255) NOT NULL, rev VARCHAR(38) NOT NULL,
  fullobject {json}, PRIMARY KEY (id),
  CONSTRAINT fk_managedobjects_objectypes FOREIGN KEY (objecttypes_id) REFERENCES openidm.objecttypes (id)
    ON DELETE CASCADE ON UPDATE NO ACTION);
CREATE UNIQUE INDEX idx_managedobjects_object ON openidm.managedobjects (objecttypes_id, objectid);
CREATE INDEX fk_managedobjects_objectypes ON openidm.managedobjects (objecttypes_id);
CREATE TABLE openidm.links (
  objectid VARCHAR(38) NOT NULL, rev VARCHAR(38) NOT NULL, linktype VARCHAR(50) NOT NULL,
  linkqualifier VARCHAR(50) NOT NULL, firstid VARCHAR(255) NOT NULL, secondid VARCHAR(255) NOT NULL,
  PRIMARY KEY (objectid));
CREATE UNIQUE INDEX idx_links_first ON openidm.links (linktype, linkqualifier, firstid);
CREATE UNIQUE INDEX idx_links_second ON openidm.links (linktype, linkqualifier, secondid);
CREATE TABLE openidm.auditrecon (
  objectid VARCHAR(56) NOT NULL, transactionid VARCHAR(255) NOT NULL, activitydate VARCHAR(29) NOT NULL,
  eventname VARCHAR(50) DEFAULT NULL, userid VARCHAR(255) DEFAULT NULL, trackingids TEXT,
  activity VARCHAR(24) DEFAULT NULL, exceptiondetail TEXT, linkqualifier VARCHAR(255) DEFAULT NULL,
  mapping VARCHAR(511) DEFAULT NULL, message TEXT, messagedetail TEXT, situation VARCHAR(24) DEFAULT NULL,
  sourceobjectid VARCHAR(511) DEFAULT NULL, status VARCHAR(20) DEFAULT NULL, targetobjectid VARCHAR(511) DEFAULT NULL,
  reconciling VARCHAR(12) DEFAULT NULL, ambiguoustargetobjectids TEXT, reconaction VARCHAR(36) DEFAULT NULL,
  entrytype VARCHAR(7) DEFAULT NULL, reconid VARCHAR(56) DEFAULT NULL, PRIMARY KEY (objectid));
CREATE INDEX idx_auditrecon_reconid ON openidm.auditrecon (reconid);
CREATE INDEX idx_auditrecon_entrytype ON openidm.auditrecon (entrytype);
CREATE TABLE openidm.auditsync (
  objectid VARCHAR(56) NOT NULL, transactionid VARCHAR(255) NOT NULL, activitydate VARCHAR(29) NOT NULL,
  eventname VARCHAR(50) DEFAULT NULL, userid VARCHAR(255) DEFAULT NULL, trackingids TEXT,
  activity VARCHAR(24) DEFAULT NULL, exceptiondetail TEXT, linkqualifier VARCHAR(255) DEFAULT NULL,
  mapping VARCHAR(511) DEFAULT NULL, message TEXT, messagedetail TEXT, situation VARCHAR(24) DEFAULT NULL,
  sourceobjectid VARCHAR(511) DEFAULT NULL, status VARCHAR(20) DEFAULT NULL, targetobjectid VARCHAR(511) DEFAULT NULL,
  PRIMARY KEY (objectid));
CREATE TABLE openidm.auditactivity (
  objectid VARCHAR(56) NOT NULL, activitydate VARCHAR(29) NOT NULL, eventname VARCHAR(255) DEFAULT NULL,
  transactionid VARCHAR(255) NOT NULL, userid VARCHAR(255) DEFAULT NULL, trackingids TEXT,
  runas VARCHAR(255) DEFAULT NULL, activityobjectid VARCHAR(255) NULL, operation VARCHAR(255) NULL,
  subjectbefore TEXT, subjectafter TEXT, changedfields TEXT, subjectrev VARCHAR(255) DEFAULT NULL,
  passwordchanged VARCHAR(5) DEFAULT NULL, message TEXT, provider VARCHAR(255) DEFAULT NULL,
  context VARCHAR(25) DEFAULT NULL, status VARCHAR(20), PRIMARY KEY (objectid));
INSERT INTO openidm.objecttypes (objecttype) VALUES ('managed/user');
INSERT INTO openidm.managedobjects (objecttypes_id, objectid, rev, fullobject)
  SELECT id, 'idm-made-1', '3', '{"_id": "idm-made-1", "_rev": "3", "userName": "Made.By@IDM", "sn": "Idm"}'
  FROM openidm.objecttypes WHERE objecttype = 'managed/user';
"""

#: the definition of every table and index in schema openidm (what "untouched" means)
LAYOUT = """
SELECT 'col', table_name || '.' || column_name || ':' || data_type || ':' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = 'openidm'
UNION ALL SELECT 'idx', indexdef FROM pg_indexes WHERE schemaname = 'openidm'
UNION ALL SELECT 'con', conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
  WHERE connamespace = 'openidm'::regnamespace
ORDER BY 1, 2
"""


@pytest.fixture(params=["jsonb", "json"])
def idm_db(request, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(IDM_PGSQL.replace("{json}", request.param))
    return pg_url


def _layout(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(LAYOUT).fetchall()


def test_an_idm_made_schema_is_used_as_it_is(idm_db):
    before = _layout(idm_db)
    with PgRepository.open(idm_db) as repo:
        assert not repo.db.owns_idm_tables
        made = repo.read("idm-made-1")  # IDM's copy of _id/_rev inside fullobject does not win over the columns
        assert made == {"_id": "idm-made-1", "_rev": "3", "userName": "Made.By@IDM", "sn": "Idm"}
        assert [u["_id"] for u in repo.query(QueryRequest('userName eq "made.by@idm"'))["result"]] == ["idm-made-1"]
        ann = repo.create({"userName": "ann@example.com", "sn": "Lee"})
        repo.update(ann["_id"], {"userName": "ann@example.com", "sn": "Lee-Smith"}, ann["_rev"])
        repo.link("systemSalesforceUser_managedUser", "005A", ann["_id"])
        repo.audit.add_many([{"reconId": "r1", "mapping": "systemSalesforceUser_managedUser", "situation": "FOUND",
                              "action": "UPDATE", "status": "SUCCESS", "messageDetail": {"n": 1}}])
        assert repo.audit.query_recon(QueryRequest('situation eq "FOUND"'))["result"][0]["messageDetail"] == {"n": 1}
    assert _layout(idm_db) == before  # no column, index or constraint added to or changed in IDM's tables
    with psycopg.connect(idm_db) as conn:  # where IDM looks for them
        assert conn.execute("SELECT m.fullobject::jsonb->>'sn' FROM openidm.managedobjects m JOIN openidm.objecttypes t "
                            "ON t.id = m.objecttypes_id WHERE t.objecttype = 'managed/user' AND m.objectid = %s",
                            (ann["_id"],)).fetchone() == ("Lee-Smith",)
        assert conn.execute("SELECT linktype, linkqualifier, firstid, secondid FROM openidm.links").fetchall() == [
            ("systemSalesforceUser_managedUser", "default", "005A", ann["_id"])]
        row = conn.execute("SELECT reconid, activity, situation, messagedetail FROM openidm.auditrecon").fetchone()
        assert row[:3] == ("r1", "UPDATE", "FOUND") and json.loads(row[3]) == {"n": 1}


def test_a_schema_sfsync_made_gets_expression_indexes_on_searchable_fields(pg_url, schema):
    with PgRepository.open(pg_url, schema) as repo:
        assert repo.db.owns_idm_tables
        indexes = " ".join(r[0] for r in repo.db.fetchall(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'managedobjects'"))
        assert "(fullobject ->> 'userName'::text)" in indexes and "UNIQUE" in indexes
        for n in range(300):
            repo.create({"userName": f"u{n}@example.com", "givenName": "G", "sn": "S", "mail": f"u{n}@x.org"})
        repo.optimize()
        plan = " ".join(r[0] for r in repo.db.fetchall(
            "EXPLAIN SELECT objectid FROM openidm.managedobjects WHERE objecttypes_id = %s "
            "AND lower((fullobject->>'userName') COLLATE \"C\") = lower(%s COLLATE \"C\")",
            (repo.users.type_id, "U7@example.com")))
        assert "Index" in plan


def _update_in_another_process(url: str, user_id: str, rev: str, sn: str, start, out) -> None:
    with PgRepository.open(url) as repo:
        start.wait(30)
        try:
            repo.update(user_id, {"userName": "race@example.com", "sn": sn}, rev)
            out.put(("ok", sn))
        except PreconditionFailed:
            out.put(("412", sn))


def test_two_processes_updating_one_user_with_one_rev_one_wins(pg_url):
    with PgRepository.open(pg_url) as repo:
        user = repo.create({"userName": "race@example.com", "sn": "Start"})
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_update_in_another_process, args=(pg_url, user["_id"], user["_rev"], sn, start, out))
             for sn in ("A", "B")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    outcomes = sorted(out.get(timeout=5) for _ in procs)
    assert [o[0] for o in outcomes] == ["412", "ok"]
    winner = next(sn for kind, sn in outcomes if kind == "ok")
    with PgRepository.open(pg_url) as repo:
        assert repo.read(user["_id"])["sn"] == winner  # the loser wrote nothing
