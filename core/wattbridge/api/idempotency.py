"""``Idempotency-Key`` for POST requests (kept 24 h, scoped per project,
environment, method and path).

A retry with the same key and body replays the stored response with
``Idempotent-Replayed: true``; the same key with another body is refused; a
duplicate that arrives while the first is still running gets 409. A request
rejected by validation, a rate or usage limit (429) and a server error are not
stored, so the client can fix the request (or raise the limit, or wait) and retry
with the same key, as with Stripe.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import timedelta

from starlette.responses import Response

from wattbridge.api import envelope
from wattbridge.api.routing import Call, request_id_of
from wattbridge.errors import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    ValidationFailed,
    WattbridgeError,
)

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def run_idempotent(call: Call, key: str, run: Callable[[], Response]) -> Response:
    """Run ``run`` at most once per idempotency scope and replay its response."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed.single(
            "$.headers.Idempotency-Key",
            f"must be 1 to {MAX_KEY_LENGTH} characters, got {len(key)}",
        )
    env = call.environment
    scope = (call.project_id, call.request.method, call.request.url.path, key)
    fingerprint = hashlib.sha256(call.raw_body).hexdigest()
    now = env.clock.now()
    existing = env.idempotency.begin(scope, fingerprint, now, now + RETENTION)
    if existing is not None:
        if existing.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body. "
                "Use a new key for a new request."
            )
        if existing.state != "done" or existing.response_body is None:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; retry shortly."
            )
        body = bytes(existing.response_body)
        request_id = json.loads(body).get("meta", {}).get("requestId", "")
        return Response(
            body,
            status_code=existing.response_status or 200,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true", "Request-Id": request_id},
        )
    try:
        response = run()
    except WattbridgeError as exc:
        if exc.status in (400, 429) or exc.status >= 500:
            env.idempotency.release(scope)
            raise
        failed = envelope.failure(
            exc,
            request_id=request_id_of(call.request),
            environment=env.name,
            now=now,
            started=time.perf_counter(),
        )
        env.idempotency.complete(scope, failed.status_code, bytes(failed.body))
        raise
    except BaseException:
        env.idempotency.release(scope)
        raise
    if response.status_code >= 500:
        env.idempotency.release(scope)
    else:
        env.idempotency.complete(scope, response.status_code, bytes(response.body))
    return response
