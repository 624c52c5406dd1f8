"""``sfsync serve``: the password command, and the refusal to expose the default password."""

from __future__ import annotations

import io
import os
import stat
import sys

from core.api.auth import verify_password
from core.config.settings import Settings
from tui.cli import main


def test_set_password_reads_stdin_and_stores_only_a_hash(sample_project, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("hunter2 is long\n"))
    code = main(["-p", str(sample_project.root), "serve", "--set-password", "--username", "ops"])
    assert code == 0
    text = sample_project.settings_path.read_text()
    assert "hunter2" not in text
    settings = Settings.load(sample_project)
    assert settings.admin_username == "ops"
    assert verify_password("hunter2 is long", settings.admin_password_hash)
    assert stat.S_IMODE(os.stat(sample_project.settings_path).st_mode) == 0o600
    out = capsys.readouterr().out
    assert "ops" in out and "hunter2" not in out


def test_set_password_refuses_an_empty_password(sample_project, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["-p", str(sample_project.root), "serve", "--set-password"]) == 2
    assert "empty" in capsys.readouterr().err
    assert Settings.load(sample_project).admin_password_hash is None


def test_serve_on_all_interfaces_without_a_password_refuses_with_the_reason(sample_project, capsys):
    # --insecure-http: past the refusal of plain HTTP beyond loopback (tests/api/test_serve_https.py)
    assert main(["-p", str(sample_project.root), "serve", "--host", "0.0.0.0", "--port", "0", "--insecure-http"]) == 2
    err = capsys.readouterr().err
    assert "0.0.0.0" in err and "--set-password" in err


def test_serve_on_a_port_in_use_fails_with_the_reason(sample_project, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["-p", str(sample_project.root), "serve", "--port", str(port)]) == 1
    assert f"127.0.0.1:{port}" in capsys.readouterr().err


def test_serve_with_a_broken_sync_json_refuses_to_start_naming_the_file(sample_project, capsys):
    sample_project.sync_path.write_text('{"mappings": [\n')
    assert main(["-p", str(sample_project.root), "serve", "--port", "0"]) == 2
    assert "sync.json" in capsys.readouterr().err
