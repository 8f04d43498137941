"""The billing-sink contract: receive usage events from metered (live) scans.

A sink is registered once per platform. A sink that needs its environment
(a database, the data dir, its configuration section) also implements
:class:`BindsToEnvironment`: the billing worker calls ``bind`` once per
environment and sends that environment's events to the sink it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from wattbridge.drivers.base import EnvironmentName

if TYPE_CHECKING:
    from wattbridge.clock import Clock
    from wattbridge.store.sqlite import Database


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


@attrs.frozen
class SinkContext:
    """What a sink may use in one environment.

    ``settings`` is the configuration section named after the sink (for
    example ``[stripe]``), empty when there is none.
    """

    environment: EnvironmentName
    data_dir: Path
    db: Database
    clock: Clock
    settings: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@runtime_checkable
class BindsToEnvironment(Protocol):
    """Optional: a sink that needs its environment before it can record events."""

    def bind(self, context: SinkContext) -> BillingSink:
        """Return the sink to use in ``context.environment`` (may be ``self``).

        Raise :class:`~wattbridge.errors.ConfigurationError` when the sink's
        settings are unusable; the message is shown to the operator.
        """
        ...
