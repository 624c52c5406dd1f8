"""The Starlette application that serves an :class:`Org` as a Salesforce org."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import oauth
from .bulk import JobTiming
from .org import Org
from .rest import data_api
from .state import EmulatorState, Settings

_ALL = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"]


async def _home(request: Request) -> Response:
    org = request.app.state.emulator.org
    return HTMLResponse(f"<!DOCTYPE html><title>{org.name}</title><p>{org.name}: a local Salesforce org. "
                        "REST API under <code>/services/data</code>, OAuth under <code>/services/oauth2</code>.</p>")


def create_app(org: Org, *, auto_approve: bool = False, token_ttl: float = 7200, error_rate: float = 0.0,
               latency_ms: float = 0, bandwidth: float = 0, job_ms: float = 1000, job_rate: float = 50_000,
               instant_jobs: bool = False, result_ttl: float = 600) -> Starlette:
    """An ASGI app serving ``org``.

    ``auto_approve`` skips the login and consent pages; ``token_ttl`` is the access-token lifetime in seconds;
    ``error_rate`` (0..1) answers that fraction of data-API calls with 503 or 403 REQUEST_LIMIT_EXCEEDED;
    ``latency_ms`` delays every data-API call (Bulk API jobs and their results too); ``bandwidth`` (bytes/s,
    0 = unlimited) is what each connection carries, so a large answer takes its size's time. A Bulk API query
    job completes ``job_ms`` plus one second per ``job_rate`` rows after its creation (``instant_jobs``: at
    once); a ``resultPages`` URL works for ``result_ttl`` seconds. Faults never touch the OAuth endpoints.
    """
    if not 0 <= error_rate <= 1:
        raise ValueError(f"error_rate: must be between 0 and 1, got {error_rate}")
    if token_ttl <= 0:
        raise ValueError(f"token_ttl: must be positive, got {token_ttl}")
    if latency_ms < 0:
        raise ValueError(f"latency_ms: must be >= 0, got {latency_ms}")
    if bandwidth < 0:
        raise ValueError(f"bandwidth: must be >= 0 bytes per second, got {bandwidth}")
    timing = JobTiming.instant() if instant_jobs else JobTiming(job_ms / 1000, job_rate)
    routes = [
        Route("/", _home),
        Route("/services/oauth2/authorize", oauth.authorize, methods=["GET", "POST"]),
        Route("/services/oauth2/token", oauth.token, methods=["POST"]),
        Route("/services/oauth2/revoke", oauth.revoke, methods=["GET", "POST"]),
        Route("/services/oauth2/userinfo", oauth.userinfo, methods=["GET", "POST"]),
        Route("/id/{org_id}/{user_id}", oauth.identity, methods=["GET", "POST"]),
        Route("/.well-known/openid-configuration", oauth.discovery),
        Route("/services/data", data_api, methods=_ALL),
        Route("/services/data/{rest:path}", data_api, methods=_ALL),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = EmulatorState(org, Settings(auto_approve, token_ttl, error_rate, latency_ms, bandwidth,
                                                     timing, result_ttl))
    return app
