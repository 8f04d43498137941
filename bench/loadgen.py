"""Shared pieces of the HTTP benchmarks: servers to compare and a light load generator.

Every HTTP benchmark compares wattbridge with a *bare* Starlette JSON endpoint
served by the same uvicorn, in the same run, on the same machine: the ratio is
what is comparable across machines, not the absolute requests per second.

- :func:`bare_server` serves :data:`bare_app` (``GET /json`` and ``POST /json``
  answer a small JSON object) with uvicorn in a subprocess;
- :func:`wattbridge_server` runs ``wattbridge serve`` in a subprocess on a fresh
  data dir, with a sandbox key created through the CLI;
- :func:`measure` drives a URL from separate processes with a minimal HTTP/1.1
  keep-alive client on asyncio streams. It is deliberately lighter than an HTTP
  library so that the client costs little next to the servers it measures.

The helpers live in ``bench/`` and are imported by the ``bench_*.py`` scripts,
which put this folder on ``sys.path`` when run as ``python bench/bench_x.py``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BENCH_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


# --- the baseline ---------------------------------------------------------------------


async def _bare_json(request: Request) -> JSONResponse:
    if request.method == "POST":
        await request.body()
    return JSONResponse({"id": "bare", "ok": True, "items": [1, 2, 3]})


bare_app = Starlette(routes=[Route("/json", _bare_json, methods=["GET", "POST"])])
"""The baseline: one Starlette route answering JSON, nothing else."""


# --- servers --------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer at {url} within {timeout} s")


@contextmanager
def _process(args: list[str], probe: str, env: dict[str, str] | None = None) -> Iterator[int]:
    """Run ``args`` until the context exits; yield its pid once ``probe`` answers."""
    process = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(probe, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@attrs.frozen
class Bare:
    """A running bare server: its base URL and its process id."""

    url: str
    pid: int


@contextmanager
def bare_server() -> Iterator[Bare]:
    """Serve :data:`bare_app` with uvicorn in a subprocess; yield its URL and pid."""
    port = free_port()
    args = [
        str(BIN / "python"),
        "-m",
        "uvicorn",
        "--app-dir",
        str(BENCH_DIR),
        "loadgen:bare_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    with _process(args, f"{url}/json") as pid:
        yield Bare(url, pid)


@attrs.frozen
class Served:
    """A running ``wattbridge serve``: its base URL, a sandbox key of its default project,
    its data dir and its process id."""

    url: str
    sandbox_key: str
    data_dir: Path
    pid: int


@contextmanager
def wattbridge_server(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run ``wattbridge serve`` on a fresh ``data_dir`` (workers included) in a subprocess."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    cli = str(BIN / "wattbridge")
    key = subprocess.run(
        [cli, "keys", "create", "--env", "sandbox", "--data-dir", str(data_dir)],
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    args = [cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    url = f"http://127.0.0.1:{port}"
    with _process(args, f"{url}/healthz", env) as pid:
        yield Served(url, key, data_dir, pid)


# --- the load generator ----------------------------------------------------------------


@attrs.frozen
class Load:
    """What :func:`measure` saw: completed requests per second and latency percentiles."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int

    def describe(self) -> str:
        """One line for a benchmark's output."""
        return (
            f"{self.rps:8.0f} req/s  p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms"
            f"  ({self.requests} requests, {self.errors} errors)"
        )


def _request_bytes(method: str, url: str, headers: dict[str, str], body: bytes) -> bytes:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str, port: int, requests: list[bytes], first: int, until: float,
    latencies: list[float],
) -> int:
    errors = 0
    sent = first
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(requests[sent % len(requests)])
            sent += 1
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status >= 400:
                errors += 1
    finally:
        writer.close()
    return errors


_Job = tuple[str, list[str], dict[str, str], bytes, float, list[int], float]


def _worker(job: _Job) -> tuple[list[float], int]:
    method, urls, headers, body, seconds, offsets, start_at = job
    parts = urlsplit(urls[0])
    requests = [_request_bytes(method, url, headers, body) for url in urls]

    async def run() -> tuple[list[float], int]:
        # Start together, so the measured window is the same for every process.
        await asyncio.sleep(max(0.0, start_at - time.time()))
        until = time.perf_counter() + seconds
        latencies: list[float] = []
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        results = await asyncio.gather(
            *(_connection(host, port, requests, first, until, latencies) for first in offsets)
        )
        return latencies, sum(results)

    return asyncio.run(run())


def measure(
    method: str,
    url: str | list[str],
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    seconds: float = 5.0,
    concurrency: int = 16,
    processes: int = 2,
) -> Load:
    """Drive ``url`` with ``concurrency`` keep-alive connections for ``seconds``.

    ``url`` may be a list of URLs of one server: each connection then requests
    them in turn, each starting at another place in the list, so that the
    server sees them evenly mixed. The connections are spread over
    ``processes`` client processes. Every
    response is read in full; a status ≥ 400 counts as an error (a benchmark
    should treat any error as a failed run).
    """
    sent_headers = dict(headers or {})
    body = b""
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    urls = [url] if isinstance(url, str) else url
    per_process = max(1, concurrency // processes)
    total = per_process * processes
    start_at = time.time() + 0.5
    jobs = [
        (method, urls, sent_headers, body, seconds,
         [(p * per_process + n) * len(urls) // total for n in range(per_process)], start_at)
        for p in range(processes)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        outcomes = pool.map(_worker, jobs)
    latencies = sorted(lat for batch, _ in outcomes for lat in batch)
    errors = sum(errs for _, errs in outcomes)
    if not latencies:
        return Load(0.0, 0.0, 0.0, errors, 0)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Load(
        rps=len(latencies) / seconds,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=p99 * 1000,
        errors=errors,
        requests=len(latencies),
    )


def machine() -> str:
    """A one-line description of this machine for benchmark output."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Python {sys.version.split()[0]}"
