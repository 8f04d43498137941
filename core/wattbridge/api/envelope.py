"""The response envelope of every JSON answer, success or error.

``{"success", "data" | ("statusCode", "message", "error"), "meta"}``; ``meta``
always carries the request id, the environment that served the request (null
only when no valid key was presented), the time and the latency.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from starlette.responses import Response

from wattbridge.clock import isoformat
from wattbridge.errors import WattbridgeError
from wattbridge.serialization import dumps

JSON_TYPE = "application/json"


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
    headers: dict[str, str] | None = None,
) -> Response:
    """A success envelope."""
    body = {"success": True, "data": data, "meta": meta(request_id, environment, now, started)}
    return Response(
        dumps(body),
        status_code=status,
        media_type=JSON_TYPE,
        headers={"Request-Id": request_id, **(headers or {})},
    )


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
    return Response(
        dumps(body),
        status_code=error.status,
        media_type=JSON_TYPE,
        headers={"Request-Id": request_id, **error.headers},
    )
