"""The billing-sink contract: receive usage events from metered (live) scans."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from wattbridge.drivers.base import EnvironmentName


@attrs.frozen
class UsageEvent:
    """One billable use: a scan that cost ``credits``; ``overage`` past the tier limit."""

    id: str
    project_id: str
    scan_id: str
    credits: int
    overage: bool
    occurred_at: datetime


@runtime_checkable
class BillingSink(Protocol):
    """Somewhere usage goes, registered by ``register_billing_sinks``."""

    name: str
    environments: frozenset[EnvironmentName]

    def record(self, event: UsageEvent) -> None:
        """Record or forward ``event``; must be idempotent on ``event.id``."""
        ...
