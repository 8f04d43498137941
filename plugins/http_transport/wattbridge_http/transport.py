"""The ``http`` webhook transport: one signed POST per delivery, over pooled httpx connections."""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpcore
import httpx

from wattbridge.clock import Clock, SystemClock
from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.webhooks import Delivery, DeliveryOutcome
from wattbridge_http.pinning import PinnedBackend, pinned
from wattbridge_http.sharding import IDLE_SECONDS, ShardedPool

RESPONSE_BODY_LIMIT = 1024
"""Bytes of the receiver's answer kept for the delivery log."""


class _PinnedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request/response mapping, error mapping), on pinned pools.

    httpx has no public switch for the network backend, so the connection pool
    it builds is replaced by pools that use :class:`PinnedBackend` (several
    small ones: see :mod:`wattbridge_http.sharding`). The transport tests
    connect through it, so a change in httpx that broke this would fail them
    rather than silently resolve host names again.
    """

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)

        def pool(size: int) -> httpcore.AsyncConnectionPool:
            return httpcore.AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=size,
                max_keepalive_connections=size,
                keepalive_expiry=limits.keepalive_expiry,
                http1=True,
                http2=False,
                network_backend=PinnedBackend(),
            )

        # Once an address has been unused for the keep-alive expiry, every connection
        # in its pools has expired, so the pools go too (IDLE_SECONDS if none expire).
        expiry = limits.keepalive_expiry
        # Same interface, different class: httpx only calls handle_async_request and aclose.
        self._pool = ShardedPool(  # type: ignore[assignment]
            pool,
            limits.max_connections or 100,
            idle_seconds=IDLE_SECONDS if expiry is None else expiry,
        )


class HttpTransport:
    """Deliver webhooks over HTTP(S), connecting only to the SSRF-approved address.

    :param verify: TLS verification: True (the system's CA bundle via certifi),
        or an ``ssl.SSLContext`` (tests, private CAs). Never disable it in live.
    :param limits: ``max_connections`` (default 100) is the most connections open at
        once, all kept alive between deliveries; ``keepalive_expiry`` (default 5 s)
        closes idle ones, and drops the pools of an address unused for that long
        (after five minutes when it is None).
    :param clock: the reference for ``Retry-After`` dates when the response has no ``Date``.
    """

    name = "http"
    environments: frozenset[EnvironmentName] = frozenset({"sandbox", "live"})

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._limits = limits or httpx.Limits(max_connections=100)
        self._clock: Clock = clock or SystemClock()
        self._pool: _PinnedHTTPTransport | None = None

    def _get_pool(self) -> _PinnedHTTPTransport:
        # Created on first use, inside the event loop that will use it. The
        # transport is used without an httpx.AsyncClient on top: a delivery
        # needs none of its cookies, auth, redirects or default headers, and
        # skipping them saves a good share of each request's cost. Redirects
        # are thus never followed (a redirect is an answer, and a failure), and
        # no environment proxy can bypass the pinned address.
        if self._pool is None:
            self._pool = _PinnedHTTPTransport(self._ssl_context, self._limits)
        return self._pool

    async def send(self, delivery: Delivery) -> DeliveryOutcome:
        """POST ``delivery.body`` with its headers once; report, never raise, on failure."""
        started = time.perf_counter()

        def elapsed_ms() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            url = _parse_url(delivery.url)
        except httpx.InvalidURL as exc:
            return DeliveryOutcome(None, elapsed_ms(), error=f"invalid URL: {exc}")
        limit = delivery.timeout_seconds
        try:
            with pinned(url.raw_host.decode("ascii"), delivery.connect_address):
                # httpx timeouts apply per phase (connect, each read); the outer
                # deadline bounds the whole attempt, a slow trickle included.
                async with asyncio.timeout(limit):
                    request = httpx.Request(
                        "POST",
                        url,
                        content=delivery.body,
                        headers=delivery.headers,
                        extensions={"timeout": httpx.Timeout(limit).as_dict()},
                    )
                    response = await self._get_pool().handle_async_request(request)
                    try:
                        body = await _read_prefix(response, RESPONSE_BODY_LIMIT)
                    finally:
                        await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return DeliveryOutcome(
                None, elapsed_ms(), error=f"timed out: no complete response within {limit:g} s"
            )
        except httpx.HTTPError as exc:
            return DeliveryOutcome(None, elapsed_ms(), error=_describe(exc, url, delivery))
        except OSError as exc:
            return DeliveryOutcome(None, elapsed_ms(), error=f"network error: {exc}")
        return DeliveryOutcome(
            status_code=response.status_code,
            duration_ms=elapsed_ms(),
            retry_after_seconds=parse_retry_after(
                response.headers.get("retry-after"),
                _reference_time(response.headers.get("date"), self._clock),
            ),
            response_body=body.decode("utf-8", errors="replace"),
        )

    async def aclose(self) -> None:
        """Close pooled connections; the transport can be used again afterwards."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()


@functools.lru_cache(maxsize=1024)
def _parse_url(url: str) -> httpx.URL:
    """Parse once per URL: an endpoint's URL is sent to over and over (URLs are immutable)."""
    return httpx.URL(url)


async def _read_prefix(response: httpx.Response, limit: int) -> bytes:
    """Read at most ``limit`` bytes: a receiver's answer is logged, not trusted to be small."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP-date).

    Returns None when absent or unparseable, and never a negative number.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _reference_time(date_header: str | None, clock: Clock) -> datetime:
    """The receiver's own clock (its ``Date`` header) if it sent one, else ours.

    An HTTP-date in ``Retry-After`` is written by the receiver's clock, so the
    delay is measured against that clock when possible: a skew between the two
    machines then does not stretch or shrink the delay.
    """
    if date_header:
        try:
            parsed = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return clock.now()


def _describe(exc: httpx.HTTPError, url: httpx.URL, delivery: Delivery) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        target = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        if delivery.connect_address:
            target += f" (at {delivery.connect_address})"
        return f"could not connect to {target}: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the receiver broke the HTTP protocol: {detail}"
    return f"{type(exc).__name__}: {detail}"
