"""Helpers for Pilot tests (imported by name: tests/tui is on sys.path in pytest's prepend mode)."""

from __future__ import annotations


async def wait_for(pilot, predicate, what: str, rounds: int = 400) -> None:
    """Let workers and messages run until ``predicate()`` holds (no fixed sleeps)."""
    import asyncio

    for _ in range(rounds):
        await pilot.pause()
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
