"""The live device limit of a project's plan: linking past it, re-linking, making room.

``DemoProvider`` simulates batteries in *both* environments, so the same request
(``POST /v1/sandbox/devices``) links a device with a live key and with a sandbox
key: live must count it against the project's plan, the sandbox never. Plans are
stored in the real control database and devices in the real environment files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.device_support import client, document, srv  # noqa: F401  (fixtures)
from tests.openapi_check import validate
from tests.support import ServerThread, data, error, invoke_cli, make_config, set_plan
from wattbridge import hookimpl
from wattbridge.clock import FrozenClock
from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.devices import (
    ActionRef,
    Capabilities,
    DeviceProvider,
    DeviceRef,
    DeviceType,
    DiscoveredDevice,
    ExecutionOutcome,
    LinkCredentials,
    LinkResult,
    StateReading,
    Vendor,
)
from wattbridge.errors import DeviceLimitReached
from wattbridge.platform import Platform
from wattbridge.store.control import (
    CONTROL_DB_FILE,
    DEFAULT_DEVICE_LIMIT,
    Plan,
    PlanStore,
    migrations,
)
from wattbridge.store.sqlite import Database

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class DemoProvider:
    """Simulated batteries, offered to the sandbox and to live alike."""

    name = "demo"
    environments: frozenset[EnvironmentName] = frozenset({"sandbox", "live"})
    vendors: Sequence[Vendor] = (Vendor("demo", "Demo Storage", ("battery",), "password"),)
    reads_without_io = True

    def link(self, credentials: LinkCredentials) -> LinkResult:
        """One battery per account."""
        return LinkResult(devices=[battery(f"account-{credentials.username}")])

    def create_device(
        self, device_type: DeviceType, vendor: str | None, model: str | None, seed: str
    ) -> DiscoveredDevice:
        """A battery named after ``seed``."""
        return battery(seed)

    def capabilities(self, device: DeviceRef) -> Capabilities:
        """Nothing to command."""
        return Capabilities()

    def read_state(
        self, device: DeviceRef, at: datetime, actions: Sequence[ActionRef]
    ) -> StateReading:
        """A constant state."""
        return StateReading({"batteryLevel": 50.0}, "projection", at)

    def execute(self, device: DeviceRef, action: ActionRef) -> ExecutionOutcome:
        """Never called: the battery has no commands."""
        return ExecutionOutcome("completed")

    def diagnostics(self) -> Mapping[str, Any]:
        """Nothing to report."""
        return {"provider": self.name}


class DemoPlugin:
    """The plugin module offering :class:`DemoProvider`."""

    @hookimpl
    def register_device_providers(self, register: Callable[[DeviceProvider], None]) -> None:
        """Offer the demo provider."""
        register(DemoProvider())


def battery(external_id: str) -> DiscoveredDevice:
    """A discovered demo battery."""
    return DiscoveredDevice(external_id, "battery", "demo", "Demo Cell", {})


def open_platform(data_dir: Path) -> Platform:
    """A platform on ``data_dir`` with the built-in plugins and the demo provider."""
    plugins = [("demo", DemoPlugin())]
    return Platform(config=make_config(data_dir), clock=FrozenClock(START), extra_plugins=plugins)


@pytest.fixture
def plat(tmp_path: Path) -> Iterator[Platform]:
    """A platform with the live-enabled project 'acme'."""
    platform = open_platform(tmp_path / "data")
    platform.access.create_project("acme", live_enabled=True)
    yield platform
    platform.close()


@pytest.fixture
def project(plat: Platform) -> str:
    """The id of 'acme'."""
    return plat.access.project("acme").id


def link(plat: Platform, project: str, *external_ids: str, env: EnvironmentName = "live") -> None:
    """Link demo batteries to the project, as the Link UI does after a provider's link."""
    devices = plat.environment(env).devices
    devices.link_devices(project, "ada", "demo", [battery(e) for e in external_ids])


def stored(plat: Platform, project: str, env: EnvironmentName = "live") -> tuple[int, int]:
    """(connected devices, device.connected events) of the project in ``env``."""
    environment = plat.environment(env)
    _, events = environment.events.list(project, 1, 0, "device.connected")
    return environment.devices.connected_count(project), events


def refused(plat: Platform, project: str, *external_ids: str) -> DeviceLimitReached:
    """The error of a live link that must be refused, after checking nothing was written."""
    before = stored(plat, project)
    with pytest.raises(DeviceLimitReached) as caught:
        link(plat, project, *external_ids)
    assert stored(plat, project) == before
    return caught.value


# --- through the API ----------------------------------------------------------------------


def test_live_links_up_to_the_plan_limit_then_answers_403(
    plat: Platform, srv: ServerThread, project: str, document: dict[str, Any]
) -> None:
    set_plan(plat, project, device_limit=2)
    live = client(plat, srv, "acme", "live")
    for _ in range(2):
        data(live.post("/v1/sandbox/devices", json={"type": "battery"}), 201)
    body = error(live.post("/v1/sandbox/devices", json={"type": "battery"}), 403,
                 "DEVICE_LIMIT_REACHED")
    assert body["error"]["details"] == {"deviceLimit": 2, "devicesConnected": 2}
    message = body["message"]
    assert "at most 2 connected devices and has 2" in message
    assert f"wattbridge projects set-plan {project} --device-limit N" in message
    # Nothing of the refused device was stored: no row, no event.
    assert data(live.get("/v1/devices"), 200)["pagination"]["total"] == 2
    events = data(live.get("/v1/events", params={"type": "device.connected"}), 200)
    assert events["pagination"]["total"] == 2
    answer = live.get("/v1/usage").json()
    validate(document, "GET", "/v1/usage", 200, answer)
    assert (answer["data"]["devicesConnected"], answer["data"]["deviceLimit"]) == (2, 2)
    live.close()


def test_the_sandbox_ignores_any_device_limit(
    plat: Platform, srv: ServerThread, project: str, document: dict[str, Any]
) -> None:
    set_plan(plat, project, device_limit=0)
    sandbox = client(plat, srv, "acme", "sandbox")
    for _ in range(3):
        data(sandbox.post("/v1/sandbox/devices", json={"type": "battery"}), 201)
    answer = sandbox.get("/v1/usage").json()
    validate(document, "GET", "/v1/usage", 200, answer)
    assert (answer["data"]["devicesConnected"], answer["data"]["deviceLimit"]) == (3, None)
    sandbox.close()
    assert plat.environment("sandbox").devices.device_limit(project) is None
    # The same plan does limit live.
    assert refused(plat, project, "live-1").details["deviceLimit"] == 0


# --- the rules, through the service ---------------------------------------------------------


def test_new_projects_may_connect_100_live_devices(plat: Platform, project: str) -> None:
    assert Plan().device_limit == DEFAULT_DEVICE_LIMIT == 100
    assert plat.environment("live").devices.device_limit(project) == 100
    # One batch past the limit is refused whole; one batch up to it passes.
    refused(plat, project, *(f"b{i}" for i in range(101)))
    link(plat, project, *(f"b{i}" for i in range(100)))
    assert stored(plat, project) == (100, 100)
    error = refused(plat, project, "one-more")
    assert error.status == 403 and error.code == "DEVICE_LIMIT_REACHED"
    assert "has 100, so it cannot link another device" in error.message


def test_a_batch_past_the_limit_links_none_of_its_devices(plat: Platform, project: str) -> None:
    set_plan(plat, project, device_limit=3)
    link(plat, project, "a", "b")
    error = refused(plat, project, "c", "d")
    assert "has 2, so it cannot link 2 more devices" in error.message
    link(plat, project, "c")
    assert stored(plat, project) == (3, 3)


def test_relinking_a_linked_device_does_not_count(plat: Platform, project: str) -> None:
    set_plan(plat, project, device_limit=2)
    link(plat, project, "a", "b")
    # At the limit, devices the project already has link again (no new row or event),
    # alone or in a batch; a new one in the same batch is still refused.
    link(plat, project, "a")
    link(plat, project, "b", "a")
    assert stored(plat, project) == (2, 2)
    refused(plat, project, "a", "c")
    # A device listed twice in one batch is one device.
    set_plan(plat, project, device_limit=3)
    link(plat, project, "c", "c")
    assert stored(plat, project) == (3, 3)


def test_a_disconnected_device_frees_a_slot(plat: Platform, project: str) -> None:
    set_plan(plat, project, device_limit=1)
    devices = plat.environment("live").devices
    [first] = devices.link_devices(project, "ada", "demo", [battery("a")])
    refused(plat, project, "b")
    devices.disconnect(project, first.id)
    link(plat, project, "b")
    # The disconnected device is gone: linking it again takes a slot like any other.
    refused(plat, project, "a")
    assert stored(plat, project) == (1, 2)


def test_a_plan_change_applies_to_the_next_link(plat: Platform, project: str) -> None:
    set_plan(plat, project, device_limit=1)
    link(plat, project, "a")
    refused(plat, project, "b")
    set_plan(plat, project, unlimited_devices=True)
    link(plat, project, *(f"n{i}" for i in range(150)))
    assert stored(plat, project) == (151, 151)
    # Lowering the limit below what is connected keeps the devices, refuses new ones.
    set_plan(plat, project, device_limit=5)
    refused(plat, project, "z")
    assert stored(plat, project)[0] == 151


def test_a_link_waits_for_a_concurrent_one_and_then_sees_its_device(
    plat: Platform, project: str
) -> None:
    set_plan(plat, project, device_limit=1)
    env = plat.environment("live")
    second_started = threading.Event()
    outcome: list[str] = []

    def second() -> None:
        second_started.set()
        try:
            link(plat, project, "second")
            outcome.append("linked")
        except DeviceLimitReached:
            outcome.append("refused")

    other = threading.Thread(target=second)
    # The first link holds its write transaction open while the second one starts:
    # had the second counted before taking the write lock, it would have seen a
    # free slot and both devices would be linked.
    with env.db.transaction():
        link(plat, project, "first")
        other.start()
        assert second_started.wait(10)
        time.sleep(0.3)  # long enough for the second link to reach the database
        assert not outcome  # still waiting for this transaction
    other.join(timeout=30)
    assert outcome == ["refused"]
    assert stored(plat, project) == (1, 1)


def test_concurrent_links_never_pass_the_limit_together(plat: Platform, project: str) -> None:
    set_plan(plat, project, device_limit=3)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt(index: int) -> None:
        start.wait()
        try:
            link(plat, project, f"c{index}")
            outcomes.append("linked")
        except DeviceLimitReached:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["linked"] * 3 + ["refused"] * 5
    assert stored(plat, project) == (3, 3)


# --- the command line and old data dirs -----------------------------------------------------


def test_set_plan_sets_and_removes_the_device_limit(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert invoke_cli("projects", "create", "acme", "--live", "--data-dir", data).exit_code == 0
    shown = invoke_cli("projects", "set-plan", "acme", "--device-limit", "2", "--data-dir", data)
    assert shown.exit_code == 0, shown.output
    assert "device limit      2 connected live devices" in shown.stdout
    # Options not given stay as they are.
    kept = invoke_cli("projects", "set-plan", "acme", "--tier-limit", "5", "--json",
                   "--data-dir", data)
    assert kept.exit_code == 0, kept.output
    assert '"tierLimit": 5' in kept.stdout and '"deviceLimit": 2' in kept.stdout
    platform = open_platform(Path(data))
    try:
        project = platform.access.project("acme").id
        assert platform.environment("live").devices.device_limit(project) == 2
        link(platform, project, "a", "b")
        refused(platform, project, "c")
    finally:
        platform.close()
    removed = invoke_cli("projects", "set-plan", "acme", "--no-device-limit", "--data-dir", data)
    assert removed.exit_code == 0, removed.output
    assert "device limit      none" in removed.stdout
    as_json = invoke_cli("projects", "set-plan", "acme", "--json", "--data-dir", data)
    assert '"deviceLimit": null' in as_json.stdout


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (("--device-limit", "3", "--no-device-limit"), "not both"),
        (("--device-limit", "-1"), "Invalid value for '--device-limit'"),
        (("--device-limit", "many"), "Invalid value for '--device-limit'"),
    ],
)
def test_set_plan_refuses_bad_device_limits(
    tmp_path: Path, options: tuple[str, ...], complaint: str
) -> None:
    data = str(tmp_path / "data")
    assert invoke_cli("projects", "create", "acme", "--live", "--data-dir", data).exit_code == 0
    bad = invoke_cli("projects", "set-plan", "acme", *options, "--data-dir", data)
    assert bad.exit_code == 2 and complaint in bad.stderr
    # Nothing was stored: the plan is still the default.
    shown = invoke_cli("projects", "set-plan", "acme", "--json", "--data-dir", data)
    assert '"deviceLimit": 100' in shown.stdout


OLD_PLAN_INSERT = (
    "INSERT INTO project_plans (project_id, credits_per_scan, tier_limit, hard_cap, updated_at)"
    " VALUES (?, 4, NULL, 0, '2026-01-02T00:00:00.000Z')"
)
"""How wattbridge stored a plan before device limits."""


def test_an_old_control_database_gets_the_default_device_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    # A control database as the previous release left it: plans without device limits.
    old = Database(data / CONTROL_DB_FILE)
    migrations.apply(old.utils(), stop_before="m003_plan_device_limit")
    with old.transaction():
        for project_id, name in (
            ("proj_planned", "planned"), ("proj_default", "default"), ("proj_later", "later")
        ):
            old.execute(
                "INSERT INTO projects (id, name, live_enabled, created_at)"
                " VALUES (?, ?, 1, '2026-01-01T00:00:00.000Z')",
                (project_id, name),
            )
        old.execute(OLD_PLAN_INSERT, ("proj_planned",))
    assert "device_limit" not in old.utils()["project_plans"].columns_dict
    old.close()

    platform = open_platform(data)
    try:
        plans = PlanStore(platform.control_db)
        # The stored plan keeps its settings and gains the default device limit.
        assert plans.get("proj_planned") == Plan(4, None, False, DEFAULT_DEVICE_LIMIT)
        assert plans.get("proj_default") == Plan()
        # A plan written the old way after the migration (an older process still
        # running on the data dir) gets the default too, not "unlimited".
        with platform.control_db.transaction():
            platform.control_db.execute(OLD_PLAN_INSERT, ("proj_later",))
        assert plans.get("proj_later") == Plan(4, None, False, DEFAULT_DEVICE_LIMIT)
        set_plan(platform, "proj_planned", unlimited_devices=True)
        assert plans.get("proj_planned").device_limit is None
        set_plan(platform, "proj_default", device_limit=1)
        link(platform, "proj_default", "a")
        refused(platform, "proj_default", "b")
    finally:
        platform.close()
