"""A small client for Stripe's meter-event endpoint (no wattbridge imports).

The ``httpx.Client`` is injected, so the sink owns its connection pool and
tests can point the client at a local stand-in server.
"""

from __future__ import annotations

from datetime import datetime

import httpx

METER_EVENTS_PATH = "/v1/billing/meter_events"


class StripeError(Exception):
    """Stripe refused or did not answer; ``status`` is None when nothing came back."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class StripeMeterClient:
    """Creates Stripe Billing meter events."""

    def __init__(self, http: httpx.Client, api_key: str, api_base: str) -> None:
        self.http = http
        self._api_key = api_key
        self.url = api_base.rstrip("/") + METER_EVENTS_PATH

    def create_meter_event(
        self,
        *,
        event_name: str,
        customer: str,
        value: int,
        identifier: str,
        timestamp: datetime,
    ) -> None:
        """Record ``value`` for ``customer``; idempotent on ``identifier``.

        :raises StripeError: a non-2xx answer (with Stripe's own message) or no answer.
        """
        form = {
            "event_name": event_name,
            "payload[stripe_customer_id]": customer,
            "payload[value]": str(value),
            "identifier": identifier,
            "timestamp": str(int(timestamp.timestamp())),
        }
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            # Stripe replays the first answer for a repeated key, so a retry of
            # a request whose answer was lost cannot be refused as a duplicate.
            "Idempotency-Key": identifier,
        }
        try:
            response = self.http.post(self.url, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise StripeError(f"no answer from Stripe: {type(exc).__name__}") from None
        if not response.is_success:
            raise StripeError(
                f"Stripe answered {response.status_code}: {_stripe_message(response)}",
                response.status_code,
            )


def _stripe_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return str(error.get("message") or error.get("code") or "no message")[:300]
    except (ValueError, AttributeError):
        return "no message"
