"""The rest of jsonfile's contract: errors that name the file, every style a file can have, and what a
failed save leaves behind (each case here was once a mutant no test noticed)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from core.config import jsonfile
from core.config.jsonfile import (
    JsonStyle,
    display_path,
    load_json,
    read_text,
    save_json_atomic,
    write_text_atomic,
)
from core.errors import ConfigError


def test_display_path_is_relative_inside_the_current_folder_and_unchanged_outside(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    """A file under the current folder is shown relative to it; one elsewhere as it was given."""
    (tmp_path / "conf").mkdir()
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "conf" / "x.json") == os.path.join("conf", "x.json")
    assert display_path("/elsewhere/x.json") == "/elsewhere/x.json"


def test_a_missing_file_or_a_folder_is_an_error_naming_it(tmp_path: Path, monkeypatch) -> None:
    """Not found and is-a-folder are told apart, each with the path the user would type."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ConfigError) as missing:
        read_text(tmp_path / "nope.json")
    assert str(missing.value) == "nope.json: file not found"
    with pytest.raises(ConfigError) as folder:
        read_text(tmp_path / "dir.json")
    assert str(folder.value) == "dir.json: is a folder, not a file"


def test_an_unreadable_file_is_an_error_naming_it(tmp_path: Path, monkeypatch) -> None:
    """Permission denied (provoked here, since root may read anything) names the file."""
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(jsonfile, "open", refuse, raising=False)
    with pytest.raises(ConfigError) as denied:
        read_text(tmp_path / "x.json")
    assert str(denied.value) == "x.json: permission denied"


def test_non_utf8_and_broken_json_name_the_file_line_and_column(tmp_path: Path, monkeypatch) -> None:
    """The byte offset of bad UTF-8, and ``file:line:column`` of a JSON syntax error."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bin.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ConfigError) as binary:
        load_json(tmp_path / "bin.json")
    assert str(binary.value) == "bin.json: not UTF-8 text (byte 7)"
    (tmp_path / "bad.json").write_text('{\n  "a": 1,\n  "b" 2\n}\n')
    with pytest.raises(ConfigError) as broken:
        load_json(tmp_path / "bad.json")
    assert str(broken.value) == "bad.json:3:7: not valid JSON: Expecting ':' delimiter"
    assert (broken.value.line, broken.value.column) == (3, 7)


def test_a_crlf_file_is_read_and_written_back_byte_for_byte(tmp_path: Path) -> None:
    """Windows line ends are neither translated on reading nor lost on saving unchanged data."""
    path = tmp_path / "x.json"
    path.write_bytes(b'{\r\n    "a" : 1\r\n}\r\n')
    data, raw = load_json(path)
    assert raw == '{\r\n    "a" : 1\r\n}\r\n'
    save_json_atomic(path, data, original_text=raw)
    assert path.read_bytes() == b'{\r\n    "a" : 1\r\n}\r\n'


@pytest.mark.parametrize(("text", "data", "expected"), [
    # IDM's own style: 4 spaces, " : ", newline at the end
    ('{\n    "a" : 1\n}\n', {"a": 1, "b": [2]},
     '{\n    "a" : 1,\n    "b" : [\n        2\n    ]\n}\n'),
    # Windows line ends are kept on every line
    ('{\r\n  "a": 1\r\n}\r\n', {"a": 2, "b": 3}, '{\r\n  "a": 2,\r\n  "b": 3\r\n}\r\n'),
    # tabs stay tabs
    ('{\n\t"a": 1\n}', {"a": 2}, '{\n\t"a": 2\n}'),
    # a one-line file stays on one line, with its own separators
    ('{"a": 1, "b": 2}', {"a": 3, "b": 4}, '{"a": 3, "b": 4}'),
    ('{"a" : 1}\n', {"a": 2, "b": 5}, '{"a" : 2, "b" : 5}\n'),
])
def test_a_changed_file_keeps_its_style(tmp_path: Path, text: str, data: dict, expected: str) -> None:
    """Indent (spaces or tab), key separator, item separator, line ends and the final newline all follow the
    file as it was."""
    path = tmp_path / "x.json"
    save_json_atomic(path, data, original_text=text)
    assert path.read_bytes().decode() == expected


def test_style_detection_of_compact_and_crlf_files() -> None:
    """A one-line file has no indent and ``": "`` unless it used ``" : "``; CRLF is recognised."""
    assert JsonStyle.detect('{"a": 1}') == JsonStyle(indent=None, key_separator=": ", trailing_newline=False)
    assert JsonStyle.detect('{"a" : 1}').key_separator == " : "
    crlf = JsonStyle.detect('{\r\n  "a": 1\r\n}\r\n')
    assert crlf == JsonStyle(indent=2, key_separator=": ", trailing_newline=True, newline="\r\n")
    assert JsonStyle.detect('{\n  "a": 1\n}').trailing_newline is False


def test_non_ascii_is_written_as_is() -> None:
    """Names with accents or in other scripts stay readable in the file."""
    assert JsonStyle(indent=None).dumps({"n": "Zoë 山田"}) == '{"n": "Zoë 山田"}\n'


def test_a_save_uses_the_mode_given_and_0600_by_default(tmp_path: Path) -> None:
    """The file's permissions are the ones asked for, private by default, whether or not the text changed."""
    path = tmp_path / "x.json"
    save_json_atomic(path, {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    save_json_atomic(path, {"a": 1}, 0o640, original_text='{"a": 1}')
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    save_json_atomic(path, {"a": 2}, 0o644, original_text='{"a": 1}')
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_save_creates_missing_folders(tmp_path: Path) -> None:
    """Saving into a folder that does not exist yet creates it, parents included."""
    path = tmp_path / "a" / "b" / "c.json"
    save_json_atomic(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}


def test_the_temporary_file_is_hidden_beside_the_target(tmp_path: Path, monkeypatch) -> None:
    """The new text is written to ``.<name>.<random>.tmp`` in the same folder (same file system, so the
    rename is atomic) and renamed over the target."""
    renames = []
    real_replace = os.replace

    def replace(src, dst):
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "x.json"
    write_text_atomic(target, "{}")
    [(src, dst)] = renames
    assert dst == target and src.parent == tmp_path
    assert src.name.startswith(".x.json.") and src.name.endswith(".tmp")


def test_a_folder_that_cannot_be_made_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    """A file where the folder should be: ``cannot write``, naming the target."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("")
    with pytest.raises(ConfigError) as err:
        write_text_atomic(tmp_path / "blocker" / "x.json", "{}")
    assert str(err.value).startswith(os.path.join("blocker", "x.json") + ": cannot write: ")


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), RuntimeError("interrupted")])
def test_a_failed_write_removes_its_temporary_file(tmp_path: Path, monkeypatch, failure: Exception) -> None:
    """Whatever stops a write (a disk error becomes a ConfigError naming the file, anything else goes on
    up), the old file is kept and no temporary file is left."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.json"
    path.write_text("old")

    def fail(*args):
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(ConfigError if isinstance(failure, OSError) else RuntimeError) as err:
        write_text_atomic(path, "new")
    if isinstance(failure, OSError):
        assert str(err.value) == "x.json: cannot write: No space left on device"
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_a_multi_line_file_without_indent_stays_multi_line() -> None:
    """One item a line with no indent is a style too: a rewrite keeps the lines, not one long line."""
    style = JsonStyle.detect('{\n"a": 1,\n"b": 2\n}\n')
    assert style.dumps({"a": 1, "b": 3}) == '{\n"a": 1,\n"b": 3\n}\n'
