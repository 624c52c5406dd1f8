"""What one running org application knows: the org, its query engine and the configured faults."""

from __future__ import annotations

import random
import secrets
import threading
import time
from dataclasses import dataclass, field

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .bulk import BulkJobs, JobTiming
from .org import Org
from .query import QueryEngine

LATEST_VERSION = 68
OLDEST_VERSION = 31
RETIRED_FROM = 21


def dumps(data: object) -> bytes:
    """Compact UTF-8 JSON. orjson serialises a 2,000-record page in ~1.5 ms where ``json`` takes ~20 ms;
    the page rate is what bounds a reconciliation against this org."""
    return orjson.dumps(data)


def json_response(data: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(dumps(data), status_code=status, headers=headers,
                    media_type="application/json;charset=UTF-8")


def base_url(request: Request) -> str:
    """``scheme://host[:port]`` the client used: instance_url and identity URLs point back at it."""
    return str(request.base_url).rstrip("/")


@dataclass
class Settings:
    auto_approve: bool = False
    token_ttl: float = 7200
    error_rate: float = 0.0
    latency_ms: float = 0.0
    #: bytes per second each connection can carry (0: unlimited): a response waits its size over it
    bandwidth: float = 0.0
    #: how long a Bulk API query job takes to complete
    job_timing: JobTiming = field(default_factory=JobTiming)
    #: seconds a resultPages result URL stays usable
    result_ttl: float = 600.0


@dataclass
class EmulatorState:
    org: Org
    settings: Settings
    engine: QueryEngine = field(init=False)
    bulk: BulkJobs = field(init=False)
    tickets: dict[str, tuple[str, float]] = field(default_factory=dict)   # consent ticket -> (user id, expiry)
    rng: random.Random = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.engine = QueryEngine(self.org)
        self.bulk = BulkJobs(self.engine, self.settings.job_timing, self.settings.result_ttl)
        self.rng = random.Random(self.org.seed ^ 0x5F5F)

    def new_ticket(self, user_id: str) -> str:
        ticket = secrets.token_urlsafe(24)
        with self.lock:
            now = time.time()
            for key in [k for k, (_, exp) in self.tickets.items() if exp < now]:
                del self.tickets[key]
            self.tickets[ticket] = (user_id, now + 600)
        return ticket

    def take_ticket(self, ticket: str) -> str | None:
        with self.lock:
            entry = self.tickets.pop(ticket, None)
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    def roll_fault(self) -> bool:
        if self.settings.error_rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < self.settings.error_rate


def version_label(version: int) -> str:
    i = version - 31
    season = ("Summer", "Winter", "Spring")[i % 3]
    return f"{season} '{14 + (i + 2) // 3:02d}"


def versions() -> list[dict]:
    return [{"label": version_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(OLDEST_VERSION, LATEST_VERSION + 1)]
