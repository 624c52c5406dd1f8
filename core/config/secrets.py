"""Secrets at rest: IDM-shaped ``$crypto`` objects sealed with AES-256-GCM, the key outside ``conf/``.

A sealed value has IDM's ``x-simple-encryption`` shape::

    {"$crypto": {"type": "x-simple-encryption",
                 "value": {"cipher": "AES/GCM/NoPadding", "stableId": "sfsync:1f0c…", "data": "…",
                           "keySize": 32, "purpose": "idm.config.encryption", "iv": "…"}}}

As IDM does, the plaintext is the JSON text of the value (``"the secret"``, quotes included). ``data`` is the
ciphertext followed by GCM's 16-byte tag (as Java's ``AES/GCM/NoPadding`` lays it out), so GCM's tag is the
authenticator and there is no separate ``mac``; ``iv`` is the 12-byte nonce. The field's path
(``configurationProperties.refreshToken``) is GCM's associated data: a sealed value moved to another field
does not open. ``stableId`` names our key (``sfsync:`` and a hash of it), so a value sealed by a real IDM's
keystore (``openidm-sym-default``…) is told apart from one sealed by a key sfsync lost.

The key: ``<project>/security/sfsync.key`` (the folder 0700, the file 0600, base64 of 32 random bytes),
created when a secret is first sealed. A key file that others may read is refused. ``sfsync secrets
rotate-key`` writes a new key beside it (``sfsync-<id>.key``), re-seals the file, then moves the new key
over the old one; a value sealed by a key still waiting there opens too, so a crash in between loses nothing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config.jsonfile import fsync_dir
from core.errors import ConfigError

CRYPTO = "$crypto"
TYPE = "x-simple-encryption"
CIPHER = "AES/GCM/NoPadding"
PURPOSE = "idm.config.encryption"
KEY_SIZE = 32
IV_SIZE = 12
ID_PREFIX = "sfsync:"
KEY_DIR = "security"
KEY_FILE = "sfsync.key"
RECOVER = "run `sfsync login` to store new credentials"

__all__ = [
    "CIPHER", "CRYPTO", "ID_PREFIX", "KEY_DIR", "KEY_FILE", "PURPOSE", "TYPE",
    "Key", "KeyStore", "UnreadableSecret", "is_crypto", "open_value", "seal", "stable_id_of",
]


class UnreadableSecret(Exception):
    """A ``$crypto`` value sfsync cannot open; the message says why and what to do (never the value)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "idm", "no-key", "wrong-key", "tampered", "malformed"


@dataclass(frozen=True, repr=False)
class Key:
    """A 256-bit key; its :attr:`stable_id` is what a sealed value names."""

    material: bytes

    @property
    def stable_id(self) -> str:
        return ID_PREFIX + hashlib.sha256(b"sfsync key id\0" + self.material).hexdigest()[:16]

    def __repr__(self) -> str:  # never the material
        return f"Key({self.stable_id})"

    @classmethod
    def generate(cls) -> Key:
        return cls(secrets.token_bytes(KEY_SIZE))


def is_crypto(value: Any) -> bool:
    """Whether ``value`` is a ``{"$crypto": …}`` object."""
    return isinstance(value, dict) and CRYPTO in value


def stable_id_of(value: Any) -> str | None:
    """The key a ``$crypto`` object names: ``stableId``, or the older ``key`` (IDM 5 and before)."""
    inner = value.get(CRYPTO) if isinstance(value, dict) else None
    body = inner.get("value") if isinstance(inner, dict) else None
    if not isinstance(body, dict):
        return None
    found = body.get("stableId", body.get("key"))
    return found if isinstance(found, str) else None


def seal(plain: str, key: Key, field: str) -> dict[str, Any]:
    """``plain`` as an IDM-shaped ``$crypto`` object, bound to ``field`` (GCM's associated data)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    iv = secrets.token_bytes(IV_SIZE)
    data = AESGCM(key.material).encrypt(iv, json.dumps(plain).encode("utf-8"), _aad(field))
    return {CRYPTO: {"type": TYPE, "value": {
        "cipher": CIPHER, "stableId": key.stable_id, "data": _b64(data), "keySize": KEY_SIZE,
        "purpose": PURPOSE, "iv": _b64(iv)}}}


def open_value(value: dict[str, Any], store: KeyStore, field: str) -> str:
    """The plaintext of a ``$crypto`` object sealed by sfsync; :class:`UnreadableSecret` otherwise."""
    sid = stable_id_of(value)
    inner = value.get(CRYPTO)
    body = inner.get("value") if isinstance(inner, dict) else None
    if sid is None or not sid.startswith(ID_PREFIX):
        shown = f" (stableId {sid!r})" if sid else ""
        raise UnreadableSecret("idm", f"encrypted by IDM's keystore{shown}, which sfsync cannot read; "
                                      f"{_enter_again(field)}")
    if not isinstance(body, dict) or body.get("cipher") != CIPHER:
        raise UnreadableSecret("malformed", f"not a $crypto object sfsync wrote (cipher {CIPHER} expected); "
                                            f"{_enter_again(field)}")
    key = store.find(sid)
    if key is None:
        current = store.current()
        where = f"{store.shown}/{KEY_FILE}"
        if current is None:
            raise UnreadableSecret("no-key", f"cannot decrypt: the key it was encrypted with ({sid}) is gone "
                                             f"({where} is missing); {_enter_again(field)}")
        raise UnreadableSecret("wrong-key", f"cannot decrypt: the key in {store.shown}/ ({current.stable_id}) "
                                            f"is not the one it was encrypted with ({sid}); {_enter_again(field)}")
    try:
        iv, data = _unb64(body.get("iv")), _unb64(body.get("data"))
    except ValueError:
        raise UnreadableSecret("malformed", f"cannot decrypt: iv or data is not base64; {_enter_again(field)}") from None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        if len(iv) != IV_SIZE:
            raise InvalidTag
        plain = json.loads(AESGCM(key.material).decrypt(iv, data, _aad(field)).decode("utf-8"))
    except (InvalidTag, ValueError):
        raise UnreadableSecret("tampered", "cannot decrypt: the encrypted value was altered or damaged "
                                           f"(authentication failed); {_enter_again(field)}") from None
    if not isinstance(plain, str):
        raise UnreadableSecret("malformed", f"cannot decrypt: the sealed value is not a string; {_enter_again(field)}")
    return plain


def _enter_again(field: str) -> str:
    if field.endswith("clientSecret"):
        return ("enter the client secret again (the app's Connector screen, or SFSYNC_CLIENT_SECRET=… with "
                "`sfsync login`)")
    return RECOVER


def _aad(field: str) -> bytes:
    return f"{PURPOSE}:{field}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None


class KeyStore:
    """The project's key(s) in ``<project>/security/``: the current key, and any waiting in a rotation."""

    def __init__(self, folder: Path) -> None:
        from core.config.jsonfile import display_path

        self.folder = folder
        self.shown = display_path(folder)  # how messages name the folder

    @classmethod
    def for_config(cls, path: str | os.PathLike[str]) -> KeyStore:
        """The key store of the project that holds ``path`` (``<project>/conf/<file>``)."""
        folder = Path(path).resolve().parent
        root = folder.parent if folder.name == "conf" else folder
        return cls(root / KEY_DIR)

    @property
    def path(self) -> Path:
        return self.folder / KEY_FILE

    # ---- reading ----------------------------------------------------------------------------------
    def current(self) -> Key | None:
        """The current key, ``None`` when there is none yet (or it was lost)."""
        return self._read(self.path)

    def find(self, stable_id: str) -> Key | None:
        """The key a sealed value names: the current one or one waiting from a rotation."""
        current = self.current()
        if current is not None and current.stable_id == stable_id:
            return current
        if not stable_id.startswith(ID_PREFIX):
            return None
        waiting = self._read(self._staged_path(stable_id))
        return waiting if waiting is not None and waiting.stable_id == stable_id else None

    def _read(self, path: Path) -> Key | None:
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read the key: {exc.strerror}", path=self._show(path)) from None
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ConfigError(f"the key is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
                              f"chmod 600 it (and 700 its folder), or delete it and {RECOVER}",
                              path=self._show(path))
        try:
            text = path.read_text(encoding="ascii").strip()
            material = base64.b64decode(text, validate=True)
        except (OSError, UnicodeDecodeError, binascii.Error, ValueError):
            raise ConfigError(f"not a key sfsync wrote (base64 of {KEY_SIZE} bytes expected); delete it and "
                              f"{RECOVER}", path=self._show(path)) from None
        if len(material) != KEY_SIZE:
            raise ConfigError(f"not a key sfsync wrote (base64 of {KEY_SIZE} bytes expected); delete it and "
                              f"{RECOVER}", path=self._show(path))
        return Key(material)

    # ---- writing ----------------------------------------------------------------------------------
    def current_or_create(self) -> Key:
        """The current key, made (and written 0600 in a 0700 folder) when there is none."""
        key = self.current()
        if key is not None:
            return key
        key = Key.generate()
        if self._write_new(self.path, key):
            return key
        found = self.current()  # another process made it first: use theirs
        if found is None:
            raise ConfigError("cannot create the key", path=self._show(self.path))
        return found

    def stage(self) -> Key:
        """A new key written beside the current one (a rotation's first step)."""
        while True:
            key = Key.generate()
            if self._write_new(self._staged_path(key.stable_id), key):
                return key

    def promote(self, key: Key) -> None:
        """Make a staged key the current one (the old key is gone after this)."""
        staged = self._staged_path(key.stable_id)
        try:
            os.replace(staged, self.path)
        except OSError as exc:
            raise ConfigError(f"cannot replace the key: {exc.strerror}", path=self._show(self.path)) from None
        fsync_dir(self.folder)

    def unstage(self, key: Key) -> None:
        """Delete a staged key nothing was sealed with."""
        with contextlib.suppress(OSError):
            self._staged_path(key.stable_id).unlink()

    def discard_staged(self, keep: Key | None = None) -> list[str]:
        """Delete keys left waiting by an earlier, interrupted rotation; their names."""
        gone = []
        for path in sorted(self.folder.glob("sfsync-*.key")):
            if keep is not None and path == self._staged_path(keep.stable_id):
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                gone.append(path.name)
        return gone

    def _staged_path(self, stable_id: str) -> Path:
        return self.folder / f"sfsync-{stable_id[len(ID_PREFIX):]}.key"

    def _write_new(self, path: Path, key: Key) -> bool:
        """Write ``key`` at ``path`` unless a file is there already (atomic create; ``False`` then)."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if stat.S_IMODE(self.folder.stat().st_mode) & 0o077:
                os.chmod(self.folder, 0o700)
            fd, tmp = tempfile.mkstemp(prefix=".sfsync.", suffix=".tmp", dir=self.folder)
        except OSError as exc:
            raise ConfigError(f"cannot write the key: {exc.strerror}", path=self._show(path)) from None
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(_b64(key.material) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # fails when the name exists: never overwrite a key in use
            except FileExistsError:
                return False
            except OSError as exc:
                raise ConfigError(f"cannot write the key: {exc.strerror}", path=self._show(path)) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        fsync_dir(self.folder)
        return True

    def _show(self, path: Path) -> str:
        return f"{self.shown}/{path.name}"
