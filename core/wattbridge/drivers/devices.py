"""The device-provider contract: what an OEM adapter or a simulator implements.

A provider serves one or more vendors of one or more device types. The core owns
device records, actions, their lifecycle and events; a provider only maps them
onto hardware (or a simulation):

- :meth:`DeviceProvider.link` turns end-user credentials into devices;
- :meth:`DeviceProvider.capabilities` says which commands and settings exist;
- :meth:`DeviceProvider.read_state` returns the device's state at an instant;
- :meth:`DeviceProvider.execute` sends one action to the device.

Nothing here is sandbox-specific. A live adapter raises the
:class:`ProviderError` subclasses to classify failures; the core retries,
falls back to the last known state, or asks for a re-link accordingly:

- from ``read_state``: any of them serves the last known state as
  ``fallback`` with the error's code and message in ``sync.error``;
- from ``execute``: :class:`TransientError` and :class:`ProviderRateLimited`
  are retried with backoff (never before ``retry_after``), then fail the
  action; the others fail it at once with their ``code``;
- from ``capabilities``: :class:`NotCapable` means no commands and no
  settings; the others become API errors (503, 429, 409, 502; see
  ``wattbridge.services.provider_failures``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from wattbridge.drivers.base import EnvironmentName

DeviceType = Literal["vehicle", "battery", "solar_inverter", "ev_charger"]
DEVICE_TYPES: tuple[DeviceType, ...] = ("vehicle", "battery", "solar_inverter", "ev_charger")

AuthScheme = Literal["password", "api_key", "local_host"]
"""How the Link UI asks for credentials: username + password, an API key, or a
host name / IP address for a local protocol."""

ExecutionShape = Literal["immediate", "scheduled", "windowed"]


@attrs.frozen
class Vendor:
    """A brand a provider can link, shown in the Link UI and ``GET /v1/vendors``."""

    id: str
    name: str
    device_types: tuple[DeviceType, ...]
    auth_scheme: AuthScheme


@attrs.frozen
class ParameterSpec:
    """A numeric command parameter: its unit and inclusive bounds."""

    unit: str
    min: float
    max: float


@attrs.frozen
class CommandSpec:
    """A command the device supports, its parameters and accepted execution shapes."""

    parameters: Mapping[str, ParameterSpec] = attrs.field(factory=dict)
    execution: tuple[ExecutionShape, ...] = ("immediate", "scheduled", "windowed")


@attrs.frozen
class SettingSpec:
    """A writable setting with its current value."""

    value: float
    unit: str
    min: float
    max: float


@attrs.frozen
class Capabilities:
    """Presence-based capabilities: what is listed exists, what is absent does not."""

    commands: Mapping[str, CommandSpec] = attrs.field(factory=dict)
    settings: Mapping[str, SettingSpec] = attrs.field(factory=dict)


@attrs.frozen
class DiscoveredDevice:
    """A device a provider found while linking (or created, for a simulator).

    ``attributes`` is the provider's own JSON-serialisable data about the device
    (hardware ids, latitude, seed …); the core stores it and hands it back in
    :class:`DeviceRef`, never interprets it.
    """

    external_id: str
    type: DeviceType
    vendor: str
    model: str
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class DeviceRef:
    """What the core tells a provider about one of its devices."""

    id: str
    type: DeviceType
    vendor: str
    model: str
    external_id: str
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Quantity:
    """A number with its unit, as every numeric command parameter is sent."""

    value: float
    unit: str


@attrs.frozen
class ActionRef:
    """An action as a provider sees it.

    ``start`` is when it takes effect; ``end`` is when its effect stops (None:
    until the command's goal is reached or another action replaces it).
    ``state`` is the core's lifecycle state; a simulator uses the actions of a
    device to project its state, an OEM adapter only needs the one it executes.
    """

    id: str
    command: str
    parameters: Mapping[str, Quantity]
    start: datetime
    end: datetime | None
    state: str
    created_at: datetime


@attrs.frozen
class StateReading:
    """A device's state (type-specific camelCase fields) and where it came from.

    ``source`` is ``"projection"`` for simulated state and ``"live"`` for data
    just fetched from the OEM; the core adds ``cache`` and ``fallback`` itself.
    """

    state: Mapping[str, Any]
    source: Literal["projection", "live"]
    observed_at: datetime


@attrs.frozen
class ExecutionOutcome:
    """What happened when a provider executed an action.

    ``latency`` is how long after the action's start the outcome is final: the
    core records completion (or failure) then. ``error_code`` is a stable code
    such as ``DEVICE_OFFLINE`` when ``status`` is ``failed``.
    """

    status: Literal["completed", "failed"]
    latency: timedelta = timedelta(0)
    error_code: str | None = None
    error_message: str | None = None


@attrs.frozen
class LinkCredentials:
    """What the end user typed into the Link UI, per the vendor's auth scheme."""

    vendor: str
    device_type: DeviceType | None
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    host: str | None = None
    mfa_code: str | None = None


@attrs.frozen
class LinkResult:
    """The outcome of a link attempt: devices, or a request for an MFA code."""

    devices: Sequence[DiscoveredDevice] = ()
    mfa_required: bool = False
    mfa_prompt: str | None = None


class ProviderError(Exception):
    """Base class of classified provider failures; ``message`` is safe to show."""

    code = "PROVIDER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(ProviderError):
    """The OEM failed in a way worth retrying (timeout, 5xx); use last known state."""

    code = "PROVIDER_UNAVAILABLE"


class AuthFailed(ProviderError):
    """The stored credentials no longer work; the end user must re-link."""

    code = "PROVIDER_AUTH_FAILED"


class InvalidCredentials(ProviderError):
    """Credentials given while linking were refused."""

    code = "INVALID_CREDENTIALS"


class ProviderRateLimited(ProviderError):
    """The OEM throttled us; try again after ``retry_after`` seconds."""

    code = "PROVIDER_RATE_LIMITED"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotCapable(ProviderError):
    """The device cannot do what was asked, although its model usually can."""

    code = "NOT_CAPABLE"


class PermanentError(ProviderError):
    """A failure retrying will not fix."""

    code = "PROVIDER_PERMANENT_ERROR"


@runtime_checkable
class DeviceProvider(Protocol):
    """An OEM adapter or a simulator, registered by ``register_device_providers``."""

    name: str
    environments: frozenset[EnvironmentName]
    vendors: Sequence[Vendor]

    def link(self, credentials: LinkCredentials) -> LinkResult:
        """Check credentials and return the account's devices (or ask for MFA).

        :raises InvalidCredentials: the credentials were refused.
        """
        ...

    def capabilities(self, device: DeviceRef) -> Capabilities:
        """Return exactly the commands and settings this device supports.

        Called on reads and pushes, possibly on the server's event loop (for a
        provider that reads without I/O, once per device until its stored data
        changes: see :func:`reads_without_io`): answer from what is known about
        the device (its model, its ``attributes``), without calling the vendor,
        reading files or waiting on a lock.
        """
        ...

    def read_state(
        self, device: DeviceRef, at: datetime, actions: Sequence[ActionRef]
    ) -> StateReading:
        """Return the device's state at ``at`` (a live adapter reads it now).

        ``actions`` are the device's recent and scheduled actions, newest last;
        providers that read real hardware may ignore them.

        :raises ProviderError: classified; the core serves the last known state.
        """
        ...

    def execute(self, device: DeviceRef, action: ActionRef) -> ExecutionOutcome:
        """Send ``action`` to the device and report the outcome.

        :raises ProviderError: classified; transient ones and rate limits are retried.
        """
        ...

    def diagnostics(self) -> Mapping[str, Any]:
        """Return support data about the provider with every secret redacted."""
        ...


def reads_without_io(provider: object) -> bool:
    """Whether a provider declared ``reads_without_io = True``.

    Optional, for simulators: such a provider promises that ``read_state``
    computes from its arguments alone (no network, no disk, no lock) and
    ``capabilities`` from the device alone, so the core may call them on the
    event loop, reuse a current read's answer for the rest of its second, and
    reuse the device's capabilities while its stored data is unchanged. A
    provider that says nothing is called from a worker thread, and never
    reused, as any adapter that talks to hardware must be.
    """
    return getattr(provider, "reads_without_io", False) is True


@runtime_checkable
class SimulatesDevices(Protocol):
    """Optional: a provider that can create devices without any end-user account.

    ``POST /v1/sandbox/devices`` is served by providers with this capability.
    """

    def create_device(
        self, device_type: DeviceType, vendor: str | None, model: str | None, seed: str
    ) -> DiscoveredDevice:
        """Invent a device; ``seed`` (unique per device) makes it differ from others."""
        ...
