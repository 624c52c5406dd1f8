"""Atomic, style-keeping JSON writes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.config.jsonfile import JsonStyle, load_json, save_json_atomic, write_text_atomic
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


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


def test_unserialisable_data_keeps_the_old_file(tmp_path: Path) -> None:
    """Data that cannot be written as JSON is refused before the file is touched."""
    path = tmp_path / "x.json"
    path.write_text("old")

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        save_json_atomic(path, {"a": Boom()})
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


#: a child that may write only 4 KiB per file (RLIMIT_FSIZE), so the save dies part-way through writing
#: its 200 KiB, as on a full disk; the kernel answers EFBIG (SIGXFSZ ignored) instead of killing it
_CRASH_MID_WRITE = """
import resource, signal, sys
from core.config.jsonfile import save_json_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    save_json_atomic(sys.argv[1], {"big": "n" * 200_000})
except Exception as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
"""


def test_a_save_that_dies_mid_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    """Atomic means the target is never written in place: when the write fails after some bytes are out,
    the file still holds its old content, whole, and no temporary file is left beside it."""
    path = tmp_path / "x.json"
    old = '{"old": "' + "o" * 1000 + '"}\n'
    path.write_text(old)
    result = subprocess.run([sys.executable, "-c", _CRASH_MID_WRITE, str(path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)  # the write really failed
    assert path.read_text() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
    assert result.stdout.startswith("ConfigError") and "cannot write" in result.stdout, result.stdout


def test_a_save_replaces_the_file_instead_of_rewriting_it(tmp_path: Path) -> None:
    """A new file is renamed over the old one: another name (hard link) for the old file keeps the old
    bytes, which only holds when the target's own bytes are never overwritten in place."""
    path = tmp_path / "x.json"
    path.write_text('{"v": 1}')
    os.link(path, tmp_path / "old-name")
    before = path.stat().st_ino
    save_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2}
    assert (tmp_path / "old-name").read_text() == '{"v": 1}'
    assert path.stat().st_ino != before


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
