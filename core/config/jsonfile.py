"""Reading and writing IDM's JSON configuration files without disturbing them.

A real IDM must accept the files back, and administrators diff them, so three rules hold here:
broken JSON is reported with file, line and column (never a traceback); a save keeps the file's own
style (indent, ``" : "`` or ``": "`` separators, trailing newline); and a save is atomic (temporary file
in the same folder, fsync, rename) with a mode that keeps secrets private (0600 by default).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError


def display_path(path: str | os.PathLike[str]) -> str:
    """The path as a user would type it: relative to the current directory when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(p)


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text, or a :class:`ConfigError` that names the file and says what is wrong."""
    shown = display_path(path)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        raise ConfigError("file not found", path=shown) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a file", path=shown) from None
    except PermissionError:
        raise ConfigError("permission denied", path=shown) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", path=shown) from None


def parse_json(text: str, path: str | os.PathLike[str]) -> Any:
    """Parse ``text``; a syntax error becomes a :class:`ConfigError` with ``path:line:column``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg}", path=display_path(path),
                          line=exc.lineno, column=exc.colno) from None


def load_json(path: str | os.PathLike[str]) -> tuple[Any, str]:
    """``(data, raw_text)``: the raw text lets a caller write an unchanged file back byte for byte."""
    text = read_text(path)
    return parse_json(text, path), text


@dataclass(frozen=True)
class JsonStyle:
    """How a JSON file was laid out, so a rewrite looks like the original (and like IDM's own files)."""

    indent: int | str | None = 4
    key_separator: str = ": "
    trailing_newline: bool = True
    newline: str = "\n"

    @classmethod
    def detect(cls, text: str) -> JsonStyle:
        """Guess the style of ``text``: IDM writes 4 spaces and ``" : "``; hand-edited files vary."""
        newline = "\r\n" if "\r\n" in text else "\n"
        indent: int | str | None = None
        m = re.search(r"\n([ \t]+)\S", text)
        if m:
            ws = m.group(1)
            indent = len(ws) if set(ws) == {" "} else ws
        elif "\n" in text.strip():
            indent = 0  # one item a line, not indented
        key_sep = " : " if re.search(r'"\s+:\s', text) else ": "
        if indent is None:
            key_sep = key_sep if key_sep == " : " else ": "
        return cls(indent=indent, key_separator=key_sep, trailing_newline=text.endswith(("\n", "\r\n")),
                   newline=newline)

    def dumps(self, data: Any) -> str:
        """``data`` as text in this style."""
        item_sep = "," if self.indent is not None else ", "
        text = json.dumps(data, indent=self.indent, separators=(item_sep, self.key_separator), ensure_ascii=False)
        if self.newline != "\n":
            text = text.replace("\n", self.newline)
        return text + (self.newline if self.trailing_newline else "")


def write_text_atomic(path: str | os.PathLike[str], text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old file or the new one, never half.

    The temporary file gets ``mode`` before any byte is written, so a secret is never briefly readable
    by others; the folder is fsynced after the rename so the new name survives a crash.
    """
    target = Path(path)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", path=display_path(target)) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ConfigError(f"cannot write: {exc.strerror}", path=display_path(target)) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (its directory entry written); best effort where unsupported."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save_json_atomic(path: str | os.PathLike[str], data: Any, mode: int = 0o600, *,
                     style: JsonStyle | None = None, original_text: str | None = None) -> None:
    """Write ``data`` atomically with ``mode``.

    With ``original_text`` the file keeps that text's style, and when ``data`` is what that text already
    says the text itself is written back unchanged (byte-identical round trip).
    """
    if original_text is not None:
        try:
            if json.loads(original_text) == data and _same_types(json.loads(original_text), data):
                write_text_atomic(path, original_text, mode)
                return
        except json.JSONDecodeError:
            pass
        style = style or JsonStyle.detect(original_text)
    write_text_atomic(path, (style or JsonStyle()).dumps(data), mode)


def _same_types(a: Any, b: Any) -> bool:
    """``==`` says ``1 == 1.0 == True``; a file that changes 44 to 44.0 is a change."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return True
