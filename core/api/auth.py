"""Who may call the REST API: IDM's ``X-OpenIDM-Username`` / ``X-OpenIDM-Password`` headers.

The admin password is stored in ``conf/sfsync.toml`` as a salted scrypt hash (never the password). IDM's
well-known default ``openidm-admin``/``openidm-admin`` is accepted only while no credentials are configured
AND the server listens on loopback only, so a fresh project works with the seed's curl commands on this
machine but can never be exposed to a network with a password everyone knows.

Wrong attempts in a row from one client slow that client's further attempts down (growing delays), so the
password cannot be guessed at network speed; a correct attempt resets the count.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import UsageError

if TYPE_CHECKING:
    from core.config import ConfigWatcher, Project

DEFAULT_USERNAME = "openidm-admin"
DEFAULT_PASSWORD = "openidm-admin"

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCHEME = "scrypt"


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64): the parameters travel with the hash so they can grow later."""
    if not password:
        raise ValueError("the admin password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"{_SCHEME}${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string; malformed -> False."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != _SCHEME:
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        digest = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p),
                                dklen=len(expected), maxmem=128 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; anything else (0.0.0.0, a LAN address) is exposed."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Credentials:
    """The admin account from ``sfsync.toml``: configured once a password hash is set.

    A hash without a username keeps IDM's admin name ``openidm-admin`` (with the new password).
    """

    username: str | None
    password_hash: str | None

    @property
    def configured(self) -> bool:
        return bool(self.password_hash)

    @property
    def effective_username(self) -> str:
        return self.username or DEFAULT_USERNAME


class AuthRefused(UsageError):
    """The server must not start: the default password would be reachable from the network (exit 2)."""


class Authenticator:
    """Checks a username/password pair; caches successes so scrypt runs once per credential, not per request.

    ``load_credentials`` is called on every check and may re-read ``sfsync.toml`` (cheaply, by mtime), so
    setting a password takes effect without a restart.
    """

    def __init__(self, load_credentials: Callable[[], Credentials], *, bind_host: str) -> None:
        self._load = load_credentials
        self._bind_host = bind_host
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[bytes, str] = {}

    def check_startable(self) -> None:
        """Raise :class:`AuthRefused` when bound beyond loopback with no configured credentials."""
        if not self._load().configured and not is_loopback(self._bind_host):
            raise AuthRefused(
                f"refusing to listen on {self._bind_host}: no REST admin credentials are configured in "
                "conf/sfsync.toml (admin_username, admin_password_hash), and the default openidm-admin "
                "password is accepted on loopback only; set one with `sfsync serve --set-password`")

    def _fingerprint(self, username: str, password: str, password_hash: str) -> bytes:
        msg = b"\0".join(s.encode() for s in (username, password, password_hash))
        return hmac.new(self._cache_key, msg, hashlib.sha256).digest()

    def cached(self, username: str, password: str) -> bool | None:
        """The answer when it needs no scrypt (defaults, or a pair verified before); else ``None``."""
        creds = self._load()
        if not creds.configured:
            return self.verify(username, password)
        assert creds.password_hash is not None
        cached = self._verified.get(self._fingerprint(username, password, creds.password_hash))
        if cached is None:
            return None
        user_ok = hmac.compare_digest(username.encode(), creds.effective_username.encode())
        return user_ok and hmac.compare_digest(cached, creds.password_hash)

    def verify(self, username: str, password: str) -> bool:
        """Blocking (scrypt on a cache miss): call it from a worker thread."""
        creds = self._load()
        if not creds.configured:
            if not is_loopback(self._bind_host):
                return False
            return hmac.compare_digest(username.encode(), DEFAULT_USERNAME.encode()) & hmac.compare_digest(
                password.encode(), DEFAULT_PASSWORD.encode())
        assert creds.password_hash is not None
        user_ok = hmac.compare_digest(username.encode(), creds.effective_username.encode())
        fingerprint = self._fingerprint(username, password, creds.password_hash)
        cached = self._verified.get(fingerprint)
        if cached is not None:
            return user_ok and hmac.compare_digest(cached, creds.password_hash)
        ok = verify_password(password, creds.password_hash) and user_ok
        if ok:
            if len(self._verified) > 64:
                self._verified.clear()
            self._verified[fingerprint] = creds.password_hash
        return ok


class Throttle:
    """Growing delays for a client after ``free_attempts`` wrong attempts in a row.

    Delays double from ``base_delay`` up to ``max_delay``. Attempts that arrive while a client is delayed
    wait their turn (the next allowed time moves on with every failure), so parallel guessing is no faster
    than sequential guessing. ``sleep`` is injectable so tests can observe the delays without waiting.
    """

    def __init__(self, *, free_attempts: int = 3, base_delay: float = 0.5, max_delay: float = 30.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000) -> None:
        self.free_attempts = free_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._clock = clock
        self._max_clients = max_clients
        self._state: OrderedDict[str, tuple[int, float]] = OrderedDict()  # client -> (failures, next allowed)

    async def wait_turn(self, client: str) -> None:
        failures, next_allowed = self._state.get(client, (0, 0.0))
        delay = next_allowed - self._clock()
        if failures > self.free_attempts - 1 and delay > 0:
            await self._sleep(delay)

    def failed(self, client: str) -> None:
        failures, next_allowed = self._state.pop(client, (0, 0.0))
        failures += 1
        if failures >= self.free_attempts:
            step = min(self.base_delay * 2 ** (failures - self.free_attempts), self.max_delay)
            next_allowed = max(next_allowed, self._clock()) + step
        self._state[client] = (failures, next_allowed)
        while len(self._state) > self._max_clients:
            self._state.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._state.pop(client, None)

    def failures(self, client: str) -> int:
        return self._state.get(client, (0, 0.0))[0]


def settings_credentials_loader(project: Project,
                                configs: ConfigWatcher | None = None) -> Callable[[], Credentials]:
    """The admin account from the project's ``sfsync.toml``, through ``configs`` (the server's watcher of the
    project's files; a new one when omitted): read again only when a file changed, so a request costs a
    ``stat`` per file."""
    from core.config import ConfigWatcher

    watcher = configs or ConfigWatcher(project)

    def load() -> Credentials:
        settings = watcher.current().settings
        return Credentials(settings.admin_username, settings.admin_password_hash)

    return load
