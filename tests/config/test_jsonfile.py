"""Atomic, style-keeping JSON writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from core.config.jsonfile import JsonStyle, load_json, save_json_atomic, write_text_atomic
from core.errors import ConfigError


def test_style_detection_keeps_idm_colon_style_and_indent() -> None:
    style = JsonStyle.detect('{\n  "a" : 1\n}\n')
    assert style.indent == 2 and style.key_separator == " : " and style.trailing_newline
    assert style.dumps({"a": [1, {"b": "é"}]}) == '{\n  "a" : [\n    1,\n    {\n      "b" : "é"\n    }\n  ]\n}\n'


def test_save_keeps_original_text_when_data_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    text = '{"b":1,   "a":[1,2]}'
    path.write_text(text)
    data, raw = load_json(path)
    save_json_atomic(path, data, original_text=raw)
    assert path.read_text() == text


def test_int_to_float_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"v": 44}')
    save_json_atomic(path, {"v": 44.0}, original_text='{"v": 44}')
    assert json.loads(path.read_text()) == {"v": 44.0} and "44.0" in path.read_text()


def test_atomic_write_leaves_no_temp_file_and_sets_mode(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("old")

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        save_json_atomic(path, {"a": Boom()})
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_unwritable_folder_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(ConfigError, match="cannot write"):
            write_text_atomic(folder / "x.json", "{}")
    finally:
        os.chmod(folder, 0o700)


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_json(path)
