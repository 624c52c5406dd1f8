"""``create_app``: the Starlette application behind ``sfsync serve``.

Layers, outermost first: HSTS (on HTTPS only), authentication (every request, IDM's headers), then the routes, each wrapped so
that any exception becomes IDM's error body with the right status (never a stack trace).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.api import crest
from core.api.activity_routes import ACTIVITY_ROUTES, ActorMiddleware
from core.api.auth import Authenticator, Credentials, Throttle, settings_credentials_loader
from core.api.backend import ApiBackend
from core.api.errors import ApiError, error_body, handle_api_error, handle_http_exception
from core.api.limits import BodyLimitMiddleware, ExpensiveQueryLimiter, TokenBuckets
from core.api.openapi import build_openapi
from core.api.routes import ROUTES, json_response
from core.api.scheduler_routes import SCHEDULER_ROUTES
from core.api.sync_routes import SYNC_ROUTES
from core.api.system_routes import SYSTEM_ROUTES
from core.api.tls import HstsMiddleware
from core.errors import SfsyncError

if TYPE_CHECKING:
    from core.config import ProjectConfig

Handler = Callable[[Request], Awaitable[Response]]


class AuthMiddleware:
    """401 unless ``X-OpenIDM-Username``/``X-OpenIDM-Password`` name the admin; throttles wrong guesses."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, throttle: Throttle) -> None:
        self.app = app
        self.authenticator = authenticator
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        username = headers.get("x-openidm-username")
        password = headers.get("x-openidm-password")
        if not username or password is None:
            await self._deny(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        await self.throttle.wait_turn(client)
        try:
            ok = self.authenticator.cached(username, password)
            if ok is None:  # scrypt takes tens of milliseconds: keep it off the event loop
                ok = await run_in_threadpool(self.authenticator.verify, username, password)
        except SfsyncError as exc:  # e.g. sfsync.toml broken while serving: say so, in IDM's shape
            body = json.dumps(error_body(500, str(exc))).encode()
            await Response(body, status_code=500, media_type="application/json; charset=utf-8")(
                scope, receive, send)
            return
        if not ok:
            self.throttle.failed(client)
            await self._deny(scope, receive, send)
            return
        self.throttle.succeeded(client)
        scope.setdefault("state", {})["user"] = username
        await self.app(scope, receive, send)

    @staticmethod
    async def _deny(scope: Scope, receive: Receive, send: Send) -> None:
        body = json.dumps(error_body(401, "Access Denied")).encode()
        response = Response(body, status_code=401, media_type="application/json; charset=utf-8")
        await response(scope, receive, send)


def _guarded(handler: Handler) -> Handler:
    """Turn every exception a handler raises into IDM's error body (unknown ones into a bare 500)."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            crest.check_common(request)
            return await handler(request)
        except HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - the whole point: no exception escapes as a stack trace
            return await handle_api_error(request, exc)

    return wrapper


async def openapi_document(request: Request) -> Response:
    return json_response(request, request.app.state.openapi)


async def api_descriptor(request: Request) -> Response:
    if "_api" not in request.query_params:
        raise ApiError(400, "GET /openidm/ serves the API descriptor only: add ?_api")
    return json_response(request, request.app.state.openapi)


def _add_limits(app: Starlette, loaded: ProjectConfig) -> None:
    """The expensive-query limiter, with sfsync.toml's figures (core/api/limits.py); the defaults when the file
    cannot be read (every call then says why: the authentication reads it too)."""
    from core.config import Settings

    try:
        settings = loaded.settings
    except SfsyncError:
        settings = Settings()
    from core.repo import DEFAULT_SEARCHABLE, ManagedSchema

    try:
        schema = ManagedSchema.of(loaded)
    except Exception:  # noqa: BLE001 - a broken managed.json is reported by the calls that need it
        schema = None
    indexed = DEFAULT_SEARCHABLE if schema is None else schema.searchable  # no managed.json: the defaults
    app.state.limits = settings
    buckets = TokenBuckets(settings.expensive_query_burst, settings.expensive_query_rate)
    app.add_middleware(ExpensiveQueryLimiter, buckets=buckets, indexed=indexed)


def create_app(project: Any, *, services: ApiBackend | None = None, bind_host: str = "127.0.0.1",
               credentials: Callable[[], Credentials] | None = None,
               throttle: Throttle | None = None, hsts: bool = False) -> Starlette:
    """The REST API for ``project``.

    ``services`` is the :class:`ApiBackend` over the project's core services (built from ``project`` when
    omitted; tests pass one to share it). ``bind_host`` is where the server listens: the default admin
    password is honoured only on loopback. ``credentials`` replaces reading ``sfsync.toml`` (tests).
    ``hsts``: the server speaks HTTPS, so every response says ``Strict-Transport-Security`` (401s included).
    """
    backend = services if services is not None else ApiBackend.open(project)
    authenticator = Authenticator(credentials or settings_credentials_loader(project, backend.configs),
                                  bind_host=bind_host)
    authenticator.check_startable()
    routes = [Route(r.path, _guarded(r.endpoint), methods=sorted(r.methods or ())) for r in ROUTES + SCHEDULER_ROUTES + ACTIVITY_ROUTES
              + SYNC_ROUTES + SYSTEM_ROUTES]
    routes += [Route("/openapi.json", _guarded(openapi_document), methods=["GET"]),
               Route("/openidm/", _guarded(api_descriptor), methods=["GET"])]
    app = Starlette(routes=routes, exception_handlers={HTTPException: handle_http_exception},
                    lifespan=backend.lifespan)
    app.router.redirect_slashes = False  # IDM answers a wrong path with a 404 body, never a redirect
    app.state.backend = backend
    app.state.openapi = build_openapi(project, config=backend.configs.current())
    app.state.authenticator = authenticator
    app.add_middleware(ActorMiddleware)  # inside authentication: who the activity audit names
    _add_limits(app, backend.configs.current())
    app.add_middleware(AuthMiddleware, authenticator=authenticator, throttle=throttle or Throttle())
    app.add_middleware(BodyLimitMiddleware, limit=app.state.limits.max_request_body)  # before reading anything
    if hsts:
        app.add_middleware(HstsMiddleware)  # added last: outside authentication
    return app
