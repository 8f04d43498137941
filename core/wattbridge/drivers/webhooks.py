"""The webhook-transport contract: send one signed delivery, report what happened.

The dispatcher owns the policy (which endpoint, when, retries, disabling); a
transport only moves bytes. The body and headers are final (signed): a
transport must send exactly these bytes and must connect only to
``connect_address``, the address the SSRF check approved, so a DNS answer that
changes between the check and the connection cannot redirect the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs

from wattbridge.drivers.base import EnvironmentName


@attrs.frozen
class Delivery:
    """One attempt to deliver one event to one endpoint."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    connect_address: str | None
    timeout_seconds: float = 15.0


@attrs.frozen
class DeliveryOutcome:
    """What the receiver answered (or why nothing was answered).

    ``status_code`` is None when no response arrived (``error`` says why);
    ``retry_after_seconds`` comes from the receiver's ``Retry-After`` header;
    ``response_body`` is cut to 1 KB.
    """

    status_code: int | None
    duration_ms: float
    retry_after_seconds: float | None = None
    response_body: str = ""
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """Any 2xx is a success; redirects are not followed and count as failures."""
        return self.status_code is not None and 200 <= self.status_code < 300


@runtime_checkable
class WebhookTransport(Protocol):
    """A way to send deliveries, registered by ``register_webhook_transports``."""

    name: str
    environments: frozenset[EnvironmentName]

    async def send(self, delivery: Delivery) -> DeliveryOutcome:
        """Send ``delivery`` once; never raise for receiver or network failures."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...
