"""Secrets at rest: IDM-shaped ``$crypto`` objects (AES-256-GCM), the key in ``security/``, never in ``conf/``."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from core.config import Project, ProvisionerConfig
from core.config.rotation import rotate_key
from core.config.secrets import KEY_FILE, Key, KeyStore, UnreadableSecret, open_value, seal
from core.errors import ConfigError
from tui.cli import main

REPO_CONF = Path(__file__).resolve().parents[2] / "conf" / "provisioner.openicf-salesforce.json"
CLIENT_SECRET = "0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F0"
REFRESH = "5Aep861xQ9kLmNoPqRsTuVwXyZ0123456789abcdefGHIJ.klmn"
#: IDM 6.5's own shape (a value its keystore sealed)
IDM_SEALED = {"$crypto": {"type": "x-simple-encryption", "value": {
    "cipher": "AES/CBC/PKCS5Padding", "stableId": "openidm-sym-default", "salt": "vdz6bUztiT6QsExNrZQAEA==",
    "data": "RgMLRbX0guxF80nwrtaZkkoFFGqSQdNWF7Ve0zS+N1I=", "keySize": 16, "purpose": "idm.password.encryption",
    "iv": "R9w1TcWfbd9FPmOjfvMhZQ==", "mac": "9PQGGGm+UN5lmB/9EKrjjA=="}}}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "conf").mkdir()
    shutil.copy(REPO_CONF, tmp_path / "conf" / "provisioner.openicf-salesforce.json")
    return Project(tmp_path)


def raw(project: Project) -> dict:
    return json.loads(project.provisioner_path.read_text())["configurationProperties"]


def store_secrets(project: Project, **values: str) -> None:
    config = ProvisionerConfig.load(project)
    config.update_properties(**values)
    config.save(project)


def write_props(project: Project, **values: object) -> None:
    data = json.loads(project.provisioner_path.read_text())
    data["configurationProperties"].update(values)
    project.provisioner_path.write_text(json.dumps(data, indent=4) + "\n")


def key_path(project: Project) -> Path:
    return project.root / "security" / KEY_FILE


def test_saved_secrets_are_idm_shaped_crypto_and_read_back(project: Project) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH)
    text = project.provisioner_path.read_text()
    assert CLIENT_SECRET not in text and REFRESH not in text and REFRESH[:12] not in text
    key = KeyStore.for_config(project.provisioner_path).current()
    assert key is not None
    for name in ("clientSecret", "refreshToken"):
        crypto = raw(project)[name]["$crypto"]
        assert crypto["type"] == "x-simple-encryption"
        value = crypto["value"]
        assert set(value) == {"cipher", "stableId", "data", "keySize", "purpose", "iv"}
        assert value["cipher"] == "AES/GCM/NoPadding" and value["keySize"] == 32
        assert value["purpose"] == "idm.config.encryption" and value["stableId"] == key.stable_id
        assert len(base64.b64decode(value["iv"])) == 12
        # JSON of the value (IDM encrypts the JSON text) plus GCM's 16-byte tag
        assert len(base64.b64decode(value["data"])) == len(json.dumps(CLIENT_SECRET if name == "clientSecret"
                                                                       else REFRESH)) + 16
    props = ProvisionerConfig.load(project).properties
    assert props.client_secret == CLIENT_SECRET and props.refresh_token == REFRESH
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600


def test_the_key_lives_in_security_0600_in_a_0700_folder_never_in_conf_or_db(project: Project) -> None:
    assert not (project.root / "security").exists()
    ProvisionerConfig.load(project).save(project)  # no secret: no key made
    assert not (project.root / "security").exists()
    store_secrets(project, clientSecret=CLIENT_SECRET)
    assert stat.S_IMODE((project.root / "security").stat().st_mode) == 0o700
    assert stat.S_IMODE(key_path(project).stat().st_mode) == 0o600
    assert [p.name for p in (project.root / "security").iterdir()] == [KEY_FILE]
    material = base64.b64decode(key_path(project).read_text())
    assert len(material) == 32
    for folder in (project.conf_dir, project.db_dir):
        for path in folder.rglob("*") if folder.exists() else []:
            assert key_path(project).read_text().strip() not in path.read_text(errors="replace")


def test_unchanged_save_keeps_the_bytes_and_a_changed_one_only_its_secret(project: Project) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH)
    before = project.provisioner_path.read_bytes()
    ProvisionerConfig.load(project).save(project)
    assert project.provisioner_path.read_bytes() == before
    sealed_secret = raw(project)["clientSecret"]
    config = ProvisionerConfig.load(project)
    config.update_properties(refreshToken=REFRESH + "rotated", instanceUrl="https://acme.my.salesforce.com")
    config.save(project)
    assert raw(project)["clientSecret"] == sealed_secret  # the same ciphertext, not sealed again
    assert ProvisionerConfig.load(project).properties.refresh_token == REFRESH + "rotated"


def test_a_plain_value_typed_into_the_file_is_encrypted_on_the_next_load(project: Project) -> None:
    write_props(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH, customKey={"kept": [1, 2]})
    config = ProvisionerConfig.load(project)
    assert config.properties.client_secret == CLIENT_SECRET and config.properties.refresh_token == REFRESH
    text = project.provisioner_path.read_text()
    assert CLIENT_SECRET not in text and REFRESH not in text
    props = raw(project)
    assert "$crypto" in props["clientSecret"] and "$crypto" in props["refreshToken"]
    assert props["customKey"] == {"kept": [1, 2]} and list(props)[-1] == "customKey"  # the rest kept, in order
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600
    config.save(project)  # the loaded config saves the sealed file unchanged
    assert project.provisioner_path.read_text() == text


def test_a_value_sealed_by_idms_keystore_is_refused_naming_field_and_remedy(project: Project) -> None:
    write_props(project, refreshToken=IDM_SEALED)
    with pytest.raises(ConfigError) as info:
        ProvisionerConfig.load(project)
    message = str(info.value)
    assert info.value.field == "configurationProperties.refreshToken"
    assert "provisioner.openicf-salesforce.json" in message and "IDM's keystore" in message
    assert "openidm-sym-default" in message and "sfsync login" in message
    # a login loads it as unset and replaces it
    config = ProvisionerConfig.load(project, strict=False)
    assert config.properties.refresh_token is None
    assert "IDM's keystore" in config.properties.unreadable_secrets["refreshToken"]
    config.update_properties(refreshToken=REFRESH)
    config.save(project)
    assert ProvisionerConfig.load(project).properties.refresh_token == REFRESH


def test_idm_client_secret_names_how_to_enter_it_again(project: Project) -> None:
    write_props(project, clientSecret=IDM_SEALED)
    with pytest.raises(ConfigError, match=r"clientSecret: encrypted by IDM's keystore.*SFSYNC_CLIENT_SECRET"):
        ProvisionerConfig.load(project)


@pytest.mark.parametrize("part", ["data", "iv", "stableId-swap", "field-swap"])
def test_tampered_ciphertext_is_refused(project: Project, part: str) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH)
    props = raw(project)
    value = props["refreshToken"]["$crypto"]["value"]
    if part == "data":
        data = bytearray(base64.b64decode(value["data"]))
        data[3] ^= 0x01
        value["data"] = base64.b64encode(bytes(data)).decode()
    elif part == "iv":
        iv = bytearray(base64.b64decode(value["iv"]))
        iv[0] ^= 0x80
        value["iv"] = base64.b64encode(bytes(iv)).decode()
    elif part == "stableId-swap":  # another sfsync key's id: treated as a key we do not have
        value["stableId"] = "sfsync:0000000000000000"
    else:  # the client secret's ciphertext moved into refreshToken: bound to its field, it does not open
        props["refreshToken"] = props["clientSecret"]
    write_props(project, refreshToken=props["refreshToken"])
    with pytest.raises(ConfigError) as info:
        ProvisionerConfig.load(project)
    message = str(info.value)
    assert "configurationProperties.refreshToken" in message and "cannot decrypt" in message
    assert "sfsync login" in message and REFRESH not in message and CLIENT_SECRET not in message


def test_a_wrong_key_is_refused_with_the_recovery_hint(project: Project) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH)
    os.unlink(key_path(project))
    KeyStore.for_config(project.provisioner_path).current_or_create()  # someone else's key now
    with pytest.raises(ConfigError) as info:
        ProvisionerConfig.load(project)
    message = str(info.value)
    assert "configurationProperties.clientSecret" in message
    assert "is not the one it was encrypted with" in message and "security" in message


def test_a_lost_key_is_a_clear_error_and_storing_new_credentials_recovers(project: Project) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH)
    shutil.rmtree(project.root / "security")
    with pytest.raises(ConfigError, match=r"clientSecret: cannot decrypt: .* is gone \(.*sfsync.key is missing\)"):
        ProvisionerConfig.load(project)
    config = ProvisionerConfig.load(project, strict=False)  # what sfsync login reads
    assert set(config.properties.unreadable_secrets) == {"clientSecret", "refreshToken"}
    config.update_properties(clientSecret=CLIENT_SECRET + "X", refreshToken=REFRESH + "X")
    config.save(project)
    props = ProvisionerConfig.load(project).properties
    assert props.client_secret == CLIENT_SECRET + "X" and props.refresh_token == REFRESH + "X"


def test_a_key_file_others_can_read_is_refused(project: Project) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET)
    os.chmod(key_path(project), 0o640)
    with pytest.raises(ConfigError, match=r"sfsync.key: the key is readable by others \(mode 0640\); chmod 600"):
        ProvisionerConfig.load(project)


def test_a_damaged_key_file_is_refused(project: Project) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET)
    key_path(project).write_text("not a key\n")
    with pytest.raises(ConfigError, match="not a key sfsync wrote"):
        ProvisionerConfig.load(project)


def test_rotation_reencrypts_everything_and_the_old_key_no_longer_decrypts(project: Project) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH)
    store = KeyStore.for_config(project.provisioner_path)
    old = store.current()
    before = raw(project)
    done = rotate_key(project)
    assert done.old_id == old.stable_id and done.new_id != old.stable_id
    assert done.fields == ("clientSecret", "refreshToken")
    after = raw(project)
    new = store.current()
    assert new.stable_id == done.new_id
    assert [p.name for p in store.folder.iterdir()] == [KEY_FILE]  # the old key is gone, no staged key left
    for name in ("clientSecret", "refreshToken"):
        assert after[name]["$crypto"]["value"]["stableId"] == new.stable_id
        assert after[name]["$crypto"]["value"]["data"] != before[name]["$crypto"]["value"]["data"]
        with pytest.raises(UnreadableSecret, match="not the one it was encrypted with"):
            open_value(after[name], _Only(old), f"configurationProperties.{name}")
    props = ProvisionerConfig.load(project).properties
    assert props.client_secret == CLIENT_SECRET and props.refresh_token == REFRESH
    for key, value in before.items():
        if key not in ("clientSecret", "refreshToken"):
            assert after[key] == value


def test_rotation_refuses_when_a_secret_cannot_be_decrypted_and_changes_nothing(project: Project) -> None:
    store_secrets(project, refreshToken=REFRESH)
    write_props(project, clientSecret=IDM_SEALED)
    before = project.provisioner_path.read_bytes()
    key_before = key_path(project).read_bytes()
    with pytest.raises(ConfigError, match="IDM's keystore"):
        rotate_key(project)
    assert project.provisioner_path.read_bytes() == before and key_path(project).read_bytes() == key_before
    assert [p.name for p in (project.root / "security").iterdir()] == [KEY_FILE]


def test_a_crash_between_writing_the_file_and_promoting_the_key_loses_nothing(project: Project) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH)
    store = KeyStore.for_config(project.provisioner_path)
    staged = store.stage()
    config = ProvisionerConfig.load(project)
    config.save(project, rekey=staged)  # ... and the process dies before promote()
    props = ProvisionerConfig.load(project).properties  # the staged key still opens the file
    assert props.client_secret == CLIENT_SECRET and props.refresh_token == REFRESH
    done = rotate_key(project)  # the next rotation finishes the job and cleans up
    assert done.discarded == (f"sfsync-{staged.stable_id.split(':')[1]}.key",)
    assert [p.name for p in store.folder.iterdir()] == [KEY_FILE]
    assert ProvisionerConfig.load(project).properties.refresh_token == REFRESH


def test_rotate_key_command_prints_no_secret(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    store_secrets(project, clientSecret=CLIENT_SECRET, refreshToken=REFRESH)
    assert main(["secrets", "rotate-key", "-p", str(project.root)]) == 0
    out = capsys.readouterr().out
    assert "Re-encrypted clientSecret, refreshToken" in out and "old key sfsync:" in out
    material = key_path(project).read_text().strip()
    for secret in (CLIENT_SECRET, REFRESH, material, CLIENT_SECRET[:12], REFRESH[-12:]):
        assert secret not in out
    assert main(["-p", str(project.root), "secrets", "rotate-key"]) == 0  # the global -p works too


def test_seal_round_trip_and_field_binding() -> None:
    key = Key.generate()
    sealed = seal("a secret", key, "configurationProperties.clientSecret")
    assert open_value(sealed, _Only(key), "configurationProperties.clientSecret") == "a secret"
    assert sealed != seal("a secret", key, "configurationProperties.clientSecret")  # a fresh nonce each time
    with pytest.raises(UnreadableSecret) as info:
        open_value(sealed, _Only(key), "configurationProperties.refreshToken")
    assert info.value.kind == "tampered"
    assert "a secret" not in repr(key) and key.material.hex() not in repr(key)


class _Only(KeyStore):
    """A key store that holds exactly one key (no folder)."""

    def __init__(self, key: Key) -> None:
        super().__init__(Path("/nonexistent/security"))
        self._key = key

    def current(self) -> Key | None:
        return self._key

    def find(self, stable_id: str) -> Key | None:
        return self._key if stable_id == self._key.stable_id else None
