"""The access log: one line per request, written in batches.

Going through :mod:`logging` costs a record, a formatter and a locked write
per request, about a tenth of a fast request's CPU. ``wattbridge serve``
instead keeps the lines of the last moment in memory and writes them with one
call, at most :data:`FLUSH_AFTER` seconds after the first of them (or when
:data:`MAX_LINES` are waiting, or at shutdown): the buffered access log of
nginx (``access_log … buffer= flush=``). Embedders that pass no
:class:`AccessLog` get one :mod:`logging` record per request on the
``wattbridge.access`` logger instead.

A line: ``2026-06-01T07:30:00.123Z GET /v1/devices/dev_… 200 req_… 1.2ms``.
The path only, never the query string, so that a key someone put in a URL
never reaches a log.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

FLUSH_AFTER = 0.5
"""Seconds a line may wait in memory before it is written."""

MAX_LINES = 512
"""Lines that make a batch be written at once."""

logger = logging.getLogger("wattbridge.access")

_Line = tuple[float, str, str, int, str, float]


def _timestamp(epoch: float) -> str:
    seconds = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        f".{int((epoch - seconds) * 1000):03d}Z"
    )


def format_line(epoch: float, method: str, path: str, status: int, request_id: str,
                millis: float) -> str:
    """One access log line (without the newline)."""
    return f"{_timestamp(epoch)} {method} {path} {status} {request_id} {millis:.1f}ms"


class AccessLog:
    """Buffered access log lines written to a text stream.

    :meth:`record` is called on the event loop; the batch is written from the
    loop too (one ``write`` and one ``flush`` per batch), and by :meth:`close`.
    """

    def __init__(self, stream: TextIO, *, owns_stream: bool = False) -> None:
        self.stream = stream
        self._owns_stream = owns_stream
        self._lines: list[_Line] = []
        self._lock = threading.Lock()  # close() may come from another thread
        self._scheduled = False

    @classmethod
    def open(cls, target: str) -> AccessLog:
        """The access log for a configuration value: ``-`` (stderr), ``off`` or a file path.

        :raises OSError: the file cannot be opened for appending.
        """
        if target == "off":
            return DiscardedAccessLog(sys.stderr)
        if target == "-":
            return cls(sys.stderr)
        return cls(Path(target).open("a", encoding="utf-8"), owns_stream=True)

    def record(self, method: str, path: str, status: int, request_id: str,
               millis: float) -> None:
        """Keep a line; schedule a write unless one is due."""
        with self._lock:
            self._lines.append((time.time(), method, path, status, request_id, millis))
            full = len(self._lines) >= MAX_LINES
            schedule = not self._scheduled and not full
            if schedule:
                self._scheduled = True
        if full:
            self.flush()
        elif schedule:
            try:
                asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)
            except RuntimeError:  # not on a loop: nothing would come back to write
                self.flush()

    def flush(self) -> None:
        """Write every waiting line now."""
        with self._lock:
            lines, self._lines = self._lines, []
            self._scheduled = False
        if not lines:
            return
        text = "".join(format_line(*line) + "\n" for line in lines)
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not fail requests
            pass

    def close(self) -> None:
        """Write what is waiting and close the stream if this log opened it."""
        self.flush()
        if self._owns_stream:
            self.stream.close()


class DiscardedAccessLog(AccessLog):
    """``access_log = off``: requests are not logged at all."""

    def record(self, method: str, path: str, status: int, request_id: str,
               millis: float) -> None:
        """Forget the line."""


def log_record(method: str, path: str, status: int, request_id: str, millis: float) -> None:
    """The unbuffered fallback: one :mod:`logging` record (when the logger is enabled)."""
    logger.info("%s %s %s %s %.1fms", method, path, status, request_id, millis)
