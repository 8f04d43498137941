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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpcore

from wattbridge_http.pinning import current_address

SHARD_SIZE = 8
"""Connections per pool."""


class _Shards:
    """The pools of one address, and how many requests each has in flight."""

    def __init__(self, make_pool: Callable[[int], httpcore.AsyncConnectionPool], total: int):
        count = max(1, -(-total // SHARD_SIZE))
        # Sizes that add up to exactly ``total`` (20 → 7, 7, 6).
        self.pools = [make_pool(total // count + (i < total % count)) for i in range(count)]
        self.busy = [0] * count

    def least_busy(self) -> int:
        return min(range(len(self.pools)), key=self.busy.__getitem__)


class ShardedPool:
    """Duck-types ``httpcore.AsyncConnectionPool`` for ``httpx.AsyncHTTPTransport``.

    :param make_pool: builds one pool holding at most the given number of connections.
    :param max_connections: the most connections open to one address at once.
    """

    def __init__(
        self,
        make_pool: Callable[[int], httpcore.AsyncConnectionPool],
        max_connections: int,
    ) -> None:
        self._make_pool = make_pool
        self._max_connections = max_connections
        self._by_address: dict[str | None, _Shards] = {}

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send ``request`` through the least busy pool of its approved address."""
        address = current_address()
        shards = self._by_address.get(address)
        if shards is None:
            shards = self._by_address[address] = _Shards(self._make_pool, self._max_connections)
        index = shards.least_busy()
        shards.busy[index] += 1

        def release() -> None:
            shards.busy[index] -= 1

        try:
            response = await shards.pools[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        response.stream = _Releasing(response.stream, release)
        return response

    async def aclose(self) -> None:
        """Close every pool's connections."""
        groups, self._by_address = self._by_address, {}
        for shards in groups.values():
            for pool in shards.pools:
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
