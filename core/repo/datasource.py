"""Which repository a project uses: PostgreSQL when ``SFSYNC_REPO_URL`` (any libpq URI, Unix sockets included;
it wins) or IDM's own ``conf/datasource.jdbc-default.json`` (``jdbcUrl`` ``jdbc:postgresql://HOST:PORT/DB``)
says so, else the project's SQLite file.

The datasource file is read as IDM reads it (reference idm-beyond-the-sample.md §1.1): ``jdbcUrl``,
``username``, ``password`` (clear text or a ``$crypto`` object sealed by sfsync's key), ``databaseName`` (used
when ``jdbcUrl`` names no database), ``connectionTimeout`` (ms), ``connectionPool`` (``minimumIdle``,
``maximumPoolSize``). A ``jndiName``/``jtaName`` datasource (an OSGi container's) and unresolved
``&{property}`` tokens are refused by name. A file whose ``jdbcUrl`` names another database (MySQL, …) is
refused too: sfsync's only repositories are SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from core.errors import ConfigError

ENV = "SFSYNC_REPO_URL"
DATASOURCE_FILE = "datasource.jdbc-default.json"
#: the pool's largest size whatever the file asks (IDM ships 50 for a JVM serving many threads)
POOL_CAP = 16


@dataclass(frozen=True)
class PgSettings:
    """A PostgreSQL repository to open: its libpq URI, where it came from, and the pool's settings."""

    url: str
    origin: str  # "SFSYNC_REPO_URL" or the datasource file's shown path
    timeout: float = 30.0
    min_size: int = 1
    max_size: int = 8


def pg_settings(conf_dir: Path) -> PgSettings | None:
    """The PostgreSQL repository the project asks for, or None (SQLite). ConfigError for a bad setting."""
    url = os.environ.get(ENV, "").strip()
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"{ENV}: not a PostgreSQL URI (postgresql://USER@HOST:PORT/DB, or "
                              "postgresql:///DB?host=/socket/folder)")
        _check_uri(url, ENV)
        return PgSettings(url, ENV)
    path = conf_dir / DATASOURCE_FILE
    if not path.exists():
        return None
    return _from_file(path)


def _check_uri(url: str, origin: str, path: str | None = None) -> None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except Exception as exc:
        from core.repo.pgdb import mask_url

        raise ConfigError(f"{origin}: not a valid PostgreSQL URI ({mask_url(url)}): "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", path=path) from None


def _from_file(path: Path) -> PgSettings:
    from core.config.jsonfile import display_path, load_json

    shown = display_path(path)
    data, _ = load_json(path)
    if not isinstance(data, dict):
        raise ConfigError("must be a JSON object", path=shown)

    def bad(field: str, why: str) -> ConfigError:
        return ConfigError(why, path=shown, field=field)

    for key in ("jndiName", "jtaName"):
        if data.get(key):
            raise bad(key, "a container's datasource cannot be used by sfsync; give driverClass and jdbcUrl")
    jdbc = data.get("jdbcUrl")
    if not isinstance(jdbc, str) or not jdbc:
        raise bad("jdbcUrl", "is required (jdbc:postgresql://HOST:PORT/DB)")
    for field, value in data.items():
        if isinstance(value, str) and "&{" in value:
            raise bad(field, f"{value!r} has an unresolved IDM property (&{{…}}); write the value itself")
    if not jdbc.startswith("jdbc:postgresql:"):
        raise bad("jdbcUrl", "names a database sfsync cannot use as its repository (PostgreSQL only: "
                             "jdbc:postgresql://HOST:PORT/DB); remove the file to use the SQLite repository")
    parts = urlsplit(jdbc[len("jdbc:"):])
    if parts.scheme != "postgresql" or not parts.hostname:
        raise bad("jdbcUrl", "not jdbc:postgresql://HOST:PORT/DB")
    try:
        port = parts.port or 5432
    except ValueError:
        raise bad("jdbcUrl", "the port is not a number") from None
    database = parts.path.lstrip("/") or data.get("databaseName")
    if not isinstance(database, str) or not database:
        raise bad("databaseName", "is required when jdbcUrl names no database")
    user = data.get("username")
    if user is not None and not isinstance(user, str):
        raise bad("username", "must be a string")
    password = _password(data.get("password"), path, shown)
    query = {k: v for k, v in parse_qsl(parts.query)}
    user = user or query.pop("user", None)
    password = password or query.pop("password", None)
    auth = ""
    if user:
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "") + "@"
    host = parts.hostname if not re.match(r"^[0-9a-fA-F:]+$", parts.hostname) else f"[{parts.hostname}]"
    url = f"postgresql://{auth}{host}:{port}/{quote(database, safe='')}"
    if "sslmode" in query:
        url += f"?sslmode={quote(query['sslmode'], safe='')}"
    timeout = _number(data.get("connectionTimeout", 30000), "connectionTimeout", shown) / 1000.0
    pool = data.get("connectionPool") or {}
    if not isinstance(pool, dict):
        raise bad("connectionPool", "must be an object")
    min_size = int(_number(pool.get("minimumIdle", 1), "connectionPool.minimumIdle", shown))
    max_size = int(_number(pool.get("maximumPoolSize", 8), "connectionPool.maximumPoolSize", shown))
    if max_size < 1:
        raise bad("connectionPool.maximumPoolSize", "must be 1 or more")
    max_size = min(max_size, POOL_CAP)
    return PgSettings(url, shown, timeout=max(timeout, 1.0), min_size=max(0, min(min_size, max_size)),
                      max_size=max_size)


def _number(value: Any, field: str, shown: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError("must be a number of 0 or more", path=shown, field=field)
    return float(value)


def _password(value: Any, path: Path, shown: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    from core.config.secrets import KeyStore, UnreadableSecret, is_crypto, open_value

    if not is_crypto(value):
        raise ConfigError("must be a string or a $crypto object", path=shown, field="password")
    try:
        return open_value(value, KeyStore.for_config(path), "password")
    except UnreadableSecret as exc:
        raise ConfigError(str(exc), path=shown, field="password") from None
