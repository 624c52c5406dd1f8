"""PageWriter: a remote target's pages sent a few deep, committed in order; a shared key waits; a failure
stops the later commits (their sending is still waited for)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.sync.page_commit import SEND_DEPTH, PageWriter


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.sending = 0
        self.most_sending = 0

    def add(self, kind: str, page: int) -> None:
        with self.lock:
            self.events.append((kind, page))


def sender(log: Log, page: int, release: threading.Event | None = None, fail: bool = False):
    def send() -> None:
        with log.lock:
            log.sending += 1
            log.most_sending = max(log.most_sending, log.sending)
        try:
            if release is not None:
                assert release.wait(10), "never released"
            if fail:
                raise RuntimeError(f"page {page} refused")
            log.add("sent", page)
        finally:
            with log.lock:
                log.sending -= 1
    return send


def test_pages_are_sent_several_at_once_and_committed_in_order():
    log = Log()
    gates = [threading.Event() for _ in range(6)]
    writer = PageWriter(ThreadPoolExecutor(1), sending=True)
    assert writer.depth == SEND_DEPTH > 1
    try:
        # page 0's sending is held until page 1 is handed over: both are on the way at once
        writer.submit(log.add, "commit", 0, send=sender(log, 0, gates[0]))
        gates[1].set()
        writer.submit(log.add, "commit", 1, send=sender(log, 1, gates[1]))
        gates[0].set()
        for page in range(2, 6):
            gates[page].set()
            writer.submit(log.add, "commit", page, send=sender(log, page, gates[page]))
        writer.wait()
    finally:
        writer.close()
    commits = [p for kind, p in log.events if kind == "commit"]
    assert commits == list(range(6))                          # in order, each once
    for page in range(6):                                      # each commit after its own sending
        assert log.events.index(("sent", page)) < log.events.index(("commit", page))
    assert log.events.index(("sent", 1)) < log.events.index(("sent", 0))   # page 1 did not wait for page 0
    assert log.most_sending == 2


def test_a_page_writing_a_key_in_flight_waits_for_that_page():
    log = Log()
    release = threading.Event()
    writer = PageWriter(ThreadPoolExecutor(1), sending=True)
    try:
        writer.submit(log.add, "commit", 0, send=sender(log, 0, release), keys=["005A", "005B"])
        threading.Timer(0.05, release.set).start()
        writer.submit(log.add, "commit", 1, send=sender(log, 1), keys=["005B"])   # same target: after page 0
        writer.wait()
    finally:
        writer.close()
    assert log.events == [("sent", 0), ("commit", 0), ("sent", 1), ("commit", 1)]
    assert log.most_sending == 1


def test_after_a_failed_page_no_later_page_is_committed_and_the_first_error_is_raised():
    log = Log()
    hold = threading.Event()
    writer = PageWriter(ThreadPoolExecutor(1), sending=True)
    try:
        writer.submit(log.add, "commit", 0, send=sender(log, 0, hold, fail=True))
        writer.submit(log.add, "commit", 1, send=sender(log, 1))
        hold.set()
        with pytest.raises(RuntimeError, match="page 0 refused"):
            writer.submit(log.add, "commit", 2, send=sender(log, 2))
        writer.drain()                       # page 1 was sent, never committed; nothing left running
        assert ("sent", 1) in log.events and log.sending == 0
        assert [e for e in log.events if e[0] == "commit"] == []
        writer.submit(log.add, "after", 9)   # a clean-up handed over after the failure still runs
        writer.wait()
    finally:
        writer.close()
    assert log.events[-1] == ("after", 9)


def test_without_a_sender_a_page_commits_before_the_next_is_handed_over():
    log = Log()
    writer = PageWriter(ThreadPoolExecutor(1))
    assert writer.depth == 1
    try:
        for page in range(3):
            writer.submit(log.add, "commit", page, send=sender(log, page))
        writer.wait()
    finally:
        writer.close()
    assert log.events == [(k, p) for p in range(3) for k in ("sent", "commit")]
