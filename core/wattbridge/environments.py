"""An environment is an object, not a flag: its own database, drivers and settings.

Resolving an API key yields an :class:`Environment`; code below it never asks
"are we in sandbox?". It asks its environment's solver to solve and its
providers to read, and the sandbox's behaviour lives in the sandbox plugins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wattbridge.clock import Clock
from wattbridge.config import EnvironmentConfig
from wattbridge.drivers.base import EnvironmentName
from wattbridge.errors import PluginSelectionError
from wattbridge.plugins import PluginSet, RegisteredDriver
from wattbridge.services.devices import DeviceService
from wattbridge.services.events import EventService
from wattbridge.store.control import PlanStore
from wattbridge.store.events import EventStore
from wattbridge.store.idempotency import IdempotencyStore
from wattbridge.store.loop_batch import LoopBatch
from wattbridge.store.schema import ENVIRONMENT_MIGRATIONS
from wattbridge.store.sqlite import Database


class Environment:
    """Sandbox or live: a database file, the drivers selected for it, its settings."""

    def __init__(
        self,
        name: EnvironmentName,
        data_dir: Path,
        config: EnvironmentConfig,
        plugins: PluginSet,
        clock: Clock,
        plans: PlanStore,
    ) -> None:
        self.name: EnvironmentName = name
        self.config = config
        self.clock = clock
        self.db = Database(data_dir / f"{name}.db")
        self.loop_batch = LoopBatch(self.db)
        """Write requests of this environment run on the event loop, committed in groups."""
        self.data_dir = data_dir
        # Projects' plans live in the platform's control database; the live scan
        # meter reads them while it admits a scan.
        self.plans = plans
        self._missing: dict[str, str] = {}
        self.providers = {
            d.name: d.driver for d in plugins.select("provider", config.providers, name)
        }
        self._solver = self._single(plugins, "solver", config.solver)
        self._transport = self._single(plugins, "transport", config.transport)
        self.billing_sinks = [
            d.driver for d in self._optional(plugins, "billing_sink", config.billing_sinks)
        ]
        utils = self.db.utils()
        for migration_set in ENVIRONMENT_MIGRATIONS:
            migration_set.apply(utils)
        plugins.call_prepare_storage(utils, name)
        self.events = EventStore(self.db)
        self.idempotency = IdempotencyStore(self.db)
        self.event_service = EventService(self.events, name, clock, config.webhook_delay)
        # The contract: live projects may connect as many devices as their plan
        # allows; the sandbox has no device limit, whatever a plan says.
        self.devices = DeviceService(self, plans if name == "live" else None)

    def _single(self, plugins: PluginSet, kind: str, name: str) -> RegisteredDriver | None:
        chosen = self._optional(plugins, kind, (name,))
        return chosen[0] if chosen else None

    def _optional(
        self, plugins: PluginSet, kind: str, names: tuple[str, ...]
    ) -> list[RegisteredDriver]:
        # A driver that is not installed at all is reported when first used, so
        # that a platform without (say) a live solver can still serve devices;
        # a driver that exists but does not declare this environment is refused
        # here, at startup (fail closed).
        present = tuple(n for n in names if n in plugins.drivers[kind])
        for n in names:
            if n not in present:
                self._missing[kind] = n
        return plugins.select(kind, present, self.name)

    def _require(self, driver: RegisteredDriver | None, kind: str) -> Any:
        if driver is None:
            name = self._missing.get(kind, "?")
            raise PluginSelectionError(
                f"the {self.name} environment is configured to use {kind} {name!r}, "
                "which no installed plugin provides"
            )
        return driver.driver

    @property
    def solver(self) -> Any:
        """The scan solver selected for this environment."""
        return self._require(self._solver, "solver")

    @property
    def transport(self) -> Any:
        """The webhook transport selected for this environment."""
        return self._require(self._transport, "transport")

    def close(self) -> None:
        """Close the database."""
        self.db.close()
