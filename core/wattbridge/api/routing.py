"""Declaring API routes, and the one wrapper every route runs through.

A resource module lists :class:`ApiRoute` objects. Each handler receives a
:class:`Call` (the parsed request: principal, environment, path and query
parameters, JSON body) and returns data or a :class:`Reply`; the wrapper does
the rest: authentication, idempotency, the envelope, error rendering and the
latency figure.

Handlers may block (SQLite write transactions wait on locks, live adapters do
network I/O), so they run off the event loop, except on routes marked
``loop_first``, which try the loop first and fall back to a thread at the first
step that may block (:mod:`wattbridge.loopsafe`), and routes marked
``writes_on_loop``, which run on the loop inside their environment's group
transaction (:mod:`wattbridge.store.loop_batch`) with the same fallback (they
authenticate on the loop first). Off the loop, each request makes exactly one
trip to a worker thread of the app's :class:`ApiExecutor`: authentication
(unless done already), the handler, idempotency and the rendering of the
envelope (or of the error) all happen in that one trip, because every handoff
between the loop and a thread costs more CPU than a typical handler does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
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
from wattbridge.loopsafe import WouldBlock, on_loop, settle
from wattbridge.services.access import Principal

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.platform import Platform

log = logging.getLogger("wattbridge.api")

QUERY_KEY_NAMES = ("api_key", "apikey", "key", "access_token", "x-api-key")

DEFAULT_API_THREADS = 32
"""At most this many worker threads run request handlers (see :class:`ApiExecutor`)."""

DEFAULT_CORE_THREADS = 1
"""Worker threads started as soon as requests come: enough while handlers do not wait
(one thread measured clearly cheaper per request than two under a steady load)."""

STALL_AFTER = 0.010
"""Seconds without a worker taking a request, while requests wait, before adding a thread."""

IDLE_RETIRE = 5.0
"""Seconds a worker thread waits for work before it exits (a new one starts on demand)."""

T = TypeVar("T")


class ApiExecutor:
    """The worker threads that run request handlers off the event loop.

    Python threads share one interpreter lock, and the SQLite driver lets go of
    it around every statement: with many threads taking requests, each of those
    moments becomes a contested handover, and with 16 requests in flight that
    cost several times the handler's own work. So few *core* threads (one by
    default) take the requests; another thread is added (up to ``threads``) only when requests
    wait while no worker has picked one up for :data:`STALL_AFTER`, which means
    the workers are blocked (a live adapter's network call, a write transaction
    queued behind another) rather than busy. Threads exit after
    :data:`IDLE_RETIRE` without work, so an idle app holds none. A request
    costs exactly one handoff to a thread and one back to the loop.
    """

    def __init__(self, threads: int = DEFAULT_API_THREADS, core: int | None = None) -> None:
        if threads < 1:
            raise ValueError(f"an API executor needs at least one thread, got {threads}")
        self.threads = threads
        self.core = max(1, min(DEFAULT_CORE_THREADS if core is None else core, threads))
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._live = 0  # threads started and not exited
        self._waiting = 0  # jobs submitted and not yet taken by a thread
        self._last_taken = time.monotonic()
        self._watch_at = 0.0  # when the stall check was last scheduled
        self._closed = False
        # Finished jobs wait here for their loop, which is woken once for all of them.
        self._outbox: dict[asyncio.AbstractEventLoop, list[_Done]] = {}
        self.loop_fallbacks: Counter[str] = Counter()
        """Calls per label (a route's path: ``"/v1/devices/{id}"``) that started on the
        event loop and had to move here."""

    @property
    def live_threads(self) -> int:
        """Worker threads running now (core and extra)."""
        return self._live

    async def run(self, function: Callable[[], T]) -> T:
        """Run ``function`` in a worker thread and wait for its result."""
        if self._closed:
            raise RuntimeError("the API executor is shut down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._waiting += 1
            if self._live < self.core:
                self._start_thread()
        self._jobs.put((function, loop, future))
        now = time.monotonic()
        if now - self._watch_at > STALL_AFTER:
            # At most one pending check per interval; it re-arms itself while jobs wait.
            self._watch_at = now
            loop.call_later(STALL_AFTER, self._check_stall, loop)
        return await future

    async def run_loop_first(self, label: str, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the event loop inside
        :func:`~wattbridge.loopsafe.on_loop`; if it raises
        :class:`~wattbridge.loopsafe.WouldBlock`, run it again in a thread.

        ``function`` must not have written anything when a step that may block
        raises (the checks come before the waiting); ``label`` names it in
        :attr:`loop_fallbacks` and the debug log.
        """
        try:
            with on_loop():
                return function(*args)
        except WouldBlock as exc:
            self.fell_back(label, exc)
        return await self.run(lambda: function(*args))

    def fell_back(self, label: str, exc: WouldBlock) -> None:
        """Count, in :attr:`loop_fallbacks`, and log at debug level a call labelled
        ``label`` that started on the event loop and continues in a thread."""
        self.loop_fallbacks[label] += 1
        log.debug("%s continues in a thread: %s", label, exc)

    def _check_stall(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            if self._waiting == 0 or self._closed:
                return
            if time.monotonic() - self._last_taken >= STALL_AFTER and self._live < self.threads:
                self._start_thread()
        self._watch_at = time.monotonic()
        loop.call_later(STALL_AFTER, self._check_stall, loop)

    def _start_thread(self) -> None:
        # Called with the lock held.
        self._live += 1
        threading.Thread(target=self._work, name="wattbridge-api", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=IDLE_RETIRE)
            except queue.Empty:
                with self._lock:
                    if self._waiting == 0:
                        self._live -= 1
                        return
                continue
            if job is None:  # shutdown
                with self._lock:
                    self._live -= 1
                return
            with self._lock:
                self._waiting -= 1
                self._last_taken = time.monotonic()
            function, loop, future = job
            try:
                done: _Done = (future, function(), None)
            except BaseException as exc:  # handed to the awaiting coroutine
                done = (future, None, exc)
            self._hand_back(loop, done)

    def _hand_back(self, loop: asyncio.AbstractEventLoop, done: _Done) -> None:
        # Waking the loop costs a system call and, worse, a contested handover of
        # the interpreter lock; when the loop is already due to wake, join that.
        with self._lock:
            box = self._outbox.get(loop)
            if box is not None:
                box.append(done)
                return
            self._outbox[loop] = [done]
        try:
            loop.call_soon_threadsafe(self._deliver, loop)
        except RuntimeError:  # the loop is closed: nobody is waiting for these answers
            with self._lock:
                self._outbox.pop(loop, None)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            box = self._outbox.pop(loop, [])
        for future, result, error in box:
            settle(future, result, error)

    def shutdown(self) -> None:
        """Let every thread finish its current job and exit."""
        with self._lock:
            self._closed = True
            for _ in range(self._live):
                self._jobs.put(None)


_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]
_Done = tuple["asyncio.Future[Any]", Any, BaseException | None]


Authenticator = Callable[["Platform", Request], tuple[Principal, "Environment"]]
"""Finds a request's caller or raises :class:`~wattbridge.errors.Unauthorized`."""


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
    authenticator: Authenticator | None = None
    """How an ``auth`` route finds its caller, when not only by the key headers (the
    report route also accepts a signed link); errors after it are rendered with the
    environment it found, as on every route."""
    loop_first: bool | None = None
    """Try the handler on the event loop first (see :mod:`wattbridge.loopsafe`); by
    default GET routes do: reads usually need no more than a quick SQLite read and
    some computation. ``False`` for reads that compute for long (a report)."""

    writes_on_loop: bool = False
    """Run the request on the event loop inside its environment database's next
    batch transaction (:class:`~wattbridge.store.loop_batch.LoopBatch`), falling
    back to a thread like ``loop_first``. For writes whose only waiting is for that
    database's write lock (creating a scan)."""

    @property
    def tries_loop_first(self) -> bool:
        """Whether requests start on the event loop (see :attr:`loop_first`)."""
        return self.method == "GET" if self.loop_first is None else self.loop_first


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


_NO_QUERY = QueryParams("")


def _query_of(request: Request) -> QueryParams:
    """The request's query parameters; most requests have none, and then nothing is parsed."""
    return request.query_params if request.scope.get("query_string") else _NO_QUERY


def _may_have_body(request: Request) -> bool:
    """Whether the request announces a body (``Content-Length`` or ``Transfer-Encoding``)."""
    headers = request.headers
    return "content-length" in headers or "transfer-encoding" in headers


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
    query = _query_of(request)
    if query and any(name in query for name in QUERY_KEY_NAMES):
        raise Unauthorized(
            "API keys are not accepted in the query string (it ends up in logs); send the key "
            "as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
        )
    return platform.authenticate(presented_key(request))


def make_endpoint(
    platform: Platform, route: ApiRoute, executor: ApiExecutor
) -> Callable[[Request], Any]:
    """Wrap a route handler into a Starlette endpoint that runs it on ``executor``
    (on the event loop first for :attr:`ApiRoute.tries_loop_first` routes, in the
    environment's loop batch for :attr:`ApiRoute.writes_on_loop` routes)."""
    from wattbridge.api.idempotency import run_idempotent

    authenticator = route.authenticator or authenticate

    def handle(
        request: Request,
        raw_body: bytes,
        started: float,
        caller: tuple[Principal, Environment] | None = None,
    ) -> Response:
        # Runs in a worker thread, inside on_loop() for loop-first routes, or in a
        # LoopBatch job for writes_on_loop routes: everything that may touch a
        # database is here. ``caller``: the request's authentication when it
        # already happened (on the loop, for writes_on_loop routes).
        request_id = request_id_of(request)
        env_name: str | None = None
        try:
            principal, env = (None, None)
            if route.auth:
                principal, env = caller or authenticator(platform, request)
                env_name = env.name
            call = Call(
                platform,
                request,
                principal,
                env,
                dict(request.path_params),
                _query_of(request),
                raw_body,
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
                    headers=reply.headers,
                )

            if route.method == "POST" and route.idempotent_post and call.env:
                key = request.headers.get("idempotency-key")
                if key is not None:
                    return run_idempotent(call, key, run)
            return run()
        except WouldBlock:
            raise  # only on the loop: the endpoint runs the request again in a thread
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

    loop_first = route.tries_loop_first
    writes_on_loop = route.writes_on_loop

    def caller_of(request: Request) -> tuple[Principal, Environment] | None:
        # Whose request, if the key is found on the loop; otherwise the request
        # runs in a thread, which also reports any authentication error.
        try:
            with on_loop():
                return authenticator(platform, request)
        except (WattbridgeError, WouldBlock):
            return None

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        # The body is read on the loop (it is I/O), before any trip to a thread;
        # a request that announces no body (most GETs) has none to wait for.
        raw_body = await request.body() if _may_have_body(request) else b""
        caller = None
        if writes_on_loop:
            caller = caller_of(request)
            if caller is not None:
                try:
                    return await caller[1].loop_batch.run(
                        lambda: handle(request, raw_body, started, caller)
                    )
                except WouldBlock as exc:
                    executor.fell_back(route.path, exc)
        elif loop_first:
            return await executor.run_loop_first(route.path, handle, request, raw_body, started)
        # A request that found its caller on the loop is not authenticated again.
        return await executor.run(lambda: handle(request, raw_body, started, caller))

    endpoint.__name__ = route.handler.__name__
    _API_ENDPOINTS.add(endpoint)
    return endpoint


_API_ENDPOINTS: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


def is_api_endpoint(endpoint: object) -> bool:
    """Whether ``endpoint`` was made by :func:`make_endpoint` (it renders every error
    itself, as an envelope, and carries the request id in its answers)."""
    try:
        return endpoint in _API_ENDPOINTS
    except TypeError:  # not weakly referenceable: not one of ours
        return False
