"""Assemble the Starlette application from the resource modules."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router

from wattbridge.api import actions as action_api
from wattbridge.api import devices as device_api
from wattbridge.api import envelope, events, scans, system
from wattbridge.api import reports as report_api
from wattbridge.api import webhooks as webhook_api
from wattbridge.api.access_log import AccessLog, log_record
from wattbridge.api.routing import (
    DEFAULT_API_THREADS,
    ApiExecutor,
    ApiRoute,
    authenticate,
    make_endpoint,
    request_id_of,
)
from wattbridge.errors import InternalError, MethodNotAllowed, NotFound, WattbridgeError
from wattbridge.ids import new_id

if TYPE_CHECKING:
    from wattbridge.platform import Platform

log = logging.getLogger("wattbridge.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

# Resource modules, each exposing ROUTES. A new resource adds one line here.
RESOURCE_MODULES = (system, events, scans, report_api, webhook_api, device_api, action_api)


def api_routes() -> list[ApiRoute]:
    """Every API operation, in documentation order."""
    return [route for module in RESOURCE_MODULES for route in module.ROUTES]


class RequestIdMiddleware:
    """Give every request an id, make sure every response carries it, log the request."""

    def __init__(self, app: ASGIApp, access_log: AccessLog | None = None) -> None:
        self.app = app
        self.record = log_record if access_log is None else access_log.record

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id

        started = time.perf_counter()
        record = self.record

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The path only, never the query string: a key pasted into a URL
                # must not reach the logs.
                record(scope["method"], scope["path"], message["status"], request_id,
                       (time.perf_counter() - started) * 1000)
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"request-id" for name, _ in headers):
                    headers.append((b"request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class IndexedRouter(Router):
    """Starlette's router with an index: a request is matched only against plausible routes.

    Starlette tries every route's pattern in turn, which costs tens of
    microseconds per request with some thirty routes. Routes whose path starts
    with fixed segments are indexed by their first two (``/v1/devices/{id}``)
    or their only one (``/healthz``); a request tries, in declaration order,
    only the routes of its own leading segments and the routes that could not
    be indexed. When that finds no full
    match (a 404, a 405, a trailing-slash redirect), Starlette's own complete
    routing runs, so every answer is the one Starlette would give.
    """

    _index: dict[tuple[str, ...], list[BaseRoute]]
    _indexed: tuple[int, int] = (0, -1)  # (id, length) of the route list indexed

    def _candidates(self, path: str) -> list[BaseRoute]:
        if self._indexed != (id(self.routes), len(self.routes)):
            self._build_index()
        return self._index.get(_leading(path), self._index[()])

    def _build_index(self) -> None:
        keyed: dict[tuple[str, ...], list[tuple[int, BaseRoute]]] = {}
        loose: list[tuple[int, BaseRoute]] = []
        for position, route in enumerate(self.routes):
            key = _leading(route.path) if isinstance(route, Route) else ()
            if not key or any("{" in part for part in key):
                loose.append((position, route))
            else:
                keyed.setdefault(key, []).append((position, route))
        index = {key: [r for _, r in sorted(items + loose, key=lambda item: item[0])]
                 for key, items in keyed.items()}
        index[()] = [route for _, route in loose]
        self._index = index
        self._indexed = (id(self.routes), len(self.routes))

    async def app(self, scope: Scope, receive: Any, send: Any) -> None:
        """Route ``scope``: the indexed fast path, else Starlette's complete routing."""
        if scope["type"] == "http" and not scope.get("root_path"):
            for route in self._candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def _leading(path: str) -> tuple[str, ...]:
    """The first two segments of a path: ``/v1/devices/x`` → ``("v1", "devices")``."""
    return tuple(path.split("/", 3)[1:3])


def create_app(
    platform: Platform,
    extra_routes: list[BaseRoute] | None = None,
    *,
    threads: int = DEFAULT_API_THREADS,
    access_log: AccessLog | None = None,
) -> Starlette:
    """The API as a Starlette app bound to ``platform``.

    :param threads: worker threads for request handlers (see :class:`ApiExecutor`).
    :param access_log: where request lines go; by default one :mod:`logging`
        record each on the ``wattbridge.access`` logger.
    """
    executor = ApiExecutor(threads)
    routes: list[BaseRoute] = [
        Route(
            r.path,
            make_endpoint(platform, r, executor),
            methods=[r.method],
            name=f"{r.method} {r.path}",
        )
        for r in api_routes()
    ]
    routes.extend(extra_routes or [])

    async def _environment_of(request: Request) -> str | None:
        # Which environment a refused request would have used, for its meta: a
        # read, so on the loop first like every GET (see wattbridge.loopsafe).
        try:
            _, env = await executor.run_loop_first(
                lambda: authenticate(platform, request), "environment of a refused request"
            )
        except WattbridgeError:
            return None
        return env.name

    async def render_error(request: Request, error: WattbridgeError) -> Response:
        started = time.perf_counter()
        env_name = None
        if request.url.path.startswith("/v1/"):
            env_name = await _environment_of(request)
        return envelope.failure(
            error,
            request_id=request_id_of(request),
            environment=env_name,
            now=platform.clock.now(),
            started=started,
        )

    async def http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return await render_error(
                request, MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            )
        return await render_error(
            request,
            NotFound(f"No route {request.method} {request.url.path}. See /openapi.json."),
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error (%s)", request_id_of(request), exc_info=exc)
        return await render_error(
            request,
            InternalError(
                f"Something went wrong on our side. Quote {request_id_of(request)} to support."
            ),
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        executor.shutdown()

    app = Starlette(exception_handlers={HTTPException: http_exception, Exception: server_error})
    app.router = IndexedRouter(routes, lifespan=lifespan)
    app.state.platform = platform
    app.state.executor = executor
    app.add_middleware(RequestIdMiddleware, access_log=access_log)
    return app
