"""The response envelope of every JSON answer, success or error.

``{"success", "data" | ("statusCode", "message", "error"), "meta"}``; ``meta``
always carries the request id, the environment that served the request (null
only when no valid key was presented), the time and the latency.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.responses import Response

from wattbridge.clock import isoformat
from wattbridge.errors import WattbridgeError
from wattbridge.serialization import dumps

JSON_TYPE = "application/json"


class JSONBytesResponse(Response):
    """A response whose body is JSON bytes already, with headers encoded in one go.

    Starlette's general header handling (lower-casing and searching the given
    headers, then adding length and type) is a noticeable share of a fast read;
    an envelope always has the same three headers plus a few known ones.
    """

    media_type = JSON_TYPE

    def __init__(
        self, body: bytes, status: int, request_id: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status
        self.background = None
        self.body = body
        raw = [
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", _JSON_TYPE_BYTES),
            (b"request-id", request_id.encode("latin-1")),
        ]
        if headers:
            raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.raw_headers = raw


_JSON_TYPE_BYTES = JSON_TYPE.encode("latin-1")


def meta(request_id: str, environment: str | None, now: datetime, started: float) -> dict[str, Any]:
    """The ``meta`` object."""
    return {
        "requestId": request_id,
        "environment": environment,
        "timestamp": isoformat(now),
        "latencyMs": round((time.perf_counter() - started) * 1000),
    }


def success(
    data: Any,
    *,
    status: int,
    request_id: str,
    environment: str | None,
    now: datetime,
    started: float,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A success envelope."""
    body = {"success": True, "data": data, "meta": meta(request_id, environment, now, started)}
    return JSONBytesResponse(dumps(body), status, request_id, headers)


def failure(
    error: WattbridgeError,
    *,
    request_id: str,
    environment: str | None,
    now: datetime,
    started: float,
) -> Response:
    """An error envelope: ``statusCode`` and ``message`` on top, the code in ``error``."""
    err: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        err["details"] = error.details
    body = {
        "success": False,
        "statusCode": error.status,
        "message": error.message,
        "error": err,
        "meta": meta(request_id, environment, now, started),
    }
    return JSONBytesResponse(dumps(body), error.status, request_id, error.headers)
