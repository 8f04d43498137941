"""The buffered access log: lines wait in memory and are written in one go."""

from __future__ import annotations

import asyncio
import io
import re

from wattbridge.api import access_log
from wattbridge.api.access_log import AccessLog, DiscardedAccessLog, format_line

LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z GET /v1/me 200 req_1 1\.5ms")


def test_a_line_names_time_method_path_status_request_and_latency() -> None:
    assert format_line(1780300800.25, "GET", "/v1/me", 200, "req_1", 1.5) == (
        "2026-06-01T08:00:00.250Z GET /v1/me 200 req_1 1.5ms"
    )


def test_lines_are_written_together_after_a_moment() -> None:
    stream = io.StringIO()
    log = AccessLog(stream)

    async def serve() -> str:
        for _ in range(3):
            log.record("GET", "/v1/me", 200, "req_1", 1.5)
        waiting = stream.getvalue()
        await asyncio.sleep(access_log.FLUSH_AFTER + 0.2)
        return waiting

    assert asyncio.run(serve()) == ""  # nothing written per request
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and all(LINE.fullmatch(line) for line in lines)


def test_a_full_batch_writes_at_once_and_so_does_a_line_off_any_loop() -> None:
    stream = io.StringIO()
    log = AccessLog(stream)

    async def burst() -> None:
        for _ in range(access_log.MAX_LINES):
            log.record("GET", "/v1/me", 200, "req_1", 1.5)

    asyncio.run(burst())
    assert len(stream.getvalue().splitlines()) == access_log.MAX_LINES
    log.record("GET", "/v1/me", 200, "req_1", 1.5)  # off any loop: written at once
    assert len(stream.getvalue().splitlines()) == access_log.MAX_LINES + 1


def test_closing_writes_the_waiting_lines() -> None:
    stream = io.StringIO()
    log = AccessLog(stream)

    async def serve_then_close() -> str:
        log.record("GET", "/v1/me", 200, "req_1", 1.5)
        log.record("GET", "/v1/me", 200, "req_1", 1.5)
        waiting = stream.getvalue()
        log.close()  # long before the batch would have been written
        return waiting

    assert asyncio.run(serve_then_close()) == ""
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(LINE.fullmatch(line) for line in lines)


def test_off_discards_and_a_broken_stream_never_fails_a_request() -> None:
    assert isinstance(AccessLog.open("off"), DiscardedAccessLog)
    quiet = io.StringIO()
    off = DiscardedAccessLog(quiet)
    off.record("GET", "/v1/me", 200, "req_1", 1.5)
    off.close()
    assert quiet.getvalue() == ""
    closed = io.StringIO()
    closed.close()
    broken = AccessLog(closed)
    broken.record("GET", "/v1/me", 200, "req_1", 1.5)  # the write fails quietly
