"""Assemble the Starlette application from the resource modules."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from wattbridge.api import actions as action_api
from wattbridge.api import devices as device_api
from wattbridge.api import envelope, events, scans, system
from wattbridge.api import reports as report_api
from wattbridge.api import webhooks as webhook_api
from wattbridge.api.routing import ApiRoute, authenticate, make_endpoint, request_id_of
from wattbridge.errors import InternalError, MethodNotAllowed, NotFound, WattbridgeError
from wattbridge.ids import new_id

if TYPE_CHECKING:
    from wattbridge.platform import Platform

log = logging.getLogger("wattbridge.api")
access_log = logging.getLogger("wattbridge.access")

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
    """Give every request an id and make sure every response carries it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id

        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The path only, never the query string: a key pasted into a URL
                # must not reach the logs.
                access_log.info(
                    "%s %s %s %s %.1fms", scope["method"], scope["path"], message["status"],
                    request_id, (time.perf_counter() - started) * 1000,
                )
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"request-id" for name, _ in headers):
                    headers.append((b"request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(platform: Platform, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    """The API as a Starlette app bound to ``platform``."""
    routes: list[BaseRoute] = [
        Route(r.path, make_endpoint(platform, r), methods=[r.method], name=f"{r.method} {r.path}")
        for r in api_routes()
    ]
    routes.extend(extra_routes or [])

    async def render_error(request: Request, error: WattbridgeError) -> Response:
        started = time.perf_counter()
        env_name = None
        if request.url.path.startswith("/v1/"):
            try:
                _, env = await run_in_threadpool(authenticate, platform, request)
                env_name = env.name
            except WattbridgeError:
                pass
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

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_exception, Exception: server_error},
    )
    app.state.platform = platform
    app.add_middleware(RequestIdMiddleware)
    return app
