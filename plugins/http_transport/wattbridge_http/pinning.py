"""Connect to the address the SSRF check approved, while speaking to the URL's host name.

Why this shape: a webhook request must go to ``Delivery.connect_address`` (no
second DNS lookup that an attacker could answer differently: DNS rebinding),
yet it must still look like a request to the URL's host: the ``Host`` header,
the TLS SNI and the certificate check all use the host *name*. Rewriting the
URL to the IP address would break all three, and would let a pooled TLS
connection verified for one host name be reused for another host at the same
address. So the URL stays untouched and the substitution happens one layer
down, where httpcore opens TCP connections: :class:`PinnedBackend` replaces the
host name by the approved address at ``connect_tcp`` time, and TLS is then
started by httpcore with ``server_hostname`` = the URL's host, as usual.

The approved address travels in a context variable set around each request.
httpcore opens a connection inside the task of the request it was created for,
so each new connection sees its own request's pin. httpcore keys pooled
connections by scheme, host name and port only, so the transport keeps one set
of pools per approved address (:mod:`wattbridge_http.sharding`): a connection
opened to one address is never reused for a delivery approved for another
(a host name that now resolves elsewhere, or the same host name checked under
another environment's rules).
"""

from __future__ import annotations

import select
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

import httpcore

_pin: ContextVar[tuple[str, str] | None] = ContextVar("wattbridge_http_pin", default=None)


@contextmanager
def pinned(host: str, address: str | None) -> Iterator[None]:
    """Within the block, connections to ``host`` go to ``address`` (None: resolve normally)."""
    token = _pin.set(None if address is None else (host.lower(), address))
    try:
        yield
    finally:
        _pin.reset(token)


def current_address() -> str | None:
    """The address connections are pinned to in this context (None: not pinned)."""
    pin = _pin.get()
    return None if pin is None else pin[1]


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


def socket_is_readable(sock: _HasFileno | None) -> bool:
    """Whether reading ``sock`` would return at once, without reading or waiting.

    This is how a pooled keep-alive connection is checked before reuse: with no
    request outstanding, a readable socket means the peer closed it (the read
    would return the end of the stream) or sent bytes nobody asked for; either
    way the connection is unusable. A missing socket (None) or a closed one
    (``fileno()`` is -1) counts as readable for the same reason: the next read
    could only fail. It polls with a zero timeout: ``select.poll`` where it
    exists (no limit on descriptor numbers, unlike ``select.select``'s
    ``FD_SETSIZE``), ``select.select`` elsewhere (Windows).
    """
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poll = getattr(select, "poll", None)
    if poll is None:
        try:
            readable, _, _ = select.select([fd], [], [], 0)
        except (OSError, ValueError):
            return True  # a descriptor closed behind the socket's back: unusable
        return bool(readable)
    poller = poll()
    poller.register(fd, select.POLLIN)
    # A descriptor closed behind the socket's back answers POLLNVAL: also unusable.
    return bool(poller.poll(0))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects to the pinned address, never elsewhere."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a TCP connection to the pinned address of ``host``."""
        pin = _pin.get()
        if pin is not None:
            pinned_host, address = pin
            if host.lower() != pinned_host:
                # Only reachable if something (a proxy, a redirect) changed the
                # target after the check: fail closed rather than resolve it.
                raise httpcore.ConnectError(
                    f"refusing to connect to {host}: this delivery was approved for {pinned_host}"
                )
            host = address
        stream = await self._inner.connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        return _KnownSocketStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Webhooks are never delivered over Unix sockets."""
        raise httpcore.ConnectError("webhook deliveries do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        """Delegate to the wrapped backend (used between connection retries)."""
        await self._inner.sleep(seconds)


class _KnownSocketStream(httpcore.AsyncNetworkStream):
    """A connection that answers httpcore's "is it readable?" without asking anyio.

    httpcore asks that of every idle pooled connection each time a request
    starts or ends; anyio's answer rebuilds a table of socket attributes (and
    calls ``getpeername``) every time, which cost about a tenth of a delivery.
    The socket does not change for the life of the connection (TLS wraps the
    same one), so it is looked up once; everything else is passed through.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream, known_socket: Any = None) -> None:
        self._inner = inner
        # asyncio hands out a socket look-alike (fileno() is all the poll needs).
        self._socket: Any = (
            known_socket if known_socket is not None else inner.get_extra_info("socket")
        )

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read up to ``max_bytes``."""
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write all of ``buffer``."""
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        """Close the connection."""
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade to TLS (certificate checked against ``server_hostname``, the URL's host)."""
        return _KnownSocketStream(
            await self._inner.start_tls(ssl_context, server_hostname, timeout), self._socket
        )

    def get_extra_info(self, info: str) -> Any:
        """As the wrapped stream, but "is_readable" polls the known socket directly."""
        if info == "is_readable" and self._socket is not None:
            return socket_is_readable(self._socket)
        return self._inner.get_extra_info(info)
