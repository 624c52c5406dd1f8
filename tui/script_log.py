"""Scripts' ``logger.warn``/``logger.error`` lines as notifications in the app (every line, of any level, is
in ``<project>/logs/sfsync.log``; see README, Scripts)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

SCRIPT_LOGGER = "sfsync.script"


@dataclass
class ScriptLogged(Message):
    """A script logged a warning or an error; ``more`` lines were folded into this one."""

    text: str
    error: bool
    more: int = 0


class ScriptLogNotifier(logging.Handler):
    """Posts :class:`ScriptLogged` for WARNING and above, at most one per ``interval`` seconds (a script that
    warns for each of 100,000 records must not flood the screen); the lines in between are counted into the
    next one. ``post`` is thread-safe (Textual's ``post_message``): scripts run in worker threads."""

    def __init__(self, post: Callable[[Message], object], interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(logging.WARNING)
        self._post = post
        self._interval = interval
        self._clock = clock
        self._guard = threading.Lock()
        self._shown_at: float | None = None
        self._held = 0

    def emit(self, record: logging.LogRecord) -> None:
        now = self._clock()
        with self._guard:
            if self._shown_at is not None and now - self._shown_at < self._interval:
                self._held += 1
                return
            self._shown_at, more, self._held = now, self._held, 0
        try:
            self._post(ScriptLogged(record.getMessage(), record.levelno >= logging.ERROR, more))
        except Exception:  # noqa: BLE001 - a closing app: the line is in the log file anyway
            pass

    def attach(self) -> ScriptLogNotifier:
        logging.getLogger(SCRIPT_LOGGER).addHandler(self)
        return self

    def detach(self) -> None:
        logging.getLogger(SCRIPT_LOGGER).removeHandler(self)
