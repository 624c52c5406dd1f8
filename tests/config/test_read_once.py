"""Configuration is read once per operation: ``sfsync recon`` reads each project file at most once."""

from __future__ import annotations

import builtins
import collections
import io
import json
from pathlib import Path

import pytest

from tests.sync.orgproject import make_project
from tui.cli import main

INBOUND = "systemSalesforceUser_managedUser"


@pytest.fixture
def conf_reads(monkeypatch):
    """Every open of a file under a ``conf/`` folder for reading, counted by file name."""
    counts: collections.Counter[str] = collections.Counter()
    real_open = builtins.open
    real_io_open = io.open

    def counting(opener):
        def open_(file, mode="r", *args, **kwargs):
            path = Path(file) if isinstance(file, (str, Path)) else None
            if path is not None and path.parent.name == "conf" and "r" in mode:
                counts[path.name] += 1
            return opener(file, mode, *args, **kwargs)
        return open_

    monkeypatch.setattr(builtins, "open", counting(real_open))
    monkeypatch.setattr(io, "open", counting(real_io_open))
    return counts


def test_recon_reads_each_config_file_once(live_org_factory, tmp_path, conf_reads, capsys):
    live = live_org_factory(users=30, seed=3)
    project = make_project(tmp_path / "p", live.org, live.url)
    (project.conf_dir / "sfsync.toml").write_text("keep_runs = 50\n")
    conf_reads.clear()
    assert main(["-p", str(project.root), "recon", INBOUND, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "SUCCESS"
    print(dict(conf_reads))
    assert conf_reads, "the recon read no configuration file: the counter counts nothing"
    assert {name: n for name, n in conf_reads.items() if n > 1} == {}
