"""Webhook delivery: throughput of one dispatcher, and first-attempt latency of live events.

Run: ``python bench/bench_webhooks.py [--events 5000] [--rate 100] [--seconds 10]``.

A receiver runs in a child process on loopback: a minimal asyncio HTTP/1.1
server with keep-alive that answers ``200`` at once and notes when each event
arrived, so that what is measured is the dispatcher, not the receiver. The
dispatcher is the real one (the ``http`` transport, SSRF check, signing, the
SQLite outbox and attempt rows) in this process, on a temporary data dir, with
private targets allowed for live (the receiver is on loopback).

1. Throughput: ``--events`` live events for one endpoint are in the outbox
   (recorded before timing); one ``run_once`` fans them out and delivers them.
   Target: at least 1,000 deliveries per second. The dispatcher process's CPU
   time per delivery is printed too: on a shared machine it says more than
   the wall-clock rate (1,000/s needs under 1 ms per delivery on one core).
2. Latency: the dispatcher runs as ``wattbridge serve`` runs it (a worker
   thread, idle interval 0.2 s) while a producer commits ``--rate`` live
   events per second for ``--seconds``; each event's latency is from the commit
   of its transaction to its arrival at the receiver. Target: p99 under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from wattbridge.config import Config
from wattbridge.platform import Platform
from wattbridge.services.dispatcher import WebhookDispatcher
from wattbridge.services.webhooks import WebhookEndpointService
from wattbridge.workers import WorkerRunner

THROUGHPUT_TARGET = 1000.0
P99_TARGET_MS = 1000.0
_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


# -- the receiver (child process) ------------------------------------------------


class _ReceiverProtocol(asyncio.Protocol):
    """HTTP/1.1 POSTs with Content-Length, kept alive; notes (event id, arrival)."""

    def __init__(self, arrivals: list[tuple[str, float]]) -> None:
        self.arrivals = arrivals
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            start = head.find(b"content-length:")
            stop = head.find(b"\r\n", start)
            length = int(head[start + 15 : stop if stop >= 0 else None]) if start >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.arrivals.append((json.loads(body)["id"], time.time()))
            assert self.transport is not None
            self.transport.write(_RESPONSE)


def _receive(sock: socket.socket, control: Connection) -> None:
    """Serve until told to stop, then send back the arrivals."""
    arrivals: list[tuple[str, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _ReceiverProtocol(arrivals), sock=sock)
        control.send("ready")
        await loop.run_in_executor(None, control.recv)
        server.close()

    asyncio.run(main())
    control.send(arrivals)


class Receiver:
    """The receiver process, and the way to collect what it saw."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.control, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_receive, args=(self.sock, child))
        self.process.start()
        assert self.control.recv() == "ready"

    def collect(self) -> list[tuple[str, float]]:
        """Stop the receiver and return (event id, arrival time) pairs."""
        self.control.send("stop")
        arrivals: list[tuple[str, float]] = self.control.recv()
        self.process.join(10)
        self.sock.close()
        return arrivals


# -- the dispatcher (this process) ---------------------------------------------------


def _platform(data_dir: Path) -> Platform:
    config = Config.load(
        environ={},
        overrides={
            "data_dir": str(data_dir),
            "load_plugins": "sandbox,fixtures,highs,http",
            "live.private_webhook_targets": True,
        },
    )
    return Platform(config=config)


def throughput(events: int, concurrency: int | None = None) -> tuple[float, float]:
    """Deliveries per second from a backlog of ``events`` to one endpoint, and the
    dispatcher process's CPU milliseconds per delivery."""
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        platform = _platform(Path(tmp))
        env = platform.environment("live")
        project = platform.access.create_project("bench", live_enabled=True).id
        WebhookEndpointService(env).create(project, {"url": receiver.url})
        with env.db.transaction():
            for i in range(events):
                env.event_service.record(project, "scan.completed", {"id": f"scan_{i}"})
        dispatcher = (
            WebhookDispatcher(env)
            if concurrency is None
            else WebhookDispatcher(env, concurrency=concurrency)
        )
        started, cpu = time.perf_counter(), time.process_time()
        dispatcher.run_once()
        elapsed = time.perf_counter() - started
        cpu_ms = (time.process_time() - cpu) * 1000 / events
        dispatcher.close()
        platform.close()
    arrivals = receiver.collect()
    assert len({event for event, _ in arrivals}) == events, (len(arrivals), events)
    return events / elapsed, cpu_ms


def latency(rate: float, seconds: float) -> list[float]:
    """Milliseconds from commit to arrival for live events committed at ``rate`` per second."""
    receiver = Receiver()
    committed: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        platform = _platform(Path(tmp))
        env = platform.environment("live")
        project = platform.access.create_project("bench", live_enabled=True).id
        WebhookEndpointService(env).create(project, {"url": receiver.url})
        runner = WorkerRunner([WebhookDispatcher(env)])
        runner.start()

        def produce() -> None:
            count = int(rate * seconds)
            start = time.monotonic()
            for i in range(count):
                time.sleep(max(0.0, start + i / rate - time.monotonic()))
                with env.db.transaction():
                    event_id = env.event_service.record(project, "scan.completed", {"i": i})
                committed[event_id] = time.time()

        producer = threading.Thread(target=produce)
        producer.start()
        producer.join()
        time.sleep(2.0)  # the last events' deliveries (anything slower fails the target)
        runner.stop()
        for worker in runner.workers:
            assert isinstance(worker, WebhookDispatcher)
            worker.close()
        platform.close()
    arrivals = receiver.collect()
    first: dict[str, float] = {}
    for event, at in arrivals:
        first.setdefault(event, at)
    missing = set(committed) - set(first)
    assert not missing, f"{len(missing)} events never arrived"
    return sorted((first[e] - committed[e]) * 1000 for e in committed)


def main() -> None:
    """Run both measurements and print them with the machine's conditions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    runs = [throughput(args.events) for _ in range(3)]
    best = max(rate for rate, _ in runs)
    print(
        f"throughput: {best:,.0f} deliveries/s best of 3 "
        f"({', '.join(f'{rate:,.0f}' for rate, _ in runs)}) for {args.events} events, "
        f"dispatcher CPU {min(cpu for _, cpu in runs):.2f} ms per delivery "
        f"(target {THROUGHPUT_TARGET:,.0f}/s: {'met' if best >= THROUGHPUT_TARGET else 'MISSED'})"
    )
    samples = latency(args.rate, args.seconds)
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"live first-attempt latency at {args.rate:g} events/s for {args.seconds:g} s: "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {samples[-1]:.0f} ms "
        f"(target p99 < {P99_TARGET_MS:.0f} ms: {'met' if p99 < P99_TARGET_MS else 'MISSED'})"
    )
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
