"""Helpers for Pilot tests (imported by name: tests/tui is on sys.path in pytest's prepend mode)."""

from __future__ import annotations

import asyncio
import time


async def wait_for(pilot, predicate, what: str, timeout: float = 60.0) -> None:
    """Let workers and messages run until ``predicate()`` holds; fail after ``timeout`` seconds.

    Work here happens on other threads (core, the local org), so there is no single event to await; this
    polls, generously bounded so a loaded CI machine does not fail a correct run.
    """
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)
