"""Connection pools per approved address, each split into small pools.

Two reasons for not using one httpcore pool:

- **Pinning.** httpcore reuses a pooled connection for any request with the
  same scheme, host name and port. A connection opened to the address one SSRF
  check approved must not carry a delivery that another check approved for a
  different address (the host name now resolves elsewhere, or it was checked
  under another environment's rules: the transport serves both). So pools are
  kept per approved address (:func:`wattbridge_http.pinning.current_address`).
- **Cost.** httpcore's pool looks at every one of its connections each time a
  request starts or ends (closed? expired? idle? readable: a ``poll`` per idle
  connection). With the dispatcher's 64 concurrent sends that walk costs more
  than the rest of the request. Splitting an address's connections over pools
  of eight bounds the walk; each request goes to the pool with the fewest
  requests in flight, so the pools fill evenly.

An address's pools are dropped (and their connections closed) once it has had
no request in flight for ``idle_seconds``: a dispatcher that runs for months
delivers to many addresses over time, and would otherwise keep pools, and
possibly idle sockets, for every address it ever used. The transport sets
``idle_seconds`` to the keep-alive expiry, after which every connection in those
pools has expired anyway, so dropping them never costs a reusable connection.
Addresses are kept in least-recently-used order, so each request checks only
the oldest ones, and only closes those that are due. The check runs when a
request starts: a dispatcher with nothing to send keeps its pools until its
next delivery (or ``aclose``), which is when their number could grow again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

import httpcore

from wattbridge_http.pinning import current_address

SHARD_SIZE = 8
"""Connections per pool."""

IDLE_SECONDS = 300.0
"""How long an unused address keeps its pools when connections never expire by themselves."""


class _Shards:
    """The pools of one address, how many requests each has in flight, and when last used."""

    def __init__(
        self, make_pool: Callable[[int], httpcore.AsyncConnectionPool], total: int, now: float
    ):
        count = max(1, -(-total // SHARD_SIZE))
        # Sizes that add up to exactly ``total`` (20 → 7, 7, 6).
        self.pools = [make_pool(total // count + (i < total % count)) for i in range(count)]
        self.busy = [0] * count
        self.last_used = now

    def least_busy(self) -> int:
        return min(range(len(self.pools)), key=self.busy.__getitem__)

    def is_idle(self) -> bool:
        """No request in flight, and every connection idle or closed (nothing to cut short)."""
        return not any(self.busy) and all(
            connection.is_idle() or connection.is_closed()
            for pool in self.pools
            for connection in pool.connections
        )


class ShardedPool:
    """Duck-types ``httpcore.AsyncConnectionPool`` for ``httpx.AsyncHTTPTransport``.

    :param make_pool: builds one pool holding at most the given number of connections.
    :param max_connections: the most connections open to one address at once.
    :param idle_seconds: an address's pools are closed and dropped once no request
        has started or ended on them for this long (and none is in flight).
    :param monotonic: the clock ``idle_seconds`` is measured on (tests inject one).
    """

    def __init__(
        self,
        make_pool: Callable[[int], httpcore.AsyncConnectionPool],
        max_connections: int,
        *,
        idle_seconds: float = IDLE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_pool = make_pool
        self._max_connections = max_connections
        self._idle_seconds = idle_seconds
        self._monotonic = monotonic
        # Least recently used first: every update of ``last_used`` moves the entry to the end.
        self._by_address: OrderedDict[str | None, _Shards] = OrderedDict()

    @property
    def addresses(self) -> list[str | None]:
        """The addresses that have pools now, least recently used first (None: not pinned)."""
        return list(self._by_address)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send ``request`` through the least busy pool of its approved address."""
        now = self._monotonic()
        dropped = self._forget_idle(now)
        if dropped:
            await _close(dropped)
        address = current_address()
        shards = self._by_address.get(address)
        if shards is None:
            shards = _Shards(self._make_pool, self._max_connections, now)
            self._by_address[address] = shards
        else:
            shards.last_used = now
            self._by_address.move_to_end(address)
        index = shards.least_busy()
        shards.busy[index] += 1

        def release() -> None:
            shards.busy[index] -= 1
            # The connection's keep-alive expiry starts now, so the idle time does too.
            shards.last_used = self._monotonic()
            if self._by_address.get(address) is shards:  # not if aclose() dropped it since
                self._by_address.move_to_end(address)

        try:
            response = await shards.pools[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        response.stream = _Releasing(response.stream, release)
        return response

    def _forget_idle(self, now: float) -> list[httpcore.AsyncConnectionPool]:
        """Forget the addresses unused for ``idle_seconds``; return their pools to close.

        Synchronous on purpose: the pools are out of reach of every later
        request before the first of them starts closing.
        """
        dropped: list[httpcore.AsyncConnectionPool] = []
        by_address = self._by_address
        # Oldest first; stop at the first one used recently (all later ones were too),
        # or once each has been looked at (with idle_seconds 0, busy ones never are recent).
        for _ in range(len(by_address)):
            address, shards = next(iter(by_address.items()))
            if now - shards.last_used < self._idle_seconds:
                break
            if shards.is_idle():
                del by_address[address]
                dropped += shards.pools
            else:
                # In use (a request outlasting the idle time): that counts as used now.
                shards.last_used = now
                by_address.move_to_end(address)
        return dropped

    async def aclose(self) -> None:
        """Close every pool's connections."""
        groups, self._by_address = self._by_address, OrderedDict()
        await _close([pool for shards in groups.values() for pool in shards.pools])


async def _close(pools: list[httpcore.AsyncConnectionPool]) -> None:
    """Close each pool's connections (idle ones only, when the pools were forgotten as idle)."""
    for pool in pools:
        await pool.aclose()


class _Releasing:
    """A response body stream that frees its pool slot when closed (exactly once)."""

    def __init__(self, inner: object, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:  # type: ignore[attr-defined]
            yield chunk

    async def aclose(self) -> None:
        try:
            closer = getattr(self._inner, "aclose", None)
            if closer is not None:
                await closer()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()
