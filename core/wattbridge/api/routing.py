"""Declaring API routes, and the one wrapper every route runs through.

A resource module lists :class:`ApiRoute` objects. Each handler receives a
:class:`Call` (the parsed request: principal, environment, path and query
parameters, JSON body) and returns data or a :class:`Reply`; the wrapper does
the rest: authentication, idempotency, the envelope, error rendering and the
latency figure. Handlers run in a worker thread because the store is
synchronous SQLite.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from wattbridge.api import envelope
from wattbridge.errors import (
    InternalError,
    Unauthorized,
    ValidationFailed,
    WattbridgeError,
)
from wattbridge.services.access import Principal

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.platform import Platform

log = logging.getLogger("wattbridge.api")

QUERY_KEY_NAMES = ("api_key", "apikey", "key", "access_token", "x-api-key")


@attrs.frozen
class Param:
    """A documented query parameter."""

    name: str
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@attrs.frozen
class ApiRoute:
    """One operation of the API: method, path, handler and its documentation."""

    method: str
    path: str
    handler: Callable[[Call], Any]
    summary: str
    tag: str
    auth: bool = True
    status: int = 200
    query: tuple[Param, ...] = ()
    body: str | None = None
    response: str | None = None
    errors: tuple[int, ...] = ()
    idempotent_post: bool = True


@attrs.frozen
class Reply:
    """A handler result that needs a status or headers other than the route's."""

    data: Any
    status: int | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.define
class Call:
    """A parsed request, as handlers see it."""

    platform: Platform
    request: Request
    principal: Principal | None
    env: Environment | None
    path_params: dict[str, str]
    query: QueryParams
    raw_body: bytes

    @property
    def project_id(self) -> str:
        """The calling key's project (authenticated routes only)."""
        assert self.principal is not None
        return self.principal.project.id

    @property
    def environment(self) -> Environment:
        """The calling key's environment (authenticated routes only)."""
        assert self.env is not None
        return self.env

    def json(self) -> Any:
        """The request body as JSON; 400 ``VALIDATION_FAILED`` when it is not JSON."""
        if not self.raw_body.strip():
            raise ValidationFailed.single("$", "the request body is empty; send a JSON object")
        try:
            return json.loads(self.raw_body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationFailed.single(
                "$", f"the request body is not valid JSON: {exc}"
            ) from None

    def json_object(self, optional: bool = False) -> dict[str, Any]:
        """The request body as a JSON object (``{}`` for an empty optional body)."""
        if optional and not self.raw_body.strip():
            return {}
        value = self.json()
        if not isinstance(value, dict):
            raise ValidationFailed.single(
                "$", f"the request body must be a JSON object, got {type(value).__name__}"
            )
        return value


def presented_key(request: Request) -> str | None:
    """The API key from ``Authorization: Bearer`` or ``x-api-key``, if any."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    return request.headers.get("x-api-key")


def request_id_of(request: Request) -> str:
    """The id the request-id middleware assigned."""
    return str(request.scope.get("state", {}).get("request_id", "req_unknown"))


def authenticate(platform: Platform, request: Request) -> tuple[Principal, Environment]:
    """Authenticate a request, refusing keys sent in the query string."""
    if any(name in request.query_params for name in QUERY_KEY_NAMES):
        raise Unauthorized(
            "API keys are not accepted in the query string (it ends up in logs); send the key "
            "as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
        )
    return platform.authenticate(presented_key(request))


def make_endpoint(platform: Platform, route: ApiRoute) -> Callable[[Request], Any]:
    """Wrap a route handler into a Starlette endpoint."""
    from wattbridge.api.idempotency import run_idempotent

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        request_id = request_id_of(request)
        env_name: str | None = None
        try:
            principal, env = (None, None)
            if route.auth:
                principal, env = await run_in_threadpool(authenticate, platform, request)
                env_name = env.name
            call = Call(
                platform,
                request,
                principal,
                env,
                dict(request.path_params),
                request.query_params,
                await request.body(),
            )

            def run() -> Response:
                reply = route.handler(call)
                if isinstance(reply, Response):
                    return reply  # documents that are not enveloped (openapi.json)
                if not isinstance(reply, Reply):
                    reply = Reply(reply)
                return envelope.success(
                    reply.data,
                    status=reply.status or route.status,
                    request_id=request_id,
                    environment=env_name,
                    now=platform.clock.now(),
                    started=started,
                    headers=dict(reply.headers),
                )

            key = request.headers.get("idempotency-key")
            if route.method == "POST" and key is not None and route.idempotent_post and call.env:
                return await run_in_threadpool(run_idempotent, call, key, run)
            return await run_in_threadpool(run)
        except WattbridgeError as exc:
            return envelope.failure(
                exc,
                request_id=request_id,
                environment=env_name,
                now=platform.clock.now(),
                started=started,
            )
        except Exception:
            log.exception("unhandled error in %s %s (%s)", route.method, route.path, request_id)
            return envelope.failure(
                InternalError(f"Something went wrong on our side. Quote {request_id} to support."),
                request_id=request_id,
                environment=env_name,
                now=platform.clock.now(),
                started=started,
            )

    endpoint.__name__ = route.handler.__name__
    return endpoint
