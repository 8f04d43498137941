"""``wattbridge webhooks listen``: a local receiver that verifies and prints events.

Like ``stripe listen``: point a webhook endpoint at it during development and
watch each delivery arrive, with its signature checked exactly as a real
receiver should check it. Valid deliveries get ``200``; a delivery that fails
verification gets ``400`` with the reason, which also shows up in the
dispatcher's delivery log.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from wattbridge.clock import Clock, SystemClock, isoformat
from wattbridge.webhooks.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    InvalidSignature,
    decode_secret,
    verify,
)

Echo = Callable[[str], None]

# Fields worth a glance, in the order they are printed; ids first.
_SUMMARY_FIELDS = (
    "deviceId",
    "actionId",
    "scanId",
    "endpointId",
    "status",
    "state",
    "command",
    "type",
    "vendor",
    "userId",
    "errorCode",
    "errorMessage",
)
_SUMMARY_LIMIT = 160
_REMEMBERED_IDS = 1000


def summarize(data: Any) -> str:
    """One short line about an event's ``data``: its id, then the telling fields.

    ``{"id": "scan_1", "status": "completed"}`` → ``scan_1 status=completed``.
    Unknown shapes still give something readable; nested objects are skipped.
    """
    if not isinstance(data, Mapping):
        return "" if data is None else _clip(json.dumps(data))
    if "id" not in data:
        # Payloads that wrap the resource ({"scan": {...}}) are summarised by it.
        nested = [v for v in data.values() if isinstance(v, Mapping) and "id" in v]
        if len(nested) == 1:
            data = nested[0]
    parts: list[str] = []
    if isinstance(data.get("id"), str):
        parts.append(data["id"])
    for name in _SUMMARY_FIELDS:
        value = data.get(name)
        if isinstance(value, str | int | float | bool):
            parts.append(f"{name}={value}")
    return _clip(" ".join(parts))


def _clip(text: str) -> str:
    return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 1] + "…"


def _event_line(received_at: str, event: Any, duplicate: bool) -> str:
    if not isinstance(event, Mapping):
        return f"{received_at}  (not an event object)"
    fields = [
        received_at,
        str(event.get("type", "?")),
        str(event.get("id", "?")),
        summarize(event.get("data")),
    ]
    if duplicate:
        fields.append("(redelivery)")
    return "  ".join(f for f in fields if f)


def make_listen_app(
    secret: str | None,
    echo: Echo,
    clock: Clock | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> Starlette:
    """Build the receiver: POST any path; verify with ``secret``; ``echo`` one line per request.

    :param secret: the endpoint's ``whsec_`` secret; None accepts unsigned
        deliveries and marks each line ``(signature not checked)``.
    :param echo: where lines go (``click.echo`` in the CLI, a list in tests).
    :param clock: the receiver's clock, for the timestamp tolerance and the printed time.
    :raises ValueError: if ``secret`` is not a usable ``whsec_`` secret.
    """
    if secret is not None:
        decode_secret(secret)  # a mistyped --secret fails now, not on every delivery
    now_source: Clock = clock or SystemClock()
    # webhook-ids seen lately: delivery is at-least-once, so a redelivery is
    # normal and labelled as such rather than looking like a second event.
    seen: OrderedDict[str, None] = OrderedDict()

    async def receive(request: Request) -> Response:
        body = await request.body()
        now = now_source.now()
        received_at = isoformat(now)
        if secret is not None:
            try:
                verify(secret, request.headers, body, now.timestamp(), tolerance)
            except InvalidSignature as exc:
                echo(f"{received_at}  REJECTED  {exc}")
                return JSONResponse({"error": "invalid signature", "reason": str(exc)}, 400)
        try:
            event = json.loads(body)
        except ValueError:
            echo(f"{received_at}  REJECTED  the body is not JSON")
            return JSONResponse({"error": "invalid body", "reason": "the body is not JSON"}, 400)
        msg_id = request.headers.get("webhook-id", "")
        duplicate = bool(msg_id) and msg_id in seen
        if msg_id:
            seen[msg_id] = None
            seen.move_to_end(msg_id)
            while len(seen) > _REMEMBERED_IDS:
                seen.popitem(last=False)
        line = _event_line(received_at, event, duplicate)
        echo(line if secret is not None else f"{line}  (signature not checked)")
        return JSONResponse({"received": True})

    async def about(request: Request) -> Response:
        return PlainTextResponse("wattbridge webhooks listen: POST signed deliveries here.\n")

    return Starlette(
        routes=[
            Route("/", receive, methods=["POST"]),
            Route("/{path:path}", receive, methods=["POST"]),
            Route("/", about, methods=["GET"]),
        ]
    )


def run_listen(host: str, port: int, secret: str | None, echo: Echo) -> None:
    """Serve :func:`make_listen_app` until interrupted (blocking)."""
    import uvicorn

    checking = (
        f"verifying signatures with the secret ending in …{secret[-4:]}"
        if secret
        else "NOT verifying signatures (pass --secret whsec_… to check them)"
    )
    echo(f"Listening for webhooks on http://{host}:{port}/, {checking}. Ctrl-C to stop.")
    uvicorn.run(
        make_listen_app(secret, echo),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
