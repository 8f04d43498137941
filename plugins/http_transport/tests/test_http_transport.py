"""The http transport against real receivers on loopback (plain HTTP and TLS)."""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import httpcore
import httpx
import pytest
import trustme
from standardwebhooks.webhooks import Webhook

import wattbridge_http
from wattbridge.clock import FrozenClock
from wattbridge.drivers.webhooks import Delivery, DeliveryOutcome, WebhookTransport
from wattbridge.webhooks.signing import generate_secret, signed_headers
from wattbridge_http import HttpTransport, parse_retry_after
from wattbridge_http.pinning import PinnedBackend, pinned, socket_is_readable
from wattbridge_http.sharding import ShardedPool

HOST = "hooks.example.test"  # never resolved: the transport must use connect_address
BODY = '{"id":"evt_1","type":"scan.completed","data":{"id":"scan_1","note":"é ✓"}}'.encode()
RECEIVER_DATE = datetime(2026, 6, 1, 10, 30, tzinfo=UTC)


@attrs.frozen
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default (5) resets connections opened all at once


class Receiver:
    """A tiny HTTP/1.1 server whose path picks the answer, recording every request."""

    def __init__(
        self, tls: ssl.SSLContext | None = None, address: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.requests: list[Received] = []
        self.closed: list[int] = []  # client ports of connections that have ended
        self.release = threading.Event()  # lets /slow finish when the test is done
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so pooling is observable

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.requests.append(
                    Received(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        self.client_address[1],
                    )
                )
                receiver.answer(self)

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    receiver.closed.append(self.client_address[1])

        self.server = _Server((address, port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        status, headers, body = 200, {}, b"thanks"
        if handler.path == "/fail":
            status, body = 500, b"boom"
        elif handler.path == "/gone":
            status, body = 410, b"endpoint removed"
        elif handler.path == "/busy":
            status, headers = 429, {"Retry-After": "7"}
        elif handler.path == "/busy-date":
            retry_at = RECEIVER_DATE + timedelta(seconds=120)
            status, headers = 429, {"Retry-After": format_datetime(retry_at, usegmt=True)}
        elif handler.path == "/redirect":
            status, headers = 302, {"Location": "/ok"}
        elif handler.path == "/big":
            body = b"x" * 5000
        elif handler.path == "/slow":
            self.release.wait(5)
        elif handler.path == "/hang-up":
            # Close the connection after answering, without saying so in a header:
            # the client finds out only by seeing the idle connection readable (EOF).
            handler.close_connection = True
        handler.send_response_only(status)  # no automatic Date: ours is the fixed one
        handler.send_header("Date", format_datetime(RECEIVER_DATE, usegmt=True))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self) -> Receiver:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def deliver(
    url: str,
    connect_address: str | None = "127.0.0.1",
    timeout: float = 15.0,
    transport: HttpTransport | None = None,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
) -> DeliveryOutcome:
    """Send one delivery through a fresh transport (closed afterwards)."""
    return run(
        lambda t: t.send(Delivery(url, body, headers or {}, connect_address, timeout)),
        transport,
    )


def run(step: Callable[[HttpTransport], Any], transport: HttpTransport | None = None) -> Any:
    async def main() -> Any:
        used = transport or HttpTransport()
        try:
            return await step(used)
        finally:
            await used.aclose()

    return asyncio.run(main())


def test_the_plugin_registers_an_http_transport_for_both_environments() -> None:
    registered: list[WebhookTransport] = []
    wattbridge_http.register_webhook_transports(registered.append)
    [transport] = registered
    assert isinstance(transport, WebhookTransport)
    assert transport.name == "http"
    assert transport.environments == frozenset({"sandbox", "live"})


def test_a_2xx_succeeds_and_the_signed_bytes_arrive_unchanged(receiver: Receiver) -> None:
    secret = generate_secret()
    now = int(time.time())
    headers = signed_headers("msg_1", now, BODY, [secret])
    outcome = deliver(f"http://{HOST}:{receiver.port}/ok?x=1", headers=headers)
    assert outcome.succeeded and outcome.status_code == 200
    assert outcome.error is None and outcome.response_body == "thanks"
    assert 0 < outcome.duration_ms < 5000
    [got] = receiver.requests
    assert got.path == "/ok?x=1"
    assert got.body == BODY
    assert got.headers["host"] == f"{HOST}:{receiver.port}"  # the name, not the address
    for name, value in headers.items():
        assert got.headers[name] == value
    Webhook(secret).verify(got.body, got.headers, json_parse=False)


@pytest.mark.parametrize(
    ("path", "status", "body"), [("/fail", 500, "boom"), ("/gone", 410, "endpoint removed")]
)
def test_error_statuses_are_reported_not_raised(
    receiver: Receiver, path: str, status: int, body: str
) -> None:
    outcome = deliver(f"http://{HOST}:{receiver.port}{path}")
    assert (outcome.status_code, outcome.succeeded, outcome.response_body) == (
        status,
        False,
        body,
    )
    assert outcome.error is None


def test_retry_after_seconds_are_parsed(receiver: Receiver) -> None:
    outcome = deliver(f"http://{HOST}:{receiver.port}/busy")
    assert (outcome.status_code, outcome.retry_after_seconds) == (429, 7.0)


def test_retry_after_dates_count_from_the_receivers_clock(receiver: Receiver) -> None:
    # Our clock is a day off; the receiver's Date header is the reference.
    transport = HttpTransport(clock=FrozenClock(RECEIVER_DATE + timedelta(days=1)))
    outcome = deliver(f"http://{HOST}:{receiver.port}/busy-date", transport=transport)
    assert (outcome.status_code, outcome.retry_after_seconds) == (429, 120.0)


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    outcome = deliver(f"http://{HOST}:{receiver.port}/redirect")
    assert outcome.status_code == 302 and not outcome.succeeded
    assert [r.path for r in receiver.requests] == ["/redirect"]


def test_a_slow_receiver_times_out_without_raising(receiver: Receiver) -> None:
    started = time.perf_counter()
    outcome = deliver(f"http://{HOST}:{receiver.port}/slow", timeout=0.3)
    assert time.perf_counter() - started < 2
    assert outcome.status_code is None and not outcome.succeeded
    assert outcome.error is not None and "timed out" in outcome.error
    assert 250 <= outcome.duration_ms < 2000


def test_the_response_body_is_cut_to_1_kb(receiver: Receiver) -> None:
    outcome = deliver(f"http://{HOST}:{receiver.port}/big")
    assert outcome.status_code == 200 and outcome.response_body == "x" * 1024


def test_the_connect_address_wins_over_dns(receiver: Receiver) -> None:
    # "localhost" resolves to the receiver, but the approved address is another
    # one where nothing listens: the transport must not fall back to DNS.
    outcome = deliver(f"http://localhost:{receiver.port}/ok", connect_address="127.0.0.2")
    assert outcome.status_code is None
    assert outcome.error is not None and "could not connect" in outcome.error
    assert "127.0.0.2" in outcome.error
    assert receiver.requests == []


def test_without_a_connect_address_the_host_is_resolved(receiver: Receiver) -> None:
    outcome = deliver(f"http://127.0.0.1:{receiver.port}/ok", connect_address=None)
    assert outcome.status_code == 200


def test_connection_failures_are_reported_not_raised() -> None:
    with Receiver() as closed:
        port = closed.port
    outcome = deliver(f"http://{HOST}:{port}/ok")
    assert outcome.status_code is None and "could not connect" in (outcome.error or "")
    assert deliver("http://[::1/").error is not None  # a URL httpx cannot parse


def test_connections_are_pooled_between_deliveries(receiver: Receiver) -> None:
    async def twice(transport: HttpTransport) -> list[DeliveryOutcome]:
        url = f"http://{HOST}:{receiver.port}/ok"
        return [
            await transport.send(Delivery(url, BODY, {}, "127.0.0.1")),
            await transport.send(Delivery(url, BODY, {}, "127.0.0.1")),
        ]

    assert [o.status_code for o in run(twice)] == [200, 200]
    assert len({r.client_port for r in receiver.requests}) == 1


def test_a_pooled_connection_the_receiver_closed_is_not_reused(receiver: Receiver) -> None:
    async def twice(transport: HttpTransport) -> list[DeliveryOutcome]:
        url = f"http://{HOST}:{receiver.port}/hang-up"
        first = await transport.send(Delivery(url, BODY, {}, "127.0.0.1"))
        await asyncio.sleep(0.2)  # the receiver's close reaches the idle pooled connection
        return [first, await transport.send(Delivery(url, BODY, {}, "127.0.0.1"))]

    outcomes = run(twice)
    assert [o.status_code for o in outcomes] == [200, 200], [o.error for o in outcomes]
    assert len({r.client_port for r in receiver.requests}) == 2


def test_a_pooled_connection_is_never_used_for_another_approved_address(
    receiver: Receiver,
) -> None:
    # The same host name and port, approved first at one address and then at
    # another (DNS changed, or another environment's check): the second
    # delivery must open a connection to its own address, not reuse the first.
    with Receiver(address="127.0.0.2", port=receiver.port) as elsewhere:
        url = f"http://{HOST}:{receiver.port}/ok"

        async def both(transport: HttpTransport) -> list[DeliveryOutcome]:
            return [
                await transport.send(Delivery(url, BODY, {}, "127.0.0.1")),
                await transport.send(Delivery(url, BODY, {}, "127.0.0.2")),
                await transport.send(Delivery(url, BODY, {}, "127.0.0.1")),
            ]

        assert [o.status_code for o in run(both)] == [200, 200, 200]
        assert len(receiver.requests) == 2 and len(elsewhere.requests) == 1
        assert len({r.client_port for r in receiver.requests}) == 1  # still pooled


def test_many_concurrent_deliveries_share_the_pools(receiver: Receiver) -> None:
    async def many(transport: HttpTransport) -> list[DeliveryOutcome]:
        url = f"http://{HOST}:{receiver.port}/ok"
        outcomes: list[DeliveryOutcome] = []
        for _ in range(2):
            outcomes += await asyncio.gather(
                *[transport.send(Delivery(url, BODY, {}, "127.0.0.1")) for _ in range(40)]
            )
        return outcomes

    transport = HttpTransport(limits=httpx.Limits(max_connections=20))
    assert all(o.status_code == 200 for o in run(many, transport))
    assert len(receiver.requests) == 80
    # At most 20 connections were ever opened (the limit), and they were reused.
    assert len({r.client_port for r in receiver.requests}) <= 20


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait for something another thread does (a receiver noticing a closed connection)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


class FakeMonotonic:
    """A monotonic clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sharded_pool(clock: FakeMonotonic, idle_seconds: float = 60.0) -> ShardedPool:
    """Pools as the transport builds them, but whose connections never expire by themselves."""

    def make_pool(size: int) -> httpcore.AsyncConnectionPool:
        return httpcore.AsyncConnectionPool(
            max_connections=size,
            max_keepalive_connections=size,
            keepalive_expiry=None,  # so only the idle-address rule can close a connection
            network_backend=PinnedBackend(),
        )

    return ShardedPool(make_pool, 8, idle_seconds=idle_seconds, monotonic=clock)


async def post(pool: ShardedPool, port: int, address: str, path: str = "/ok") -> int:
    """One POST to ``HOST`` pinned to ``address``; the status code."""
    request = httpcore.Request(
        "POST",
        f"http://{HOST}:{port}{path}",
        headers=[("Host", f"{HOST}:{port}"), ("Content-Length", str(len(BODY)))],
        content=BODY,
    )
    with pinned(HOST, address):
        response = await pool.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
    return response.status


def test_an_address_unused_for_the_idle_time_loses_its_pools_and_connections(
    receiver: Receiver,
) -> None:
    port = receiver.port
    clock = FakeMonotonic()
    with Receiver(address="127.0.0.2", port=port) as elsewhere:

        async def main() -> None:
            pool = sharded_pool(clock, idle_seconds=60)
            try:
                assert await post(pool, port, "127.0.0.1") == 200
                clock.now += 30
                assert await post(pool, port, "127.0.0.2") == 200
                clock.now += 29  # .1 unused for 59 s: kept
                assert await post(pool, port, "127.0.0.2") == 200
                assert pool.addresses == ["127.0.0.1", "127.0.0.2"]
                clock.now += 1  # .1 unused for 60 s: its pools go, its connection is closed
                assert await post(pool, port, "127.0.0.2") == 200
                assert pool.addresses == ["127.0.0.2"]
                first = receiver.requests[0].client_port
                await eventually(lambda: first in receiver.closed)
                assert await post(pool, port, "127.0.0.1") == 200  # a new pool and connection
                assert pool.addresses == ["127.0.0.2", "127.0.0.1"]
                assert elsewhere.closed == []  # the address in use kept its connection
            finally:
                await pool.aclose()

        asyncio.run(main())
        assert len({r.client_port for r in receiver.requests}) == 2
        assert len(elsewhere.requests) == 3
        assert len({r.client_port for r in elsewhere.requests}) == 1


def test_an_address_with_a_request_in_flight_keeps_its_pools(receiver: Receiver) -> None:
    port = receiver.port
    clock = FakeMonotonic()
    with Receiver(address="127.0.0.2", port=port):

        async def main() -> None:
            pool = sharded_pool(clock, idle_seconds=60)
            try:
                slow = asyncio.create_task(post(pool, port, "127.0.0.1", "/slow"))
                await eventually(lambda: len(receiver.requests) == 1)  # in flight
                clock.now += 600
                assert await post(pool, port, "127.0.0.2") == 200
                assert pool.addresses == ["127.0.0.1", "127.0.0.2"]  # not dropped
                clock.now += 30
                receiver.release.set()
                assert await slow == 200
                # Idle time counts from the end of the slow request, not from its start.
                clock.now += 59
                assert await post(pool, port, "127.0.0.2") == 200
                assert "127.0.0.1" in pool.addresses
                assert receiver.closed == []
                clock.now += 1
                assert await post(pool, port, "127.0.0.2") == 200
                assert pool.addresses == ["127.0.0.2"]
                slow_port = receiver.requests[0].client_port
                await eventually(lambda: slow_port in receiver.closed)
            finally:
                await pool.aclose()

        asyncio.run(main())


def test_the_transport_drops_an_address_once_its_keep_alive_has_expired(
    receiver: Receiver,
) -> None:
    # Without the idle-address rule httpcore would only close the expired
    # connection the next time the same address is used: here, never.
    url = f"http://{HOST}:{receiver.port}/ok"
    with Receiver(address="127.0.0.2", port=receiver.port) as elsewhere:

        async def main(transport: HttpTransport) -> None:
            assert (await transport.send(Delivery(url, BODY, {}, "127.0.0.1"))).succeeded
            await asyncio.sleep(0.3)
            assert (await transport.send(Delivery(url, BODY, {}, "127.0.0.2"))).succeeded
            first = receiver.requests[0].client_port
            await eventually(lambda: first in receiver.closed)
            assert elsewhere.closed == []

        run(main, HttpTransport(limits=httpx.Limits(max_connections=10, keepalive_expiry=0.2)))


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """Both ends of a TCP connection over loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
    return ours, peer


@pytest.fixture(params=["poll", "select"])
def readiness_call(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with ``select.poll``, and again without it (as on Windows)."""
    if request.param == "select":
        monkeypatch.delattr(select, "poll")
    return str(request.param)


pair_kinds = pytest.mark.parametrize(
    "make_pair", [socket.socketpair, tcp_pair], ids=["socketpair", "tcp"]
)


def readable_soon(sock: socket.socket) -> bool:
    """Whether ``sock`` becomes readable within a second (a FIN crosses loopback at once)."""
    deadline = time.monotonic() + 1
    while not socket_is_readable(sock):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pair_kinds
def test_an_open_idle_socket_is_not_readable_and_one_whose_peer_closed_is(
    make_pair: Callable[[], tuple[socket.socket, socket.socket]], readiness_call: str
) -> None:
    ours, peer = make_pair()
    with ours, peer:
        assert not socket_is_readable(ours)
        assert not socket_is_readable(ours)  # asking does not change the answer
        peer.close()
        assert readable_soon(ours)
        assert ours.recv(1) == b""  # readable because the stream has ended


@pair_kinds
def test_a_socket_with_bytes_nobody_asked_for_is_readable(
    make_pair: Callable[[], tuple[socket.socket, socket.socket]], readiness_call: str
) -> None:
    ours, peer = make_pair()
    with ours, peer:
        peer.sendall(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
        assert readable_soon(ours)
        assert ours.recv(4) == b"HTTP"  # nothing was consumed by the check


def test_a_missing_or_closed_socket_counts_as_readable(readiness_call: str) -> None:
    ours, peer = socket.socketpair()
    with peer:
        ours.close()
        assert socket_is_readable(ours)
    assert socket_is_readable(None)


def test_a_pinned_connection_is_readable_once_the_receiver_closes_it() -> None:
    # What httpcore asks of an idle pooled connection before reusing it.
    async def main() -> list[object]:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            stream = await PinnedBackend().connect_tcp("127.0.0.1", listener.getsockname()[1])
            peer, _ = listener.accept()
        try:
            before = stream.get_extra_info("is_readable")
            peer.close()
            await eventually(lambda: bool(stream.get_extra_info("is_readable")))
            return [before, stream.get_extra_info("is_readable")]
        finally:
            await stream.aclose()

    assert asyncio.run(main()) == [False, True]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_receiver(ca: trustme.CA, name: str, sni_seen: list[str | None]) -> Receiver:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    context.sni_callback = lambda sock, server_name, ctx: sni_seen.append(server_name)
    return Receiver(tls=context)


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_tls_uses_the_url_host_for_sni_and_certificate_checks(ca: trustme.CA) -> None:
    sni_seen: list[str | None] = []
    with tls_receiver(ca, HOST, sni_seen) as server:
        transport = HttpTransport(verify=client_context(ca))
        outcome = deliver(f"https://{HOST}:{server.port}/ok", transport=transport)
        assert outcome.status_code == 200, outcome.error
        assert sni_seen == [HOST]
        assert server.requests[0].headers["host"] == f"{HOST}:{server.port}"


def test_tls_refuses_a_certificate_for_another_name(ca: trustme.CA) -> None:
    sni_seen: list[str | None] = []
    with tls_receiver(ca, "other.example.test", sni_seen) as server:
        transport = HttpTransport(verify=client_context(ca))
        outcome = deliver(f"https://{HOST}:{server.port}/ok", transport=transport)
        assert outcome.status_code is None
        assert "certificate" in (outcome.error or "").lower()
        assert server.requests == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("nan", None),
        ("soon", None),
        ("Mon, 01 Jun 2026 10:31:00 GMT", 60.0),
        ("Mon, 01 Jun 2026 10:29:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, RECEIVER_DATE) == expected
