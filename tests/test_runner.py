"""``core.runner``: async work from a thread, with one handle (``wait``, ``cancel``, ``await``)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.runner import Cancel, Cancellable, Run, start


async def until_cancelled(cancel: Cancel) -> str:
    while not cancel.event.is_set():
        await asyncio.sleep(0.01)
    return "stopped"


def test_the_work_runs_on_its_own_thread_and_loop_and_wait_gives_its_result():
    caller = threading.get_ident()

    async def main(_cancel: Cancel) -> tuple[int, bool]:
        return threading.get_ident(), asyncio.get_running_loop().is_running()

    handle = start(main, name="test-result")
    ident, running = handle.wait(10)
    assert ident != caller and running and handle.done()
    handle.join(10)
    assert handle.thread is not None and handle.thread.ident == ident and not handle.thread.is_alive()


def test_the_work_s_exception_is_raised_by_wait():
    async def main(_cancel: Cancel) -> None:
        raise ValueError("no such mapping")

    with pytest.raises(ValueError, match="no such mapping"):
        start(main, name="test-error").wait(10)


def test_cancel_is_cooperative_and_reaches_callbacks_on_the_work_s_loop():
    on_loop: list[bool] = []

    async def main(cancel: Cancel) -> str:
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        cancel.on_cancel(lambda: (on_loop.append(asyncio.get_running_loop() is loop), stopped.set()))
        await stopped.wait()
        return "stopped"

    handle = start(main, name="test-cancel")
    with pytest.raises(TimeoutError):
        handle.wait(0.2)  # still running: nothing stops it but a cancel
    handle.cancel()
    assert handle.wait(10) == "stopped" and handle.cancelled and on_loop == [True]


def test_a_caller_s_own_event_cancels_the_run():
    event = threading.Event()
    handle = start(until_cancelled, name="test-event", cancel=event)
    event.set()
    assert handle.wait(10) == "stopped"


async def test_a_run_is_awaited_from_another_loop():
    handle = start(until_cancelled, name="test-await")
    handle.cancel()
    assert await handle == "stopped"


def test_a_run_is_cancellable():
    handle: Cancellable = start(until_cancelled, name="test-protocol")
    handle.cancel()
    assert isinstance(handle, Run) and handle.wait(10) == "stopped"
