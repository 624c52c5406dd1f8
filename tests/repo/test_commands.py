"""``sfsync users`` and ``sfsync user get|update`` against a real project folder and repository file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.config.project import Project
from core.errors import UsageError
from core.repo import Repository
from tui.cli import main
from tui.commands.user import parse_changes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project with the sample managed.json and a sync.json without managed/user mappings."""
    (tmp_path / "conf").mkdir()
    shutil.copy(ROOT / "conf" / "managed.json", tmp_path / "conf" / "managed.json")
    (tmp_path / "conf" / "sync.json").write_text(json.dumps({"mappings": []}))
    return Project(tmp_path)


@pytest.fixture
def users(project: Project) -> list[dict]:
    with Repository.for_project(project) as repo:
        return [repo.create({"userName": name, "givenName": name.title(), "sn": sn, "mail": f"{name}@example.com"})
                for name, sn in [("ann", "Smith"), ("bob", "Jones"), ("cy", "Smythe")]]


def run(project: Project, capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["-p", str(project.root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_users_prints_idms_query_result_for_a_filter_with_fields_and_sort(project, users, capsys):
    code, out, _ = run(project, capsys, "users", "--filter", 'sn sw "Sm"', "--fields", "userName",
                       "--sort-keys=-userName")
    result = json.loads(out)
    assert code == 0
    assert [u["userName"] for u in result["result"]] == ["cy", "ann"]
    assert set(result["result"][0]) == {"_id", "_rev", "userName"}
    assert (result["resultCount"], result["totalPagedResults"]) == (2, -1)


def test_users_pages_with_the_cookie_it_printed(project, users, capsys):
    _, out, _ = run(project, capsys, "users", "--page-size", "2", "--sort-keys", "userName", "--total", "EXACT")
    first = json.loads(out)
    assert first["totalPagedResults"] == 3 and first["pagedResultsCookie"]
    _, out, _ = run(project, capsys, "users", "--page-size", "2", "--sort-keys", "userName",
                    "--cookie", first["pagedResultsCookie"])
    assert [u["userName"] for u in json.loads(out)["result"]] == ["cy"]


def test_a_bad_filter_exits_2_naming_the_position(project, users, capsys):
    code, out, err = run(project, capsys, "users", "--filter", 'userName eq')
    assert (code, out) == (2, "")
    assert "position 11" in err and "_queryFilter" in err


def test_a_folder_that_is_not_a_project_is_refused(tmp_path, capsys):
    code = main(["-p", str(tmp_path), "users"])
    assert code == 2 and "not an sfsync project" in capsys.readouterr().err
    assert not (tmp_path / "db").exists()


def test_user_get_prints_the_user_or_exits_1(project, users, capsys):
    code, out, _ = run(project, capsys, "user", "get", users[1]["_id"])
    assert code == 0 and json.loads(out) == users[1]
    code, out, err = run(project, capsys, "user", "get", "absent")
    assert (code, out) == (1, "") and "managed/user/absent not found" in err


def test_user_update_saves_the_fields_and_reports_sync_per_mapping(project, users, capsys):
    target = users[0]
    code, out, _ = run(project, capsys, "user", "update", target["_id"], "sn=Smith-Jones",
                       "preferences/updates:=true", "accountStatus=")
    printed = json.loads(out)
    assert code == 0 and printed["sync"] == []
    with Repository.for_project(project) as repo:
        stored = repo.read(target["_id"])
    assert (stored["sn"], stored["preferences"], "accountStatus" in stored) == ("Smith-Jones", {"updates": True}, False)
    # answered with the sample's virtual properties (property-level onRetrieve), which are never stored
    assert stored["_rev"] != target["_rev"] and printed["user"] == stored | {"effectiveRoles": [],
                                                                             "effectiveAssignments": []}


def test_user_update_refuses_an_invalid_value_with_the_field(project, users, capsys):
    code, _, err = run(project, capsys, "user", "update", users[0]["_id"], "mail=nope")
    assert code == 2 and "mail: is not a valid email address" in err


@pytest.mark.parametrize(("arg", "message"), [("sn", "expected FIELD=VALUE"), ("=x", "expected FIELD=VALUE"),
                                              ("_rev=1", "cannot be changed"), ("n:={", "not JSON")])
def test_malformed_changes_are_usage_errors(arg, message):
    with pytest.raises(UsageError, match=message):
        parse_changes([arg])


def test_the_installed_command_runs_users(project, users):
    out = subprocess.run([sys.executable, "-m", "tui.cli", "-p", str(project.root), "users", "--fields", "_id"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resultCount"] == 3
