"""sfsync.toml: defaults, round trip, atomic 0600 save, clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.config import Project, Settings
from core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "conf").mkdir()
    return Project(tmp_path)


def test_missing_file_gives_defaults(project: Project) -> None:
    settings = Settings.load(project)
    assert settings.callback_port == 1717 and settings.keep_runs == 100 and settings.ca_file is None


def test_unchanged_save_keeps_comments_and_changed_save_keeps_unknown_keys(project: Project) -> None:
    text = "# my settings\ncallback_port = 1800\nfuture_key = \"x\"\n"
    project.settings_path.write_text(text)
    settings = Settings.load(project)
    settings.save(project)
    assert project.settings_path.read_text() == text
    assert stat.S_IMODE(project.settings_path.stat().st_mode) == 0o600
    settings.keep_runs = 5
    settings.save(project)
    again = Settings.load(project)
    assert (again.callback_port, again.keep_runs, again.model_extra) == (1800, 5, {"future_key": "x"})


def test_broken_toml_names_line_and_column(project: Project) -> None:
    project.settings_path.write_text("callback_port = 1717\nkeep_runs = = 3\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(project)
    assert info.value.line == 2 and "not valid TOML" in str(info.value)


def test_wrong_value_names_the_field(project: Project) -> None:
    project.settings_path.write_text("callback_port = 70000\n")
    with pytest.raises(ConfigError, match="callback_port: input should be less than or equal to 65535"):
        Settings.load(project)


@pytest.mark.parametrize("value", ["0", "0.05", "1.5", "-0.2", "true", '"0.5"'])
def test_read_share_during_recon_is_a_share(project: Project, value: str) -> None:
    project.settings_path.write_text(f"read_share_during_recon = {value}\n")
    with pytest.raises(ConfigError, match="read_share_during_recon: input should be"):
        Settings.load(project)


def test_ca_bundle_falls_back_to_ssl_cert_file(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ca.pem")
    assert Settings().ca_bundle() == "/etc/ca.pem"
    assert Settings(ca_file="/x.pem").ca_bundle() == "/x.pem"


def test_repository_settings_file_loads() -> None:
    settings = Settings.load(Project(REPO))
    assert settings.callback_port == 1717
    # its header says the values it sets are the defaults: every setting it names, at its default
    assert settings.to_data() == Settings().to_data()
    text = (REPO / "conf" / "sfsync.toml").read_text()
    named = [name for name in Settings.model_fields if name not in ("theme", "ui")]  # the app's, as it goes
    assert all(f"{name} =" in text for name in named), "a setting the file does not mention"
