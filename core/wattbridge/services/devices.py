"""Devices: linking, listing, reading (with the live cache and fallback), disconnecting.

Nothing here knows which environment it serves. What differs between sandbox
and live comes from the environment's providers:

- a provider implementing :class:`~wattbridge.drivers.devices.SimulatesDevices`
  can invent devices (``POST /v1/sandbox/devices``), answer reads at any instant
  (``?at=``) and honour the ``sandbox`` control object on actions; where no
  provider simulates, those answer ``400 SANDBOX_ONLY``;
- a reading with ``source="live"`` (fresh from an OEM) is remembered and served
  from cache within the TTL; when the OEM then fails, the last known state is
  served as ``fallback`` with the provider's reason in ``sync.error``;
- a current read projects a device at the start of the current UTC second
  (:func:`projection_instant`): a device "reports" once a second, so reads
  within one second agree. For a provider that reads without I/O (a pure
  function of the device, the instant and the actions) a read leaves a
  :class:`CachedRead` behind, per thread: its answer is given again within its
  second, and its device and actions serve later seconds, until a device or an
  action of the environment changes or the next action starts.

A provider failure that a request cannot work around (e.g. capabilities that
cannot be determined) becomes an API error through
:func:`wattbridge.services.provider_failures.api_error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from wattbridge.clock import isoformat
from wattbridge.drivers.devices import (
    Capabilities,
    DeviceProvider,
    DeviceType,
    DiscoveredDevice,
    NotCapable,
    ProviderError,
    SimulatesDevices,
    reads_without_io,
)
from wattbridge.errors import DeviceLimitReached, NotFound, SandboxOnly, ValidationFailed
from wattbridge.ids import new_id
from wattbridge.loopsafe import may_block
from wattbridge.models.devices import CreateSandboxDevice
from wattbridge.serialization import Encoded, encoded, structure
from wattbridge.services.action_records import device_ref, render_action
from wattbridge.services.actions import (
    MAX_PROJECTED_ACTIONS,
    PROJECTED_STATES,
    ActionService,
    refs,
)
from wattbridge.services.provider_failures import api_error, explain
from wattbridge.store.devices import DeviceRow, DeviceStore, ReadActions
from wattbridge.store.revision_cache import RevisionCache

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.store.control import PlanStore

READ_CACHE_SIZE = 16_384
"""Devices whose reads are remembered per thread (see :class:`CachedRead`): about
3.4 kB of memory each (measured), so some 56 MB when full; in practice only the
event loop's thread, which serves reads, fills it."""

CACHE_TTL = timedelta(minutes=15)
EXPEDITE_TTL = timedelta(minutes=1)
DEFAULT_SANDBOX_USER = "sandbox-user"


@attrs.frozen
class Reading:
    """A state as the API shows it: the values, where they came from, and when."""

    state: dict[str, Any] | None
    source: str
    available: bool
    pulled_at: datetime | None
    error: dict[str, str] | None = None


RenderedCapabilities = tuple[dict[str, Any] | Encoded, dict[str, Any] | Encoded]
"""A device's ``commands`` and ``settings`` objects, as the API shows them (or
encoded already, as a :class:`CachedRead` keeps them)."""


@attrs.define
class CachedRead:
    """What a current read of a device by a provider that reads without I/O
    leaves behind for the next one, valid while the devices and actions of the
    environment are unchanged (their generation).

    ``row`` and ``actions`` were read for the second ``since``; they answer
    every second from ``since`` until ``actions.next_start`` (an action that
    starts later would join the projection). ``capabilities`` come from the
    device alone. ``device`` is the answer for the second ``instant``, encoded,
    given again for every read within that second; a read in a later second
    replaces it (and ``instant``) in place, so that a steady stream of reads
    creates no objects the garbage collector must follow. The capabilities are
    kept encoded for the same reason: as dicts they were most of the objects a
    full collection had to visit (about 20 per device).
    """

    row: DeviceRow
    actions: ReadActions
    since: datetime
    capabilities: RenderedCapabilities
    instant: datetime
    device: Encoded

    def serves(self, instant: datetime) -> bool:
        """Whether ``row`` and ``actions`` answer a read of the second ``instant``."""
        until = self.actions.next_start
        return self.since <= instant and (until is None or instant < until)


class DeviceService:
    """The devices of one environment.

    ``plans`` limit how many devices a project may have connected at once: each
    project's :attr:`~wattbridge.store.control.Plan.device_limit`. The environment
    decides whether its devices are limited at all (live: yes; the sandbox passes
    None and is never limited, whatever a plan says).
    """

    def __init__(self, env: Environment, plans: PlanStore | None) -> None:
        self.env = env
        self.clock = env.clock
        self.plans = plans
        self.store = DeviceStore(env.db)
        self.actions = ActionService(env, self)
        # (project, device) → its last current read, for providers without I/O only.
        # Filed under the devices generation: scans, events and webhooks do not
        # make a device's remembered read stale; any device or action change does.
        self._reads: RevisionCache[tuple[str, str], CachedRead] = RevisionCache(
            self.store.revision, READ_CACHE_SIZE
        )

    # --- limits ----------------------------------------------------------------

    def device_limit(self, project_id: str) -> int | None:
        """The most devices the project may have connected here; None: no limit."""
        return None if self.plans is None else self.plans.get(project_id).device_limit

    def connected_count(self, project_id: str) -> int:
        """How many devices the project has connected here."""
        return self.store.count_connected(project_id)

    # --- providers ------------------------------------------------------------

    def simulators(self) -> list[tuple[str, SimulatesDevices]]:
        """The environment's providers that simulate devices."""
        return [(n, p) for n, p in self.env.providers.items() if isinstance(p, SimulatesDevices)]

    def require_simulation(self, feature: str) -> None:
        """Refuse a simulation-only feature where no provider simulates devices.

        :raises SandboxOnly: naming the feature and how to reach the sandbox.
        """
        if not self.simulators():
            raise SandboxOnly(
                f"{feature} is only available with simulated devices; "
                "use a sandbox key (sk_test_…)."
            )

    def provider_of(self, row: DeviceRow) -> DeviceProvider:
        """The provider serving a stored device."""
        provider = self.env.providers.get(row.provider)
        if provider is None:
            raise NotFound(
                f"Device {row.id!r} belongs to the provider {row.provider!r}, which this "
                "server no longer runs; ask the operator to install it."
            )
        return provider  # type: ignore[no-any-return]

    def simulates(self, row: DeviceRow) -> bool:
        """Whether the device's provider simulates it."""
        return isinstance(self.provider_of(row), SimulatesDevices)

    # --- records ----------------------------------------------------------------

    def require(self, project_id: str, device_id: str) -> DeviceRow:
        """A connected device of the project, or 404."""
        row = self.store.get(project_id, device_id)
        if row is None:
            raise NotFound(f"No device {device_id!r} in this project and environment.")
        return row

    def create_simulated(self, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Invent a device with a simulating provider (``POST /v1/sandbox/devices``)."""
        # Refused before the body is read: no body can make it work in live.
        self.require_simulation("POST /v1/sandbox/devices")
        request = structure(body, CreateSandboxDevice)
        device_id = new_id("dev")
        name, simulator = self._simulator_for(request.type, request.vendor)
        try:
            found = simulator.create_device(request.type, request.vendor, request.model, device_id)
        except ValueError as exc:
            path = "$.model" if request.model and "model" in str(exc) else "$.vendor"
            raise ValidationFailed.single(path, str(exc)) from None
        user_id = request.user_id or DEFAULT_SANDBOX_USER
        [row] = self.link_devices(project_id, user_id, name, [found], device_ids=[device_id])
        return self.render(row)

    def _simulator_for(
        self, device_type: DeviceType, vendor: str | None
    ) -> tuple[str, SimulatesDevices]:
        simulators = self.simulators()
        for name, sim in simulators:
            offered = [v for v in self.env.providers[name].vendors if device_type in v.device_types]
            if offered and (
                vendor is None or any(vendor.lower() in (v.id, v.name.lower()) for v in offered)
            ):
                return name, sim
        # No exact match: let the first simulator explain what it offers.
        return simulators[0]

    def link_devices(
        self,
        project_id: str,
        user_id: str,
        provider: str,
        discovered: Sequence[DiscoveredDevice],
        device_ids: Sequence[str] | None = None,
    ) -> list[DeviceRow]:
        """Store devices a provider found for ``user_id`` and fire ``device.connected``.

        A device the project already has (same provider and external id) is
        returned as it is, without a new event. Used by the Link UI and by
        ``POST /v1/sandbox/devices``.

        :raises DeviceLimitReached: the new devices would take the project past its
            plan's device limit; then none of them is linked.
        """
        now = self.clock.now()
        rows: list[DeviceRow] = []
        limit = self.device_limit(project_id)
        with self.env.db.transaction():
            # Looked up once per external id; a device inserted below is added, so a
            # repeated external id in ``discovered`` is returned rather than linked twice.
            linked = {
                d.external_id: self.store.find_linked(project_id, provider, d.external_id)
                for d in discovered
            }
            if limit is not None:
                # Counted inside the write transaction (BEGIN IMMEDIATE), so two
                # concurrent links cannot both take the last free slot.
                connected = self.store.count_connected(project_id)
                fresh = sum(1 for existing in linked.values() if existing is None)
                if connected + fresh > limit:
                    raise device_limit_reached(project_id, limit, connected, fresh)
            for index, found in enumerate(discovered):
                existing = linked[found.external_id]
                if existing is not None:
                    rows.append(existing)
                    continue
                row = DeviceRow(
                    id=device_ids[index] if device_ids else new_id("dev"),
                    project_id=project_id,
                    provider=provider,
                    external_id=found.external_id,
                    type=found.type,
                    vendor=found.vendor,
                    model=found.model,
                    user_id=user_id,
                    attributes=dict(found.attributes),
                    created_at=now,
                    disconnected_at=None,
                    last_state=None,
                    last_pulled_at=None,
                )
                self.store.insert(row)
                linked[found.external_id] = row
                self.env.event_service.record(project_id, "device.connected", summary(row))
                rows.append(row)
        return rows

    def list_devices(
        self,
        project_id: str,
        limit: int,
        offset: int,
        device_type: str | None = None,
        user_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the project's connected devices with their current state."""
        now = self.clock.now()
        # Each device comes with its actions: one query for the page, not one per device.
        page, total = self.store.list(
            project_id, limit, offset, device_type, user_id,
            (projection_instant(now), PROJECTED_STATES, MAX_PROJECTED_ACTIONS),
        )
        return [self.render(row, actions, now) for row, actions in page], total

    def read(
        self, project_id: str, device_id: str, at: datetime | None = None, expedite: bool = False
    ) -> dict[str, Any] | Encoded:
        """One device with its state now, or (simulated devices) at ``at``: the API's
        device object, already encoded when it is remembered (see :class:`CachedRead`)."""
        # One reading of the clock: the cache key, the actions fetched and the
        # projection all use the same second.
        now = self.clock.now()
        key = (project_id, device_id)
        if at is not None:
            self.require_simulation("Reading a device at another time (?at=)")
            instant = at
        else:
            instant = projection_instant(now)
            cached = self._reads.get(key)
            if cached is not None and cached.serves(instant):
                if cached.instant != instant:
                    # A new second: project again, from what the database still says.
                    cached.device = encoded(self._render(
                        cached.row, None, expedite, cached.actions, now, cached.capabilities
                    ))
                    cached.instant = instant
                return cached.device
        # The device and the actions the read needs come in one query (the hot path).
        found = self.store.get_for_read(
            project_id, device_id, instant, PROJECTED_STATES, MAX_PROJECTED_ACTIONS
        )
        if found is None:
            raise NotFound(f"No device {device_id!r} in this project and environment.")
        row, actions = found
        if at is not None and not self.simulates(row):
            raise SandboxOnly(
                f"Device {device_id!r} is real hardware; ?at= only works for simulated devices."
            )
        capabilities = self._capabilities_of(row)
        if at is not None or not reads_without_io(self.provider_of(row)):
            return self._render(row, at, expedite, actions, now, capabilities)
        # Remembered: the capabilities are encoded once, for this answer and later ones.
        commands, settings = capabilities
        kept = (encoded(commands), encoded(settings))
        answer = encoded(self._render(row, None, expedite, actions, now, kept))
        self._reads.put(key, CachedRead(row, actions, instant, kept, instant, answer))
        return answer

    def disconnect(self, project_id: str, device_id: str) -> dict[str, Any]:
        """Disconnect a device: its scheduled actions are cancelled, then it answers 404."""
        with self.env.db.transaction():
            row = self.require(project_id, device_id)
            self.actions.cancel_all_scheduled(row)
            now = self.clock.now()
            self.store.disconnect(project_id, device_id, now)
            data = {**summary(row), "disconnectedAt": isoformat(now)}
            self.env.event_service.record(project_id, "device.disconnected", data)
        return {**summary(row), "disconnected": True}

    def vendors(
        self, limit: int, offset: int, device_type: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The vendors of this environment's providers, optionally of one device type."""
        items = [
            {
                "id": vendor.id,
                "name": vendor.name,
                "deviceTypes": list(vendor.device_types),
                "authScheme": vendor.auth_scheme,
                "provider": name,
            }
            for name, provider in sorted(self.env.providers.items())
            for vendor in provider.vendors
            if device_type is None or device_type in vendor.device_types
        ]
        return items[offset : offset + limit], len(items)

    # --- state ---------------------------------------------------------------

    def capabilities(self, row: DeviceRow) -> Capabilities:
        """The device's capabilities from its provider.

        A provider that answers :class:`NotCapable` says the device can do
        nothing: presence-based, that is no commands and no settings.

        :raises WattbridgeError: the provider failed (see ``provider_failures``).
        """
        try:
            return self.provider_of(row).capabilities(device_ref(row))
        except NotCapable:
            return Capabilities()
        except ProviderError as exc:
            raise api_error(exc, row.id) from None

    def reading(
        self, row: DeviceRow, at: datetime | None, expedite: bool, actions: ReadActions,
        now: datetime,
    ) -> Reading:
        """The device's state by the cache rules (see the module docstring), ``now``
        being the time of the request."""
        ttl = EXPEDITE_TTL if expedite else CACHE_TTL
        pulled = row.last_pulled_at
        if at is None and row.last_state is not None and pulled and now - pulled < ttl:
            return Reading(row.last_state, "cache", True, pulled)
        provider = self.provider_of(row)
        if not reads_without_io(provider):
            may_block(f"reading device state from the {row.provider} provider")
        instant = at or projection_instant(now)
        try:
            result = provider.read_state(
                device_ref(row), instant, refs(actions.projected, instant, now)
            )
        except ProviderError as exc:
            return Reading(row.last_state, "fallback", False, row.last_pulled_at, explain(exc))
        state = dict(result.state)
        if result.source == "live":
            # The cache runs on the core's clock, from when the state was pulled;
            # the vendor's own timestamp (``observed_at``) may lag or use another clock.
            with self.env.db.transaction():
                self.store.remember_state(row.id, state, now)
            return Reading(state, "live", True, now)
        return Reading(state, result.source, True, result.observed_at)

    def render(
        self, row: DeviceRow, actions: ReadActions | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """The API's device object (SPEC §3) as of the second of ``now`` (default: the
        clock's); its ``actions`` for that second are fetched unless given."""
        now = now or self.clock.now()
        if actions is None:
            actions = self.actions.for_read(row.id, projection_instant(now))
        return self._render(row, None, False, actions, now, self._capabilities_of(row))

    def _capabilities_of(self, row: DeviceRow) -> RenderedCapabilities:
        caps = self.capabilities(row)
        commands = {
            name: {
                "parameters": {
                    p: {"unit": spec.unit, "min": spec.min, "max": spec.max}
                    for p, spec in command.parameters.items()
                },
                "execution": list(command.execution),
            }
            for name, command in caps.commands.items()
        }
        settings = {
            name: {"value": s.value, "unit": s.unit, "min": s.min, "max": s.max}
            for name, s in caps.settings.items()
        }
        return commands, settings

    def _render(
        self,
        row: DeviceRow,
        at: datetime | None,
        expedite: bool,
        actions: ReadActions,
        now: datetime,
        capabilities: RenderedCapabilities,
    ) -> dict[str, Any]:
        reading = self.reading(row, at, expedite, actions, now)
        latest = actions.latest
        commands, settings = capabilities
        return {
            **summary(row),
            "sync": {
                "available": reading.available,
                "lastPulledAt": None if reading.pulled_at is None else isoformat(reading.pulled_at),
                "error": reading.error,
            },
            "metadata": {"source": reading.source},
            "state": reading.state,
            "commands": commands,
            "settings": settings,
            "lastAction": None if latest is None else render_action(latest),
        }


def projection_instant(now: datetime) -> datetime:
    """The instant a current read projects: the start of ``now``'s second.

    Devices report once a second: every read within one second shows the same
    state (and ``sync.lastPulledAt``), so repeated reads agree and a projection
    can be reused for the rest of its second.
    """
    return now.replace(microsecond=0)


def device_limit_reached(
    project_id: str, limit: int, connected: int, fresh: int
) -> DeviceLimitReached:
    """The 403 of a link past the plan: the limit, the count, how to make room or raise it."""
    adding = "another device" if fresh == 1 else f"{fresh} more devices"
    return DeviceLimitReached(
        f"This project may have at most {limit} connected devices and has {connected}, "
        f"so it cannot link {adding}. Disconnect devices it no longer needs "
        "(DELETE /v1/devices/{id}), or ask an operator to raise the limit "
        f"(wattbridge projects set-plan {project_id} --device-limit N).",
        {"deviceLimit": limit, "devicesConnected": connected},
    )


def summary(row: DeviceRow) -> dict[str, Any]:
    """The identifying fields of a device (also the data of device.* events)."""
    return {
        "id": row.id,
        "type": row.type,
        "vendor": row.vendor,
        "model": row.model,
        "userId": row.user_id,
    }
