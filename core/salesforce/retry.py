"""How long to wait before trying again: exponential backoff with full jitter, bounded twice.

Bounded in count (``attempts``) and in time (``max_elapsed``), so an outage fails a run with a clear
reason instead of hanging it; a ``Retry-After`` from Salesforce or a proxy is honoured as a minimum.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class RetryPolicy:
    """Retry settings; ``sleep`` and ``clock`` are injectable so tests can observe waits without waiting."""

    attempts: int = 8  # even the shortest jitter waits 15.75 s before the 7th try: a 10 s outage is ridden out
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_elapsed: float = 180.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        wait = self.rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_elapsed))
        return wait

    def allows(self, attempt: int, started: float, wait: float) -> bool:
        """Whether try number ``attempt + 1`` may start after waiting ``wait`` seconds."""
        return attempt < self.attempts and (self.clock() - started) + wait <= self.max_elapsed


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))
