"""Configuration read once per operation (``core/config/loaded.py``): ``ProjectConfig``, ``ConfigWatcher``, and
the front ends that hold them (the command line, the REST server, the app)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from core.config import ConfigWatcher, Project, ProjectConfig
from core.errors import ConfigError
from core.sync import SyncConfig
from tests.fixtures.reads import age, replace
from tests.sync.orgproject import make_project
from tui.cli import main

INBOUND = "systemSalesforceUser_managedUser"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sample(tmp_path: Path) -> Project:
    (tmp_path / "conf").mkdir()
    for name in ("managed.json", "sync.json"):
        (tmp_path / "conf" / name).write_text((ROOT / "conf" / name).read_text())
    (tmp_path / "conf" / "sfsync.toml").write_text("keep_runs = 7\n")
    project = Project(tmp_path)
    age(*project.conf_dir.iterdir())
    return project


# ---- the command line: one look per command -----------------------------------------------------------------
ALL = {"sync.json", "managed.json", "sfsync.toml", "provisioner.openicf-salesforce.json"}


@pytest.mark.parametrize(("command", "files", "code"), [
    (["recon", INBOUND, "--json"], ALL, 0),
    (["recon", INBOUND, "--dry-run", "--json"], ALL, 0),
    (["recon", INBOUND, "--explain", "--json"], ALL - {"managed.json"}, 0),  # no repository opened
    (["livesync", "--json"], ALL, 0),
    # implicit sync to Salesforce runs (the org refuses a User without ProfileId: exit 1, the user created)
    (["user", "create", "userName=ada.l", "givenName=Ada", "sn=Lovelace", "mail=ada.l@example.com"], ALL, 1),
])
def test_a_command_reads_each_config_file_once(live_org_factory, tmp_path, conf_reads, capsys, command, files,
                                               code):
    live = live_org_factory(users=30, seed=3)
    project = make_project(tmp_path / "p", live.org, live.url)
    (project.conf_dir / "sfsync.toml").write_text("keep_runs = 50\n")
    conf_reads.clear()
    assert main(["-p", str(project.root), *command]) == code, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)
    assert set(conf_reads) == files
    assert {name: n for name, n in conf_reads.items() if n > 1} == {}


# ---- ProjectConfig: each file read on first use, once ----------------------------------------------------------
def test_a_look_reads_each_file_once_and_only_when_asked(sample, conf_reads):
    look = ProjectConfig.load(sample)
    assert conf_reads == {}  # nothing read until asked
    assert look.settings.keep_runs == 7 and look.settings is look.settings
    assert SyncConfig.of(look) is SyncConfig.of(look)
    assert conf_reads == {"sfsync.toml": 1, "sync.json": 1}
    assert SyncConfig.of(look).names() == SyncConfig.load(sample).names()  # a load of its own reads again
    assert conf_reads == {"sfsync.toml": 1, "sync.json": 2}


def test_a_bad_file_is_its_clear_error_every_time_and_the_others_still_load(sample):
    (sample.conf_dir / "sync.json").write_text('{"mappings": [{"name": "x", "source": "managed/user"}]}')
    look = ProjectConfig.load(sample)
    errors = []
    for _ in range(2):
        with pytest.raises(ConfigError) as caught:
            SyncConfig.of(look)
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and "sync.json" in errors[0] and "mappings[0]" in errors[0]
    assert look.settings.keep_runs == 7
    (sample.conf_dir / "sfsync.toml").write_text("keep_runs = 0\n")
    with pytest.raises(ConfigError, match=r"sfsync.toml.*keep_runs"):
        _ = ProjectConfig.load(sample).settings


def test_missing_optional_files_are_none_and_a_missing_sync_json_names_itself(tmp_path):
    project = Project(tmp_path)
    (tmp_path / "conf").mkdir()
    look = ProjectConfig.load(project)
    assert look.managed_data is None and look.sync_data is None and look.settings.keep_runs == 100
    with pytest.raises(ConfigError, match="a project needs conf/sync.json"):
        SyncConfig.of(look)


# ---- ConfigWatcher: the same look while nothing changed, a new one after a change -----------------------------
def test_the_watcher_keeps_its_look_while_no_file_changed(sample, conf_reads):
    watcher = ConfigWatcher(sample)
    first = watcher.current()
    SyncConfig.of(first)
    assert watcher.current() is first
    assert SyncConfig.of(watcher.current()) is SyncConfig.of(first)
    assert conf_reads == {"sync.json": 1}


@pytest.mark.parametrize("name", ["sync.json", "managed.json", "sfsync.toml", "provisioner.openicf-salesforce.json"])
def test_any_file_changed_gives_a_new_look(sample, name):
    watcher = ConfigWatcher(sample)
    first = watcher.current()
    path = sample.conf_dir / name
    replace(path, path.read_text() + "\n" if path.exists() else "{}")
    age(path)
    assert watcher.current() is not first
    assert watcher.current() is watcher.current()


def test_a_new_sync_json_is_seen_by_the_next_look(sample):
    watcher = ConfigWatcher(sample)
    assert SyncConfig.of(watcher.current()).names() == ["systemSalesforceUser_managedUser",
                                                       "managedUser_systemSalesforceUser"]
    data = json.loads((sample.conf_dir / "sync.json").read_text())
    data["mappings"] = data["mappings"][:1]
    replace(sample.conf_dir / "sync.json", json.dumps(data))
    assert SyncConfig.of(watcher.current()).names() == ["systemSalesforceUser_managedUser"]


def test_a_file_modified_this_very_moment_is_never_trusted_twice(sample):
    watcher = ConfigWatcher(sample)
    now = time.time_ns()
    os.utime(sample.conf_dir / "sync.json", ns=(now, now))  # may change again within the clock's tick unseen
    first = watcher.current()
    assert watcher.current() is not first


def test_a_command_lines_look_does_not_follow_the_files(sample):
    look = ProjectConfig.load(sample)
    assert look.settings.keep_runs == 7
    fixed = ConfigWatcher(sample, look, follow=False)
    replace(sample.conf_dir / "sfsync.toml", "keep_runs = 8\n")
    age(sample.settings_path)
    assert fixed.current() is look and fixed.current().settings.keep_runs == 7
    assert ConfigWatcher(sample, look).current().settings.keep_runs == 8


def test_forget_reads_again(sample):
    watcher = ConfigWatcher(sample)
    first = watcher.current()
    watcher.forget()
    assert watcher.current() is not first


# ---- the long-lived front ends see a change without a restart ----------------------------------------------------
def test_the_apps_backend_sees_its_own_saves_and_the_files_changes(sample):
    from tui.backend import Backend

    backend = Backend(sample)
    try:
        assert backend.load_theme() is None
        backend.save_theme("gruvbox")
        assert backend.load_theme() == "gruvbox"
        data = json.loads(sample.sync_path.read_text())
        data["mappings"] = data["mappings"][:1]
        replace(sample.sync_path, json.dumps(data))
        assert [m.name for m in backend.mappings()] == [INBOUND]
        assert [m.name for m in backend.service.mappings()] == [INBOUND]
    finally:
        backend.close()


def test_a_script_file_a_mapping_names_is_watched_with_the_files(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "script").mkdir()
    script = tmp_path / "script" / "valid.js"
    script.write_text("true")
    mapping = {"name": "m", "source": "managed/user", "target": "managed/account",
               "validSource": {"type": "text/javascript", "file": "script/valid.js"}}
    (tmp_path / "conf" / "sync.json").write_text(json.dumps({"mappings": [mapping]}))
    age(script, tmp_path / "conf" / "sync.json")
    watcher = ConfigWatcher(Project(tmp_path))
    first = watcher.current()
    assert SyncConfig.of(first).get("m").valid_source.source == "true"
    assert watcher.current() is first
    replace(script, "false")
    age(script)
    assert SyncConfig.of(watcher.current()).get("m").valid_source.source == "false"


def test_a_hook_script_file_is_watched_too(tmp_path):
    from core.sync import SyncService

    (tmp_path / "conf").mkdir()
    (tmp_path / "script").mkdir()
    script = tmp_path / "script" / "create.js"
    script.write_text("object.a = 1;")
    managed = {"objects": [{"name": "user", "onCreate": {"type": "text/javascript", "file": "script/create.js"},
                            "schema": {"properties": {}}}]}
    (tmp_path / "conf" / "managed.json").write_text(json.dumps(managed))
    age(script, tmp_path / "conf" / "managed.json")
    service = SyncService(Project(tmp_path))
    try:
        first = service.managed_hooks()
        assert "object.a = 1;" in first.specs["onCreate"].source and service.managed_hooks() is first
        replace(script, "object.a = 2;")
        age(script)
        assert "object.a = 2;" in service.managed_hooks().specs["onCreate"].source
    finally:
        service.close()


def test_a_key_rotation_and_a_login_save_are_seen_by_the_next_look(sample):
    import shutil

    from core.config import ProvisionerConfig, rotate_key

    shutil.copy(ROOT / "conf" / "provisioner.openicf-salesforce.json", sample.provisioner_path)
    config = ProvisionerConfig.load(sample)
    config.update_properties(clientSecret="first-secret", refreshToken="first-token")
    config.save(sample)
    age(sample.provisioner_path)
    watcher = ConfigWatcher(sample)
    before = watcher.current()
    assert before.provisioner.properties.refresh_token == "first-token"
    sealed = before.provisioner.original["configurationProperties"]["refreshToken"]
    rotate_key(sample)
    age(sample.provisioner_path)
    rotated = watcher.current()
    assert rotated is not before and rotated.provisioner.properties.refresh_token == "first-token"
    assert rotated.provisioner.original["configurationProperties"]["refreshToken"] != sealed
    fresh = ProvisionerConfig.load(sample, strict=False)  # what a login saves (core.salesforce.save_login)
    fresh.update_properties(refreshToken="second-token")
    fresh.save(sample)
    assert watcher.current().provisioner.properties.refresh_token == "second-token"


def test_a_change_that_keeps_mtime_size_and_inode_is_still_seen(sample):
    """A ``chmod`` (a file made readable again), or a rewrite in place that restores the old mtime: only the
    status change time tells."""
    path = sample.settings_path
    watcher = ConfigWatcher(sample)
    assert watcher.current().settings.keep_runs == 7
    before = path.stat()
    with open(path, "r+") as fh:  # same size, same inode
        fh.write("keep_runs = 8\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    while path.stat().st_ctime_ns == before.st_ctime_ns:  # within the clock's tick: touch again until it moves
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_mtime_ns, path.stat().st_size, path.stat().st_ino) == \
        (before.st_mtime_ns, before.st_size, before.st_ino)
    assert watcher.current().settings.keep_runs == 8


def test_a_look_that_met_a_bad_file_is_not_kept_so_a_missing_script_can_be_added(tmp_path):
    (tmp_path / "conf").mkdir()
    mapping = {"name": "m", "source": "managed/user", "target": "managed/account",
               "validSource": {"type": "text/javascript", "file": "script/valid.js"}}
    (tmp_path / "conf" / "sync.json").write_text(json.dumps({"mappings": [mapping]}))
    age(tmp_path / "conf" / "sync.json")
    watcher = ConfigWatcher(Project(tmp_path))
    broken = watcher.current()
    with pytest.raises(ConfigError, match="script file 'script/valid.js' not found"):
        SyncConfig.of(broken)
    (tmp_path / "script").mkdir()
    (tmp_path / "script" / "valid.js").write_text("true")  # sync.json itself unchanged
    assert watcher.current() is not broken
    assert SyncConfig.of(watcher.current()).get("m").valid_source.source == "true"


def test_threads_asking_one_view_at_once_build_it_once(sample):
    import threading

    look = ProjectConfig.load(sample)
    builds = []
    started = threading.Barrier(8)

    def build() -> object:
        builds.append(1)
        return object()

    def ask(out: list) -> None:
        started.wait()
        out.append(look.view("k", build))
        look.unchanged()  # other threads read the memo meanwhile

    results: list = []
    threads = [threading.Thread(target=ask, args=(results,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(results) == 8 and all(r is results[0] for r in results)
