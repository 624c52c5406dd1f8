"""The backoff between tries: full jitter under an exponential ceiling that never passes ``max_delay``."""

from __future__ import annotations

import random

import httpx
import pytest
import respx

from core.salesforce.connector import SalesforceConnector
from core.salesforce.errors import TransientError
from core.salesforce.retry import RetryPolicy

API = "https://acme.my.salesforce.com/services/data/v62.0"
LOGIN_URL = "https://login.salesforce.com/services/oauth2/token"
TOKEN = {"access_token": "00Dxx!ACCESS1", "instance_url": "https://acme.my.salesforce.com", "id": "https://x/id/00D/005"}


class Highest(random.Random):
    """Always draws the top of the range: the longest wait the policy allows."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize("attempt", [5, 6, 10, 30, 64])
def test_a_late_try_waits_no_longer_than_max_delay(attempt: int) -> None:
    """Past the point where base_delay * 2**(n-1) exceeds max_delay, the wait is capped at max_delay
    (and still jittered below it, never above)."""
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, rng=Highest())
    assert policy.backoff(attempt) == 4.0
    for seed in range(50):
        wait = RetryPolicy(base_delay=0.5, max_delay=4.0, rng=random.Random(seed)).backoff(attempt)
        assert 2.0 <= wait <= 4.0, wait


def test_early_tries_grow_exponentially_below_the_cap() -> None:
    """The cap only bounds the ceiling: the first tries still double (0.5, 1, 2)."""
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, rng=Highest())
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_retry_after_longer_than_max_delay_is_still_honoured() -> None:
    """``Retry-After`` is a minimum from the server, not a backoff: it may exceed max_delay (up to max_elapsed)."""
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, max_elapsed=60.0, rng=Highest())
    assert policy.backoff(1, retry_after=10.0) == 10.0


async def test_a_long_outage_never_waits_more_than_max_delay_between_tries(sleeps, config_factory) -> None:
    """Through the connector: eight 503s in a row, every recorded wait is at most max_delay."""
    policy = RetryPolicy(attempts=8, base_delay=0.5, max_delay=2.0, max_elapsed=600.0, sleep=sleeps.sleep,
                         clock=sleeps.clock, rng=Highest())
    with respx.mock(assert_all_called=False) as org:
        org.post(LOGIN_URL).mock(return_value=httpx.Response(200, json=TOKEN))
        org.get(f"{API}/sobjects/User/describe").mock(return_value=httpx.Response(503, text="down"))
        async with SalesforceConnector(config_factory(), retry=policy) as conn:
            with pytest.raises(TransientError, match="gave up after 8 tries"):
                await conn.describe()
    assert sleeps.waits == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]


class Clock:
    """A clock that reads whatever the test set."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_retry_must_fit_in_max_elapsed_counting_the_wait() -> None:
    """The next try is allowed only if the time spent since the first try plus the wait stays within
    max_elapsed (the limit itself included), and only while tries are left."""
    clock = Clock(1170.0)
    policy = RetryPolicy(attempts=8, max_elapsed=180.0, clock=clock)
    started = 1000.0  # 170 s spent
    assert policy.allows(1, started, 10.0)  # exactly 180: still allowed
    assert not policy.allows(1, started, 10.5)
    assert not policy.allows(1, started, 20.0)
    clock.now = 1010.0  # 10 s spent
    assert policy.allows(7, started, 0.0)
    assert not policy.allows(8, started, 0.0)  # the 9th try is one too many


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0),
    ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),   # an HTTP date: seconds from now
    ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),    # a date already past: no wait
    (" Wed, 21 Oct 2026 07:28:00 GMT ", 0.0),
    ("soon", None), ("", None), (None, None),
])
def test_retry_after_is_read_as_seconds_or_as_an_http_date(header, seconds) -> None:
    """``Retry-After`` is a number of seconds or an HTTP date; never negative; anything else is ignored."""
    from datetime import UTC, datetime

    from core.salesforce.retry import parse_retry_after

    now = datetime(2026, 10, 21, 7, 28, tzinfo=UTC).timestamp()
    assert parse_retry_after(header, now=now) == seconds


def test_retry_after_as_a_date_counts_from_the_current_time_by_default() -> None:
    """Without ``now`` the date is compared with the real clock: a date long past means no wait, one far
    ahead means a long one."""
    from core.salesforce.retry import parse_retry_after

    assert parse_retry_after("Tue, 01 Jan 2002 00:00:00 GMT") == 0.0
    assert parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT") > 365 * 24 * 3600
