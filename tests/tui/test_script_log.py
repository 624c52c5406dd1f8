"""Scripts' warnings and errors reach the app as notifications, throttled, and a test of it in the app."""

from __future__ import annotations

import logging
import threading

from pilot_helpers import wait_for

from tui.app import make_app
from tui.script_log import SCRIPT_LOGGER, ScriptLogged, ScriptLogNotifier


def test_warnings_and_errors_are_posted_and_a_flood_is_folded():
    posted: list[ScriptLogged] = []
    now = [0.0]
    notifier = ScriptLogNotifier(posted.append, interval=5.0, clock=lambda: now[0]).attach()
    log = logging.getLogger(SCRIPT_LOGGER)
    try:
        log.info("m.onCreate: just info")
        log.warning("m.onCreate: first")
        for i in range(100):
            log.warning("m.onCreate: again %d", i)
        now[0] = 10.0
        log.error("m.onCreate: failed")
    finally:
        notifier.detach()
    assert [(p.text, p.error, p.more) for p in posted] == [
        ("m.onCreate: first", False, 0), ("m.onCreate: failed", True, 100)]


async def test_the_app_shows_a_scripts_warning_from_a_worker_thread(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        thread = threading.Thread(target=logging.getLogger(SCRIPT_LOGGER).warning,
                                  args=("userAccount.onCreate: no mail for bob",))
        thread.start()
        thread.join()
        await wait_for(pilot, lambda: any("no mail for bob" in str(n.message) for n in app._notifications),
                       "the notification")
    assert not any(isinstance(h, ScriptLogNotifier) for h in logging.getLogger(SCRIPT_LOGGER).handlers)
