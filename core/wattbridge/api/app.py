"""Assemble the Starlette application from the resource modules."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import attrs
from starlette.applications import Starlette
from starlette.convertors import Convertor
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
    is_api_endpoint,
    make_endpoint,
    request_id_of,
)
from wattbridge.errors import InternalError, MethodNotAllowed, NotFound, WattbridgeError
from wattbridge.ids import new_request_id

if TYPE_CHECKING:
    from wattbridge.platform import Platform

log = logging.getLogger("wattbridge.api")

Scope = MutableMapping[str, Any]
RawHeader = tuple[bytes, bytes]
AccessRecord = Callable[[str, str, int, str, float], None]
"""Writes one access log line: method, path, status, request id, milliseconds."""
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
    """Give every request an id, make sure every response carries it, log the request.

    For the requests Starlette serves; the API's own operations take
    :class:`WattbridgeApp`'s direct path, which does the same itself.
    """

    def __init__(self, app: ASGIApp, record: AccessRecord) -> None:
        self.app = app
        self.record = record

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        started = time.perf_counter()
        record = self.record

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The path only, never the query string: a key pasted into a URL
                # must not reach the logs.
                record(scope["method"], scope["path"], message["status"], request_id,
                       (time.perf_counter() - started) * 1000)
                message["headers"] = with_request_id(message.get("headers", []), request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)


def with_request_id(headers: Iterable[RawHeader], request_id: str) -> list[RawHeader]:
    """``headers`` as a new list, with a ``request-id`` header unless one is there."""
    listed = list(headers)
    if not any(name.lower() == b"request-id" for name, _ in listed):
        listed.append((b"request-id", request_id.encode()))
    return listed


@attrs.frozen
class _Entry:
    """A route in the index, with what matching it needs at hand."""

    route: BaseRoute
    regex: re.Pattern[str] | None  # None: match through route.matches (not a plain Route)
    methods: frozenset[str] | None
    convertors: Mapping[str, Convertor[Any]]
    api: bool  # an API operation's endpoint (made by make_endpoint)


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

    _index: dict[tuple[str, ...], list[_Entry]]
    _indexed: tuple[int, int] = (0, -1)  # (id, length) of the route list indexed

    def _candidates(self, path: str) -> list[_Entry]:
        if self._indexed != (id(self.routes), len(self.routes)):
            self._build_index()
        return self._index.get(_leading(path), self._index[()])

    def _build_index(self) -> None:
        keyed: dict[tuple[str, ...], list[tuple[int, _Entry]]] = {}
        loose: list[tuple[int, _Entry]] = []
        for position, route in enumerate(self.routes):
            entry = _entry(route)
            key = _leading(route.path) if isinstance(route, Route) else ()
            if not key or any("{" in part for part in key):
                loose.append((position, entry))
            else:
                keyed.setdefault(key, []).append((position, entry))
        index = {key: [e for _, e in sorted(items + loose, key=lambda item: item[0])]
                 for key, items in keyed.items()}
        index[()] = [entry for _, entry in loose]
        self._index = index
        self._indexed = (id(self.routes), len(self.routes))

    def resolve(self, scope: Scope) -> tuple[_Entry, Scope] | None:
        """The route Starlette would pick for ``scope`` if one matches in full (path
        and method), with the child scope it would add; None otherwise (a 404, a
        405, a redirect: Starlette's complete routing decides those).

        Only for HTTP scopes without a ``root_path``, where the route path is the path.
        """
        path = scope["path"]
        method = scope["method"]
        for entry in self._candidates(path):
            if entry.regex is None:
                match, child = entry.route.matches(scope)
                if match is Match.FULL:
                    return entry, child
                continue
            found = entry.regex.match(path)
            if found is None or (entry.methods is not None and method not in entry.methods):
                continue
            params = found.groupdict()
            convertors = entry.convertors
            for name, value in params.items():
                params[name] = convertors[name].convert(value)
            if "path_params" in scope:
                params = {**scope["path_params"], **params}
            return entry, {"endpoint": entry.route.endpoint,  # type: ignore[attr-defined]
                           "path_params": params}
        return None

    async def app(self, scope: Scope, receive: Any, send: Any) -> None:
        """Route ``scope``: the indexed fast path, else Starlette's complete routing."""
        if scope["type"] == "http" and not scope.get("root_path"):
            found = self.resolve(scope)
            if found is not None:
                entry, child_scope = found
                scope.setdefault("router", self)
                scope["route"] = entry.route
                scope.update(child_scope)
                await entry.route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)


def _entry(route: BaseRoute) -> _Entry:
    if type(route) is not Route:  # a Mount, or a Route subclass that may match otherwise
        return _Entry(route, None, None, {}, False)
    return _Entry(
        route,
        route.path_regex,
        frozenset(route.methods) if route.methods else None,
        route.param_convertors,
        is_api_endpoint(route.endpoint),
    )


def _leading(path: str) -> tuple[str, ...]:
    """The first two segments of a path: ``/v1/devices/x`` → ``("v1", "devices")``."""
    return tuple(path.split("/", 3)[1:3])


class WattbridgeApp(Starlette):
    """The API's ASGI application: a Starlette app whose own API operations skip
    Starlette's middleware and routing layers.

    Starlette's layers (error middleware, request-id middleware, exception
    middleware, router, route, request/response adapter) are each a coroutine
    frame and a wrapped ``send``; for a read answered from memory they cost as
    much as the read. A request that matches an API operation in full goes
    straight to its endpoint (which renders every error it meets as an
    envelope), with the request id, the access log line and the last-resort
    500 done here. Everything else (a 404, a 405, pages, routes added by an
    embedder, a mounted app with a ``root_path``) goes through Starlette as
    usual, and answers exactly as it would. Once an embedder adds middleware of
    its own (or a body size limit), every request goes through Starlette, so
    that the middleware sees the API's operations too.
    """

    record: AccessRecord
    server_error: Callable[[Request, Exception], Awaitable[Response]]

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """Serve ``scope``: an API operation directly, anything else through Starlette."""
        router = self.router
        if (
            scope["type"] == "http"
            and not scope.get("root_path")
            and isinstance(router, IndexedRouter)
            and len(self.user_middleware) == 1  # our RequestIdMiddleware only
            and getattr(self, "max_body_size", None) is None
        ):
            found = router.resolve(scope)
            if found is not None and found[0].api:
                await self._serve_api(scope, receive, send, found[0].route, found[1])
                return
        await super().__call__(scope, receive, send)

    async def _serve_api(
        self, scope: Scope, receive: Any, send: Any, route: BaseRoute, child: Scope
    ) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        scope["app"] = self
        scope.setdefault("router", self.router)
        scope["route"] = route
        scope.update(child)
        scope.setdefault("state", {})["request_id"] = request_id
        request = Request(scope, receive, send)
        try:
            response = await child["endpoint"](request)
        except Exception as exc:  # the endpoint renders its own errors: this is a bug
            response = await self.server_error(request, exc)
        if not isinstance(response, envelope.JSONBytesResponse):  # enveloped: has its id
            response.raw_headers = with_request_id(response.raw_headers, request_id)
        # The path only, never the query string (see RequestIdMiddleware).
        self.record(scope["method"], scope["path"], response.status_code, request_id,
                    (time.perf_counter() - started) * 1000)
        await response(scope, receive, send)


def create_app(
    platform: Platform,
    extra_routes: list[BaseRoute] | None = None,
    *,
    threads: int = DEFAULT_API_THREADS,
    access_log: AccessLog | None = None,
) -> WattbridgeApp:
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
                "environment of a refused request", authenticate, platform, request
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

    app = WattbridgeApp(
        exception_handlers={HTTPException: http_exception, Exception: server_error}
    )
    app.router = IndexedRouter(routes, lifespan=lifespan)
    app.record = log_record if access_log is None else access_log.record
    app.server_error = server_error
    app.state.platform = platform
    app.state.executor = executor
    app.add_middleware(RequestIdMiddleware, record=app.record)
    return app
