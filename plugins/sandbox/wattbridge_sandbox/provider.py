"""The ``sandbox`` device provider: simulated devices for the sandbox environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.devices import (
    DEVICE_TYPES,
    ActionRef,
    Capabilities,
    DeviceRef,
    DeviceType,
    DiscoveredDevice,
    ExecutionOutcome,
    InvalidCredentials,
    LinkCredentials,
    LinkResult,
    NotCapable,
    StateReading,
    Vendor,
)
from wattbridge_sandbox.capabilities import capabilities_of
from wattbridge_sandbox.catalogue import (
    CATALOGUE,
    Model,
    VendorEntry,
    find_model,
    find_vendor,
    vendors,
    vendors_for,
)
from wattbridge_sandbox.linking import MfaRequired, account_devices, account_of
from wattbridge_sandbox.profiles import SIM_VERSION, Profile, build_attributes, profile_for
from wattbridge_sandbox.seeding import draws, hex_id, pick
from wattbridge_sandbox.simulation import project_state

EXECUTION_LATENCY = timedelta(seconds=2)


class SandboxProvider:
    """Simulated vehicles, batteries, solar inverters and EV chargers.

    Implements :class:`~wattbridge.drivers.devices.DeviceProvider` and
    :class:`~wattbridge.drivers.devices.SimulatesDevices`. Stateless: a device's
    individuality lives in its ``attributes``, its state is computed from them,
    the instant and its actions.
    """

    name = "sandbox"
    environments: frozenset[EnvironmentName] = frozenset({"sandbox"})
    reads_without_io = True
    """``read_state`` is pure computation: the core may call it on the event loop."""

    def __init__(self) -> None:
        self.vendors: Sequence[Vendor] = vendors()

    def link(self, credentials: LinkCredentials) -> LinkResult:
        """Apply the mock credentials and return the account's devices (or ask for MFA).

        :raises InvalidCredentials: refused credentials or an unknown vendor.
        """
        entry = find_vendor(credentials.vendor)
        if entry is None:
            raise InvalidCredentials(f"Unknown vendor {credentials.vendor!r}.")
        try:
            account = account_of(entry, credentials)
        except MfaRequired as ask:
            return LinkResult(mfa_required=True, mfa_prompt=str(ask))
        found = account_devices(entry, account, credentials.device_type)
        return LinkResult(
            devices=[
                self._invent(entry, kind, None, seed, external_id)
                for external_id, kind, seed in found
            ]
        )

    def create_device(
        self, device_type: DeviceType, vendor: str | None, model: str | None, seed: str
    ) -> DiscoveredDevice:
        """Invent a device of ``device_type``; vendor and model are chosen from ``seed`` if omitted.

        :raises ValueError: unknown type, vendor or model (the message lists valid ones).
        """
        if device_type not in DEVICE_TYPES:
            raise ValueError(
                f"Unknown device type {device_type!r}; use one of {', '.join(DEVICE_TYPES)}."
            )
        offered = vendors_for(device_type)
        if vendor is None:
            entry = pick(offered, draws("vendor", seed)[0])
        else:
            found = find_vendor(vendor)
            if found is None or found not in offered:
                names = ", ".join(f"{e.vendor.id} ({e.vendor.name})" for e in offered)
                problem = (
                    f"Unknown {device_type} vendor {vendor!r}"
                    if found is None
                    else f"{found.vendor.name} makes no {device_type} "
                    f"(only {', '.join(found.vendor.device_types)})"
                )
                raise ValueError(f"{problem}; the sandbox offers: {names}.")
            entry = found
        return self._invent(
            entry, device_type, model, seed, f"sbx_{hex_id('create', seed, length=16)}"
        )

    def _invent(
        self,
        entry: VendorEntry,
        device_type: DeviceType,
        model: str | None,
        seed: str,
        external_id: str,
    ) -> DiscoveredDevice:
        models = entry.models_of(device_type)
        if model is None:
            chosen = pick(models, draws("model", seed)[0])
        else:
            found = find_model(entry, device_type, model)
            if found is None:
                names = ", ".join(m.name for m in models)
                raise ValueError(
                    f"Unknown {entry.vendor.name} {device_type} model {model!r}; "
                    f"choose one of: {names}."
                )
            chosen = found
        return DiscoveredDevice(
            external_id=external_id,
            type=device_type,
            vendor=entry.vendor.id,
            model=chosen.name,
            attributes=build_attributes(device_type, chosen, seed),
        )

    def capabilities(self, device: DeviceRef) -> Capabilities:
        """The commands and settings of ``device``'s vendor and model."""
        entry, model = self._catalogue_of(device)
        return capabilities_of(entry, model, self._profile(device))

    def read_state(
        self, device: DeviceRef, at: datetime, actions: Sequence[ActionRef]
    ) -> StateReading:
        """The simulated state at ``at`` under the device's accepted actions."""
        state = project_state(self._profile(device), at, actions)
        return StateReading(state=state, source="projection", observed_at=at)

    def execute(self, device: DeviceRef, action: ActionRef) -> ExecutionOutcome:
        """Accept the action (the core applies any per-request ``sandbox`` override).

        :raises NotCapable: the device's model does not offer the command.
        """
        if action.command not in self.capabilities(device).commands:
            raise NotCapable(f"{device.model} does not support the command {action.command!r}.")
        return ExecutionOutcome(status="completed", latency=EXECUTION_LATENCY)

    def diagnostics(self) -> Mapping[str, Any]:
        """What the simulator offers; there are no secrets to redact."""
        return {
            "provider": self.name,
            "simulationVersion": SIM_VERSION,
            "vendors": [
                {
                    "id": e.vendor.id,
                    "name": e.vendor.name,
                    "authScheme": e.vendor.auth_scheme,
                    "deviceTypes": list(e.vendor.device_types),
                    "models": [m.name for m in e.models],
                    "commands": sorted(e.commands),
                }
                for e in CATALOGUE
            ],
        }

    def _catalogue_of(self, device: DeviceRef) -> tuple[VendorEntry, Model]:
        entry = find_vendor(device.vendor)
        model = None if entry is None else find_model(entry, device.type, device.model)
        if entry is None or model is None:
            raise NotCapable(f"{device.vendor} {device.model} is not a sandbox device.")
        return entry, model

    def _profile(self, device: DeviceRef) -> Profile:
        if "seed" in device.attributes:
            return profile_for(device)
        # A device stored without attributes (e.g. from an older release):
        # rebuild them from its external id, which is stable.
        _, model = self._catalogue_of(device)
        attributes = build_attributes(device.type, model, device.external_id)
        return profile_for(
            DeviceRef(
                device.id, device.type, device.vendor, device.model, device.external_id, attributes
            )
        )
