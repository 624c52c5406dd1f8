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
