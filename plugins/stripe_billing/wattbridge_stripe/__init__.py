"""The ``stripe`` billing sink: usage events become Stripe Billing meter events.

Each usage event of a live scan is sent as one meter event
(``POST /v1/billing/meter_events``) for the Stripe customer configured for
the scan's project, with the event's credits as the value. The usage event id
is both the meter event's ``identifier`` and the request's ``Idempotency-Key``,
so a retry after a timeout or a crash never counts twice. Configure it in the
``[stripe]`` section (docs/billing.md) and add ``"stripe"`` to
``[live] billing_sinks``.
"""

from __future__ import annotations

from collections.abc import Callable

from wattbridge import hookimpl
from wattbridge.drivers.billing import BillingSink
from wattbridge_stripe.client import StripeError, StripeMeterClient
from wattbridge_stripe.sink import BoundStripeSink, StripeSettings, StripeSink

__all__ = [
    "BoundStripeSink",
    "StripeError",
    "StripeMeterClient",
    "StripeSettings",
    "StripeSink",
    "register_billing_sinks",
]


@hookimpl
def register_billing_sinks(register: Callable[[BillingSink], None]) -> None:
    """Register the ``stripe`` sink (live only)."""
    register(StripeSink())
