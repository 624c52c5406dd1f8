"""``sfsync livesync`` as scripts use it, against the local org on a loopback port: exit codes, JSON shape."""

from __future__ import annotations

import json

from tests.sync.orgproject import make_project
from tui.cli import main

INBOUND = "systemSalesforceUser_managedUser"


def test_livesync_command_first_pass_then_a_change_then_a_failure(live_org_factory, tmp_path, capsys):
    org = live_org_factory(users=15, seed=9, auto_approve=True)
    project = make_project(tmp_path / "p", org.org, org.url)
    root = str(project.root)
    assert main(["-p", root, "recon", INBOUND]) == 0
    capsys.readouterr()
    assert main(["-p", root, "livesync"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("liveSync system/salesforce/User: SUCCESS; 0 change(s)") and "first liveSync" in err

    person = next(u for u in org.org.iter_users() if u["Id"] != org.org.admin_id and u["FirstName"])
    org.org.update_user(person["Id"], {"LastName": "FromTheCli"})
    assert main(["-p", root, "livesync", "--source", "system/salesforce/User", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["_id"] == "SYSTEMSALESFORCEUSER" and answer["connectorData"]["nativeType"] == "string"
    assert answer["sfsync"]["changes"] == 1 and answer["sfsync"]["situationSummary"] == {"CONFIRMED": 1}
    # a new CLI process: the access token is fetched once, then one query
    assert answer["sfsync"]["apiCalls"] <= 4  # refresh, the query, implicit sync's read and write back

    org.org.update_user(person["Id"], {"FirstName": None})  # managed.json requires givenName
    assert main(["-p", root, "livesync"]) == 1
    out, err = capsys.readouterr()
    assert "FAILED" in out and "1 waiting for a retry" in out and person["Id"] in err


def test_livesync_command_bad_source_exits_2_naming_it(live_org_factory, tmp_path, capsys):
    org = live_org_factory(users=5, seed=1, auto_approve=True)
    project = make_project(tmp_path / "p", org.org, org.url)
    assert main(["-p", str(project.root), "livesync", "--source", "managed/user"]) == 2
    assert "source: 'managed/user'" in capsys.readouterr().err
