"""The ``stripe`` sink: settings, checks, and the mapping of usage events onto meter events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx

from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.billing import BillingSink, SinkContext, UsageEvent
from wattbridge.errors import ConfigurationError
from wattbridge_stripe.client import StripeError, StripeMeterClient

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""Per request; a slow answer is a failed attempt, retried with the worker's backoff."""


@attrs.frozen
class StripeSettings:
    """The ``[stripe]`` configuration section, checked."""

    api_key: str = attrs.field(repr=False)
    api_base: str
    event_name: str
    customers: Mapping[str, str]

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> StripeSettings:
        """Check the section; every problem is a :class:`ConfigurationError` saying what to set.

        :raises ConfigurationError: missing key, bad URL, empty event name, bad customer id.
        """
        api_key = str(settings.get("api_key") or "")
        if not api_key.startswith(("sk_", "rk_")):
            raise ConfigurationError(
                "stripe.api_key: set the Stripe secret or restricted key (sk_... or rk_...) "
                "in [stripe] api_key or WATTBRIDGE_STRIPE_API_KEY"
            )
        api_base = str(settings.get("api_base") or "").rstrip("/")
        parts = urlsplit(api_base)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigurationError(
                f"stripe.api_base: {api_base!r} is not an http(s) URL; "
                "the default is https://api.stripe.com"
            )
        event_name = str(settings.get("event_name") or "").strip()
        if not event_name or len(event_name) > 100:
            raise ConfigurationError(
                "stripe.event_name: set the event name of your Stripe meter (1-100 characters)"
            )
        raw_customers = settings.get("customers") or {}
        if not isinstance(raw_customers, Mapping):
            raise ConfigurationError(
                "stripe.customers: give a table of project id = Stripe customer id "
                "(cus_...), e.g. { proj_abc = \"cus_123\" }"
            )
        customers = dict(raw_customers)
        for project, customer in customers.items():
            if not isinstance(customer, str) or not customer.startswith("cus_"):
                raise ConfigurationError(
                    f"stripe.customers: {project} = {customer!r} is not a Stripe customer id "
                    "(cus_...)"
                )
        return cls(api_key, api_base, event_name, customers)


class StripeSink:
    """The registered driver; :meth:`bind` checks the settings and opens a client."""

    name = "stripe"
    environments: frozenset[EnvironmentName] = frozenset({"live"})

    def bind(self, context: SinkContext) -> BillingSink:
        """The sink of one environment, configured from the ``[stripe]`` section."""
        settings = StripeSettings.parse(context.settings)
        http = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        client = StripeMeterClient(http, settings.api_key, settings.api_base)
        return BoundStripeSink(client, settings)

    def record(self, event: UsageEvent) -> None:
        """Unbound, the sink has no settings."""
        raise ConfigurationError("the stripe sink needs its [stripe] settings; bind it first")


class BoundStripeSink:
    """Sends usage events of one environment to Stripe."""

    name = "stripe"
    environments: frozenset[EnvironmentName] = frozenset({"live"})

    def __init__(self, client: StripeMeterClient, settings: StripeSettings) -> None:
        self.client = client
        self.settings = settings

    def record(self, event: UsageEvent) -> None:
        """Create the meter event; idempotent on ``event.id`` (Stripe's ``identifier``).

        :raises StripeError: Stripe refused or did not answer, or the project has no
            customer configured (the worker retries later).
        """
        customer = self.settings.customers.get(event.project_id)
        if customer is None:
            raise StripeError(
                f"no Stripe customer is configured for project {event.project_id}; "
                f"add it to [stripe] customers"
            )
        self.client.create_meter_event(
            event_name=self.settings.event_name,
            customer=customer,
            value=event.credits,
            identifier=event.id,
            timestamp=event.occurred_at,
        )

    def diagnostics(self) -> dict[str, Any]:
        """The sink's settings, with the key redacted."""
        key = self.settings.api_key
        return {
            "apiKey": f"{key[:8]}…{key[-4:]}" if len(key) > 16 else "(set)",
            "apiBase": self.settings.api_base,
            "eventName": self.settings.event_name,
            "customers": dict(self.settings.customers),
        }
