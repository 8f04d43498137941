"""The device-provider hook as a third-party OEM adapter uses it, through a real server.

``AcmeProvider`` is written the way an adapter package would write it: it imports
only the driver contract (``wattbridge.drivers.devices``), serves ``live`` alone,
implements nothing sandbox-specific, and reports its vendor's failures with the
classified ``ProviderError`` subclasses. The tests check what the core makes of
each failure: the reads' cache and fallback, the API errors, and the action states.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.device_support import client, document, read, srv  # noqa: F401  (fixtures)
from tests.openapi_check import validate
from tests.support import Api, ServerThread, data, error, make_config
from wattbridge import hookimpl
from wattbridge.clock import FrozenClock, isoformat
from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.devices import (
    ActionRef,
    AuthFailed,
    Capabilities,
    CommandSpec,
    DeviceProvider,
    DeviceRef,
    DiscoveredDevice,
    ExecutionOutcome,
    InvalidCredentials,
    LinkCredentials,
    LinkResult,
    NotCapable,
    ParameterSpec,
    PermanentError,
    ProviderError,
    ProviderRateLimited,
    SimulatesDevices,
    StateReading,
    TransientError,
    Vendor,
)
from wattbridge.platform import Platform
from wattbridge.services.action_lifecycle import MAX_ATTEMPTS, RETRY_BACKOFF, ActionWorker

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CAR_STATE = {"batteryLevel": 64.0, "range": 310, "plugged": True, "charging": False,
             "fullyCharged": False, "batteryCapacity": 75.0, "chargeLimit": 90,
             "chargeRate": 0.0}


class AcmeCloud:
    """Stands in for the vendor's HTTP API: scripted answers and failures."""

    def __init__(self) -> None:
        self.state = dict(CAR_STATE)
        self.reads = 0
        self.read_error: ProviderError | None = None
        self.capabilities_error: ProviderError | None = None
        self.execute_results: list[ProviderError | Exception | ExecutionOutcome] = []
        self.commands: list[str] = []
        self.read_on_event_loop: list[bool] = []


class AcmeProvider:
    """A live OEM adapter for Acme Motors cars."""

    name = "acme"
    environments: frozenset[EnvironmentName] = frozenset({"live"})
    vendors: Sequence[Vendor] = (Vendor("acme", "Acme Motors", ("vehicle",), "password"),)

    def __init__(self, cloud: AcmeCloud) -> None:
        self.cloud = cloud

    def link(self, credentials: LinkCredentials) -> LinkResult:
        """One car per account; the password must be right."""
        if credentials.password != "correct horse":
            raise InvalidCredentials("Acme refused the username or password.")
        vin = f"VIN-{credentials.username}"
        return LinkResult(devices=[DiscoveredDevice(vin, "vehicle", "acme", "Acme One",
                                                    {"vin": vin})])

    def capabilities(self, device: DeviceRef) -> Capabilities:
        """Acme cars can charge to a target, now."""
        if self.cloud.capabilities_error is not None:
            raise self.cloud.capabilities_error
        target = ParameterSpec("percent", 50, 100)
        return Capabilities(commands={"charge": CommandSpec({"target": target}, ("immediate",))})

    def read_state(
        self, device: DeviceRef, at: datetime, actions: Sequence[ActionRef]
    ) -> StateReading:
        """Ask the cloud now (``at`` and ``actions`` are a simulator's business)."""
        self.cloud.reads += 1
        self.cloud.read_on_event_loop.append(on_event_loop())
        if self.cloud.read_error is not None:
            raise self.cloud.read_error
        return StateReading(dict(self.cloud.state), "live", datetime(2020, 1, 1, tzinfo=UTC))

    def execute(self, device: DeviceRef, action: ActionRef) -> ExecutionOutcome:
        """Send the command; the cloud's next scripted result decides."""
        result = self.cloud.execute_results.pop(0) if self.cloud.execute_results else None
        if isinstance(result, Exception):
            raise result
        self.cloud.commands.append(action.command)
        return result or ExecutionOutcome("completed")

    def diagnostics(self) -> Mapping[str, Any]:
        """Nothing secret: the token is redacted."""
        return {"provider": self.name, "token": "***"}


class AcmePlugin:
    """The adapter's plugin module, as its entry point would expose it."""

    def __init__(self, provider: AcmeProvider) -> None:
        self.provider = provider

    @hookimpl
    def register_device_providers(self, register: Callable[[DeviceProvider], None]) -> None:
        """Offer the Acme adapter."""
        register(self.provider)


@pytest.fixture
def cloud() -> AcmeCloud:
    return AcmeCloud()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def plat(tmp_path: Path, clock: FrozenClock, cloud: AcmeCloud) -> Iterator[Platform]:
    plugin = AcmePlugin(AcmeProvider(cloud))
    platform = Platform(config=make_config(tmp_path / "data"), clock=clock,
                        extra_plugins=[("acme", plugin)])
    platform.access.create_project("acme-app", live_enabled=True)
    yield platform
    platform.close()


@pytest.fixture
def live(plat: Platform, srv: ServerThread) -> Iterator[Api]:
    api = client(plat, srv, "acme-app", "live")
    yield api
    api.close()


@pytest.fixture
def car(plat: Platform) -> str:
    """A car linked the way the Link UI links one: credentials → provider → core."""
    env = plat.environment("live")
    provider = env.providers["acme"]
    found = provider.link(LinkCredentials("acme", "vehicle", "ada", "correct horse"))
    [row] = env.devices.link_devices(plat.access.project("acme-app").id, "ada", "acme",
                                     found.devices)
    return row.id


def test_a_live_adapter_needs_nothing_sandbox_specific(plat: Platform, live: Api) -> None:
    provider = plat.environment("live").providers["acme"]
    assert isinstance(provider, DeviceProvider) and not isinstance(provider, SimulatesDevices)
    assert "acme" not in plat.environment("sandbox").providers  # it declared live only
    with pytest.raises(InvalidCredentials):
        provider.link(LinkCredentials("acme", None, "ada", "wrong"))
    vendors = data(live.get("/v1/vendors"), 200)["items"]
    assert vendors == [{"id": "acme", "name": "Acme Motors", "deviceTypes": ["vehicle"],
                        "authScheme": "password", "provider": "acme"}]


def on_event_loop() -> bool:
    """Whether the caller runs on a thread with a running asyncio loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_a_provider_that_does_io_is_never_called_on_the_event_loop(
    live: Api, car: str, cloud: AcmeCloud, clock: FrozenClock, srv: ServerThread
) -> None:
    # A read starts on the loop (GET routes try it first), meets the provider
    # call, and moves the whole request to a worker thread.
    fallbacks = srv.app.state.executor.loop_fallbacks
    assert read(live, car)["metadata"]["source"] == "live"
    assert cloud.read_on_event_loop == [False]
    assert fallbacks["/v1/devices/{id}"] == 1
    # A cached read needs no provider: it is answered on the loop.
    clock.advance(timedelta(minutes=2))
    assert read(live, car)["metadata"]["source"] == "cache"
    assert fallbacks["/v1/devices/{id}"] == 1 and cloud.read_on_event_loop == [False]


def test_reads_are_cached_and_fall_back_with_the_reason(
    live: Api, car: str, cloud: AcmeCloud, clock: FrozenClock, document: dict[str, Any]
) -> None:
    response = live.get(f"/v1/devices/{car}")
    validate(document, "GET", "/v1/devices/{id}", 200, response.json())
    first = data(response, 200)
    assert first["metadata"] == {"source": "live"} and first["state"] == CAR_STATE
    # lastPulledAt is the core's clock, whatever timestamp the vendor sent.
    assert first["sync"] == {"available": True, "lastPulledAt": isoformat(START), "error": None}
    assert set(first["commands"]) == {"charge"} and cloud.reads == 1

    clock.advance(timedelta(minutes=2))
    assert read(live, car)["metadata"]["source"] == "cache" and cloud.reads == 1
    cloud.state["batteryLevel"] = 66.0
    fresh = read(live, car, expedite="true")  # cached state is over a minute old
    assert fresh["metadata"]["source"] == "live" and fresh["state"]["batteryLevel"] == 66.0
    assert read(live, car, expedite="true")["metadata"]["source"] == "cache"

    pulled = isoformat(START + timedelta(minutes=2))
    for failure, code, hint in (
        (TransientError("Acme timed out"), "PROVIDER_UNAVAILABLE", "usually temporary"),
        (AuthFailed("The refresh token was revoked"), "PROVIDER_AUTH_FAILED", "link the device"),
        (ProviderRateLimited("Slow down", retry_after=60), "PROVIDER_RATE_LIMITED", "throttling"),
        (PermanentError("Car was scrapped"), "PROVIDER_PERMANENT_ERROR", "scrapped"),
        (NotCapable("No telemetry on this trim"), "NOT_CAPABLE", "telemetry"),
    ):
        clock.advance(timedelta(minutes=16))
        cloud.read_error = failure
        response = live.get(f"/v1/devices/{car}")
        validate(document, "GET", "/v1/devices/{id}", 200, response.json())
        fallback = data(response, 200)
        assert fallback["metadata"] == {"source": "fallback"}
        assert fallback["state"]["batteryLevel"] == 66.0  # the last known state
        assert fallback["sync"]["available"] is False
        assert fallback["sync"]["lastPulledAt"] == pulled
        assert fallback["sync"]["error"]["code"] == code
        assert hint in fallback["sync"]["error"]["message"]
    cloud.read_error = None
    assert read(live, car)["sync"]["error"] is None


def test_a_device_never_read_falls_back_to_no_state(live: Api, car: str, cloud: AcmeCloud) -> None:
    cloud.read_error = TransientError("Acme timed out")
    device = read(live, car)
    assert device["state"] is None and device["metadata"]["source"] == "fallback"
    assert device["sync"]["lastPulledAt"] is None


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (TransientError("Acme is down"), 503, "PROVIDER_UNAVAILABLE"),
        (ProviderRateLimited("Too many requests", retry_after=41.5), 429, "RATE_LIMITED"),
        (AuthFailed("Token revoked"), 409, "PROVIDER_AUTH_FAILED"),
        (PermanentError("Account closed"), 502, "PROVIDER_ERROR"),
    ],
)
def test_capability_failures_become_api_errors(
    plat: Platform, live: Api, car: str, cloud: AcmeCloud, document: dict[str, Any],
    failure: ProviderError, status: int, code: str,
) -> None:
    cloud.capabilities_error = failure
    for method, path, template, body in (
        ("GET", f"/v1/devices/{car}", "/v1/devices/{id}", None),
        ("POST", f"/v1/devices/{car}/actions", "/v1/devices/{id}/actions", {"command": "charge"}),
        ("GET", "/v1/devices", "/v1/devices", None),
    ):
        response = live.request(method, path, json=body)
        found = error(response, status, code)
        validate(document, method, template, status, found)
        assert failure.message in found["message"] and car in found["message"]
    retry_after = {"PROVIDER_UNAVAILABLE": "30", "RATE_LIMITED": "42"}.get(code)
    assert response.headers.get("retry-after") == retry_after
    assert plat.environment("live").db.query("SELECT id FROM actions") == []
    assert cloud.commands == []


def test_a_device_not_capable_of_anything_lists_no_commands(
    live: Api, car: str, cloud: AcmeCloud
) -> None:
    cloud.capabilities_error = NotCapable("This trim cannot be controlled remotely")
    device = read(live, car)
    assert device["commands"] == {} and device["settings"] == {}
    refused = error(live.post(f"/v1/devices/{car}/actions", json={"command": "charge"}), 422,
                    "UNSUPPORTED_MODE")
    assert "accepts no commands" in refused["message"]


def test_sandbox_only_features_are_refused_for_real_hardware(live: Api, car: str) -> None:
    body = error(live.get(f"/v1/devices/{car}", params={"at": "2026-06-01T07:30:00Z"}), 400,
                 "SANDBOX_ONLY")
    assert "sandbox key" in body["message"]
    error(live.post(f"/v1/devices/{car}/actions",
                    json={"command": "charge", "sandbox": {"outcome": "failed"}}),
          400, "SANDBOX_ONLY")
    error(live.post("/v1/sandbox/devices", json={"type": "vehicle"}), 400, "SANDBOX_ONLY")
    assert data(live.get(f"/v1/devices/{car}/actions"), 200)["items"] == []


def push(live: Api, car: str) -> dict[str, Any]:
    return dict(data(live.post(f"/v1/devices/{car}/actions",
                               json={"command": "charge",
                                     "parameters": {"target": {"value": 80, "unit": "percent"}}}),
                     202))


def get_action(live: Api, action: dict[str, Any]) -> dict[str, Any]:
    return dict(data(live.get(f"/v1/actions/{action['id']}"), 200))


def failed_events(live: Api) -> dict[str, str]:
    items = data(live.get("/v1/events", params={"type": "action.failed", "limit": 100}), 200)
    return {e["data"]["id"]: e["data"]["error"]["code"] for e in items["items"]}


def test_execute_outcomes_and_failures_map_to_action_states(
    plat: Platform, live: Api, car: str, cloud: AcmeCloud
) -> None:
    done = push(live, car)  # accepted at once: completed with its event
    assert done["state"] == "completed" and cloud.commands == ["charge"]
    events = data(live.get("/v1/events", params={"type": "action.completed"}), 200)["items"]
    assert [e["data"]["id"] for e in events] == [done["id"]]

    for result, code, hint in (
        (AuthFailed("Token revoked"), "PROVIDER_AUTH_FAILED", "link the device again"),
        (NotCapable("Charging is locked by the fleet policy"), "NOT_CAPABLE", "fleet policy"),
        (PermanentError("Car is scrapped"), "PROVIDER_PERMANENT_ERROR", "scrapped"),
        (ExecutionOutcome("failed", error_code="VEHICLE_ASLEEP", error_message="Asleep"),
         "VEHICLE_ASLEEP", "Asleep"),
        (RuntimeError("adapter bug"), "PROVIDER_ERROR", "failed unexpectedly"),
    ):
        cloud.execute_results = [result]
        action = push(live, car)
        assert action["state"] == "failed", (result, action)
        assert action["error"]["code"] == code and hint in action["error"]["message"]
        assert "adapter bug" not in action["error"]["message"]  # unclassified: no details
        assert failed_events(live)[action["id"]] == code


def test_transient_and_rate_limited_executes_are_retried(
    plat: Platform, live: Api, car: str, cloud: AcmeCloud, clock: FrozenClock
) -> None:
    worker = ActionWorker(plat.environment("live"))
    cloud.execute_results = [TransientError("Acme timed out"),
                             ProviderRateLimited("Slow down", retry_after=120)]
    action = push(live, car)
    assert action["state"] == "scheduled" and action["error"] is None  # waiting to retry
    clock.advance(RETRY_BACKOFF[0])
    assert worker.run_once() == 1  # second try: rate limited, waits what the vendor asked
    assert get_action(live, action)["state"] == "scheduled"
    clock.advance(RETRY_BACKOFF[1])  # 30 s: the backoff alone would retry now
    assert worker.run_once() == 0
    clock.advance(timedelta(seconds=90))
    assert worker.run_once() == 1
    assert get_action(live, action)["state"] == "completed" and cloud.commands == ["charge"]

    cloud.execute_results = [TransientError("Acme timed out")] * MAX_ATTEMPTS
    doomed = push(live, car)
    for delay in RETRY_BACKOFF:
        clock.advance(delay)
        assert worker.run_once() == 1
    final = get_action(live, doomed)
    assert final["state"] == "failed" and final["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert f"gave up after {MAX_ATTEMPTS} tries" in final["error"]["message"]
    assert failed_events(live) == {doomed["id"]: "PROVIDER_UNAVAILABLE"}
