"""A stand-in for Stripe's meter-event endpoint on loopback, for the billing tests.

It answers ``POST /v1/billing/meter_events`` the way Stripe documents it: a
Bearer secret key is required, the form fields are checked, an event is
counted once per ``identifier``, and a repeated ``Idempotency-Key`` gets the
first answer again. ``fail_next`` makes the next requests answer 500 (the
request is then *not* recorded, as a real server error would not be).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import ServerThread

API_KEY = "sk_test_standin0123456789"


class StripeStandIn:
    """Records meter events by identifier; every request is kept in ``requests``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.events: dict[str, dict[str, str]] = {}
        self.fail_next = 0
        self._answers: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()
        app = Starlette(
            routes=[Route("/v1/billing/meter_events", self._meter_event, methods=["POST"])]
        )
        self._server = ServerThread(app)
        self.url = self._server.url

    async def _meter_event(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        headers = dict(request.headers)
        with self._lock:
            self.requests.append({"form": form, "headers": headers})
            return self._answer(form, headers)

    def _answer(self, form: dict[str, str], headers: dict[str, str]) -> Response:
        if headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "Invalid API Key provided.")
        if self.fail_next > 0:
            self.fail_next -= 1
            return _error(500, "An unknown error occurred.")
        key = headers.get("idempotency-key")
        if key and key in self._answers:
            status, body = self._answers[key]
            return Response(body, status, media_type="application/json")
        missing = [
            name
            for name in ("event_name", "payload[stripe_customer_id]", "payload[value]")
            if not form.get(name)
        ]
        if missing:
            return _error(400, f"Missing required param: {missing[0]}.")
        identifier = form.get("identifier", "")
        self.events.setdefault(identifier, form)
        body = json.dumps({"object": "billing.meter_event", "identifier": identifier}).encode()
        if key:
            self._answers[key] = (200, body)
        return Response(body, 200, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": {"message": message, "type": "api_error"}}, status)


@contextmanager
def stripe_standin() -> Iterator[StripeStandIn]:
    """A running stand-in for the duration of the block."""
    standin = StripeStandIn()
    standin._server.start()
    try:
        yield standin
    finally:
        standin._server.stop()
