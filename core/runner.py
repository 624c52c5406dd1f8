"""The one way sfsync runs async core work from a thread: :func:`start` gives a :class:`Run` handle.

Core is asyncio; its callers are threads (the app's workers, the REST server's handlers, the scheduler). A
piece of async work started here runs to its end on an event loop of its own, in a daemon thread of its own,
so however it spends its time the caller's loop (uvicorn's, Textual's) stays free. The handle is the same for
every caller: :meth:`Run.wait` blocks for the result (``await run`` from a loop), :meth:`Run.cancel` asks the
work to stop. Cancelling is cooperative, as IDM's: the work is handed a :class:`Cancel` whose ``event`` core's
long operations poll between pages (a reconciliation ends CANCELED, its page committed), and whose
:meth:`Cancel.on_cancel` runs a callback on the work's own loop (the scheduler stops its timers there).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

__all__ = ["Cancel", "Cancellable", "Run", "start"]


class Cancellable(Protocol):
    """Anything that can be asked to stop (a :class:`Run`, a scheduler, a login attempt)."""

    def cancel(self) -> None: ...


class Cancel:
    """The work's side of a cancel: a thread-safe ``event`` and callbacks run on the work's loop."""

    def __init__(self, event: threading.Event | None = None) -> None:
        self.event = event or threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callbacks: list[Callable[[], Any]] = []
        self._lock = threading.Lock()

    def on_cancel(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` on the work's loop when the run is cancelled (at once if it already is)."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._callbacks.append(callback)
            now = self.event.is_set()
        if now:
            self._loop.call_soon(callback)

    def _fire(self) -> None:
        self.event.set()
        with self._lock:
            loop, callbacks = self._loop, list(self._callbacks)
        for callback in callbacks if loop is not None else ():
            try:
                loop.call_soon_threadsafe(callback)  # type: ignore[union-attr]
            except RuntimeError:  # the loop has ended: nothing left to stop
                return


class Run(Generic[T]):
    """A piece of async work running on its own thread and loop; thread-safe."""

    def __init__(self, name: str, cancel: Cancel) -> None:
        self.name = name
        self.future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._cancel = cancel
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        """Ask the work to stop (cooperative: see the module); returns at once."""
        self._cancel._fire()

    @property
    def cancelled(self) -> bool:
        return self._cancel.event.is_set()

    def done(self) -> bool:
        return self.future.done()

    def wait(self, timeout: float | None = None) -> T:
        """Block until the work ends: its result, or its exception raised here (TimeoutError on ``timeout``)."""
        return self.future.result(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread itself to end (its loop closed), whatever the work's outcome."""
        if self.thread is not None:
            self.thread.join(timeout)

    def __await__(self) -> Generator[Any, None, T]:
        return asyncio.wrap_future(self.future).__await__()


def start(main: Callable[[Cancel], Coroutine[Any, Any, T]], *, name: str,
          cancel: threading.Event | None = None) -> Run[T]:
    """Run ``main(cancel)`` to its end on a new event loop in a new daemon thread; the handle at once.

    ``cancel``: an event the caller already has (a worker's), set to cancel as :meth:`Run.cancel` does.
    """
    token = Cancel(cancel)
    run: Run[T] = Run(name, token)

    def thread_main() -> None:
        try:
            result = asyncio.run(main(token))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the run
            run.future.set_exception(exc)
        else:
            run.future.set_result(result)

    run.thread = threading.Thread(target=thread_main, name=name, daemon=True)
    run.thread.start()
    return run
