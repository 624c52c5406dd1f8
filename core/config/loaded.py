"""The project's configuration, read once per operation: :class:`ProjectConfig` and :class:`ConfigWatcher`.

A :class:`ProjectConfig` is one look at the project's configuration files (``sfsync.toml``, the provisioner
file, ``sync.json``, ``managed.json``): each file is read, parsed and validated the first time an operation
asks for it, then kept, so an operation that hands its ``ProjectConfig`` down reads each file at most once,
however many layers look at it. A bad file is the same :class:`~core.errors.ConfigError` (file and field
named) every time the operation asks for it, and never stops the use of the other files; a look that met one
is not kept for the next operation.

The packages above ``core.config`` keep their own validated views of a file (``sync.json``'s mappings in
``core.sync``, ``managed.json``'s schema in ``core.repo``) on the same object through :meth:`ProjectConfig.view`,
so those too are built once per look.

A :class:`ConfigWatcher` is what a long-lived front end holds (the REST server, the app, the scheduler): its
:meth:`~ConfigWatcher.current` gives the ``ProjectConfig`` it gave last while no file changed (one ``stat`` per
file: modification time in nanoseconds, size, inode, status change time), and a fresh one after any change,
whoever made it (a login saving tokens, the app's settings, a key rotation, an editor). A file modified within
:data:`RACY_NS` of the look that read it may change again without its ``stat`` changing (timestamps are as
coarse as the kernel's clock tick), so such a look is never handed out twice, as git treats a "racily clean"
index entry.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from core.config.project import Project

if TYPE_CHECKING:
    from core.config.provisioner import ProvisionerConfig
    from core.config.settings import Settings

T = TypeVar("T")

#: a file modified this recently (nanoseconds) may change again with the same stat (see the module)
RACY_NS = 100_000_000

#: ``(st_mtime_ns, st_size, st_ino, st_ctime_ns)``, or None for a missing file
Stamp = tuple[int, int, int, int] | None


def file_stamp(path: str | os.PathLike[str]) -> Stamp:
    """What tells a file changed without reading it: its modification time, size, inode and status change
    time (a ``chmod`` that makes an unreadable file readable changes only that); None when it is absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _files(project: Project) -> tuple[str, ...]:
    """The files a :class:`ProjectConfig` reads, in the order of :attr:`ProjectConfig.stamps`."""
    return (os.fspath(project.settings_path), os.fspath(project.provisioner_path),
            os.fspath(project.sync_path), os.fspath(project.managed_path))


class _Missing:
    """A file that is not there (``sync.json`` and ``managed.json`` are optional for some operations)."""


_MISSING = _Missing()


@dataclass(frozen=True, eq=False)
class ProjectConfig:
    """One look at a project's configuration files; each is read when first asked for, then kept.

    Treat what it gives as read-only: it is shared by every part of the operation (and, through a
    :class:`ConfigWatcher`, by the operations after it while no file changes). A write loads its own copy
    (``Settings.load``, ``ProvisionerConfig.load``), saves it, and the next look sees the new file.
    """

    project: Project
    #: each file's :func:`file_stamp` when the look was taken (settings, provisioner, sync.json, managed.json)
    stamps: tuple[Stamp, ...]
    #: when the look was taken (``time.time_ns()``)
    taken_ns: int
    _memo: dict[str, tuple[bool, Any]] = field(default_factory=dict, repr=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, init=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False, init=False)
    #: other files a view read (a script's ``"file"``): path -> (its stamp, when it was taken)
    _watched: dict[str, tuple[Stamp, int]] = field(default_factory=dict, repr=False, init=False)

    @classmethod
    def load(cls, project: Project) -> ProjectConfig:
        """A new look at ``project``'s files (each read on first use)."""
        taken = time.time_ns()
        return cls(project, tuple(file_stamp(path) for path in _files(project)), taken)

    # ---- the files ------------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """``sfsync.toml`` (the defaults when there is none); a bad value is a ConfigError naming it."""
        from core.config.settings import Settings

        return self.view("settings", lambda: Settings.load(self.project))

    @property
    def provisioner(self) -> ProvisionerConfig:
        """The provisioner file, every secret opened (strict: a secret that cannot be opened is a
        ConfigError naming it; a login, which replaces such a secret, loads its own with ``strict=False``)."""
        from core.config.provisioner import ProvisionerConfig

        return self.view("provisioner", lambda: ProvisionerConfig.load(self.project))

    @property
    def sync_data(self) -> Any:
        """``conf/sync.json`` parsed (not yet checked: ``core.sync`` checks it, once per look), or None when
        the project has none."""
        return self._json("sync.json", self.project.sync_path)

    @property
    def managed_data(self) -> Any:
        """``conf/managed.json`` parsed (``core.repo`` and ``core.sync`` check their parts), or None when the
        project has none."""
        return self._json("managed.json", self.project.managed_path)

    def _json(self, key: str, path: os.PathLike[str]) -> Any:
        from core.config.jsonfile import load_json

        def read() -> Any:
            if not os.path.exists(path):
                return _MISSING
            return load_json(path)[0]

        value = self.view(key, read)
        return None if value is _MISSING else value

    # ---- views built from the files, once per look ---------------------------------------------------
    def view(self, key: str, build: Callable[[], T]) -> T:
        """``build()``'s value the first time ``key`` is asked for on this look, the same value after; an
        error it raised is raised again each time (a bad file stays bad until it changes)."""
        with self._lock:  # one lock per key: a slow view (sync.json's scripts compiled) holds up no other
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                found = self._memo.get(key)
            if found is None:
                try:
                    found = (True, build())
                except Exception as exc:  # noqa: BLE001 - kept, and raised to every caller of this look
                    found = (False, exc)
                with self._lock:  # unchanged() reads the memo from any thread
                    self._memo[key] = found
        ok, value = found
        if not ok:
            raise cast(Exception, value).with_traceback(None)
        return cast(T, value)

    def watch(self, paths: Iterable[str]) -> None:
        """Files a view has just read besides the four (a script's ``"file"``): a change to one of them is a
        change of the configuration too, so the watcher's next look reads them again."""
        now = time.time_ns()
        with self._lock:
            for path in paths:
                self._watched.setdefault(path, (file_stamp(path), now))

    # ---- freshness ------------------------------------------------------------------------------------
    def unchanged(self) -> bool:
        """Whether every file is as this look found it, and none was so new it could have changed unseen. A
        look that met a bad file is never reused: the fix may be in a file it could not name (a script file
        created, a key restored), so the next operation reads again, as before the look was kept."""
        with self._lock:
            watched = dict(self._watched)
            if any(not ok for ok, _ in self._memo.values()):
                return False
        taken = [(s, self.taken_ns) for s in self.stamps] + list(watched.values())
        if any(s is not None and when - s[0] < RACY_NS for s, when in taken):
            return False
        if tuple(file_stamp(path) for path in _files(self.project)) != self.stamps:
            return False
        return all(file_stamp(path) == stamp for path, (stamp, _) in watched.items())


class ConfigWatcher:
    """The current :class:`ProjectConfig` of one project, looked at again only when a file changed.

    Thread-safe. A front end keeps one for its life and asks :meth:`current` at the start of each operation;
    the operation hands that one object down.
    """

    def __init__(self, project: Project, initial: ProjectConfig | None = None, *, follow: bool = True) -> None:
        self.project = project
        #: False: :meth:`current` is always ``initial`` (a command line's one operation, whatever happens to
        #: the files meanwhile)
        self.follow = follow
        self._lock = threading.Lock()
        self._config = initial

    def current(self) -> ProjectConfig:
        """The last look while the files are unchanged (a ``stat`` each), else a new one."""
        with self._lock:
            if self._config is None or (self.follow and not self._config.unchanged()):
                self._config = ProjectConfig.load(self.project)
            return self._config

    def forget(self) -> None:
        """Drop the kept look: the next :meth:`current` reads the files again (after a write of one)."""
        with self._lock:
            self._config = None


def watcher_of(project: Project, config: ConfigWatcher | ProjectConfig | None) -> ConfigWatcher:
    """What a service keeps: ``config`` when it is a watcher; when it is one look (a command line's one
    operation), a watcher that always gives that look; else a new watcher of ``project``'s files."""
    if isinstance(config, ConfigWatcher):
        return config
    if config is not None:
        return ConfigWatcher(config.project, config, follow=False)
    return ConfigWatcher(project)
