"""Shared fixtures: a provider and fleets of simulated devices made through it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wattbridge.drivers.devices import ActionRef, DeviceRef, DeviceType
from wattbridge_sandbox import SandboxProvider

FLEET_SIZE = 50
YEAR = 2026


@pytest.fixture(scope="session")
def provider() -> SandboxProvider:
    return SandboxProvider()


def as_ref(provider: SandboxProvider, device_type: DeviceType, seed: str, **kw: Any) -> DeviceRef:
    found = provider.create_device(device_type, kw.get("vendor"), kw.get("model"), seed)
    return DeviceRef(
        id=f"dev_{seed}",
        type=found.type,
        vendor=found.vendor,
        model=found.model,
        external_id=found.external_id,
        attributes=found.attributes,
    )


@pytest.fixture(scope="session")
def fleet(provider: SandboxProvider) -> Callable[[DeviceType], list[DeviceRef]]:
    cache: dict[str, list[DeviceRef]] = {}

    def make(device_type: DeviceType) -> list[DeviceRef]:
        if device_type not in cache:
            cache[device_type] = [
                as_ref(provider, device_type, f"{device_type}-{i}") for i in range(FLEET_SIZE)
            ]
        return cache[device_type]

    return make


@pytest.fixture(scope="session")
def read(provider: SandboxProvider) -> Callable[..., dict[str, Any]]:
    def state(device: DeviceRef, at: datetime, actions: Sequence[ActionRef] = ()) -> dict[str, Any]:
        return dict(provider.read_state(device, at, actions).state)

    return state


def sample_days() -> list[datetime]:
    """The 15th of every month (and the solstices) of one year, at midnight UTC."""
    days = [datetime(YEAR, month, 15, tzinfo=UTC) for month in range(1, 13)]
    return [*days, datetime(YEAR, 6, 21, tzinfo=UTC), datetime(YEAR, 12, 21, tzinfo=UTC)]


def instants(
    day: datetime, step_minutes: int, start_hour: float = 0, hours: float = 24
) -> Iterator[datetime]:
    """Instants from ``start_hour`` of ``day`` every ``step_minutes`` for ``hours``."""
    first = day + timedelta(hours=start_hour)
    for k in range(int(hours * 60 / step_minutes)):
        yield first + timedelta(minutes=k * step_minutes)


def action(
    command: str, start: datetime, end: datetime | None, state: str = "completed", **params: Any
) -> ActionRef:
    """An action as the core would hand it over (parameters as quantities)."""
    from wattbridge.drivers.devices import Quantity

    units = {"target": "percent", "reserve": "percent", "power": "kw"}
    return ActionRef(
        id=f"act_{command}_{start:%H%M}",
        command=command,
        parameters={k: Quantity(v, units[k]) for k, v in params.items()},
        start=start,
        end=end,
        state=state,
        created_at=start - timedelta(minutes=1),
    )


class Helpers:
    """The helpers above, handed to tests as the ``h`` fixture (test modules do not import)."""

    sample_days = staticmethod(sample_days)
    instants = staticmethod(instants)
    action = staticmethod(action)
    as_ref = staticmethod(as_ref)


@pytest.fixture(scope="session")
def h() -> type[Helpers]:
    return Helpers
