"""Credits, tier limits, overage and usage events, through the services and workers.

The clock is frozen and the live solver is a small test plugin (``timeline =
None``, answers at once), so every step is driven by hand: create, solve with
the solver queue, settle and deliver with the billing worker. The black-box
tests through a real server and the real solver are in test_billing_api.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.support import BUILTIN_PLUGINS, make_config, set_plan
from tests.support import SCAN_BODY as BODY
from wattbridge import hookimpl
from wattbridge.clock import FrozenClock
from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.billing import BillingSink, UsageEvent
from wattbridge.drivers.scans import ScanSolver, ScanTimeline, SolveContext, SolverFailed
from wattbridge.errors import ConfigurationError, ScanLimitReached, ValidationFailed
from wattbridge.models.scans import ScanInput, ScanResult
from wattbridge.platform import Platform
from wattbridge.services.billing import RETRY_DELAYS, BillingWorker, billing_workers
from wattbridge.services.metering import month_of, revise_plan
from wattbridge.services.scans import ScanService
from wattbridge.services.solver_queue import SolverQueue
from wattbridge.store.control import Plan, PlanStore
from wattbridge.store.usage import UsageStore
from wattbridge_fixtures import FIXTURES, load_fixture
from wattbridge_ledger import ledger_entries

START = datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
FAIL_KWH = 4242.0
"""The test solver refuses this yearly consumption (the scan ends in ``error``)."""


class QuickSolver:
    """A live solver plugin that answers at once with a fixture's numbers."""

    name = "quick"
    environments: frozenset[EnvironmentName] = frozenset({"live"})
    timeline: ScanTimeline | None = None
    supports_studio = True

    def solve(self, scan: ScanInput, context: SolveContext) -> ScanResult:
        """Fail on :data:`FAIL_KWH`, else return fixture 6's result."""
        if scan.yearly_kwh == FAIL_KWH:
            raise SolverFailed("No installation fits this roof.")
        return attrs.evolve(load_fixture(FIXTURES[5]).result, metadata={"source": "solver"})


class FlakySink:
    """A billing sink that fails its first ``failures`` calls, then records."""

    name = "flaky"
    environments: frozenset[EnvironmentName] = frozenset({"live"})

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[str] = []
        self.recorded: dict[str, UsageEvent] = {}

    def record(self, event: UsageEvent) -> None:
        """Fail while failures remain; keep the event once by id."""
        self.calls.append(event.id)
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("billing backend unavailable")
        self.recorded.setdefault(event.id, event)


class TestPlugins:
    """Registers the quick solver and the flaky sink like any third-party plugin."""

    __test__ = False

    def __init__(self) -> None:
        self.sink = FlakySink()

    @hookimpl
    def register_scan_solvers(self, register: Callable[[ScanSolver], None]) -> None:
        """The quick solver."""
        register(QuickSolver())

    @hookimpl
    def register_billing_sinks(self, register: Callable[[BillingSink], None]) -> None:
        """The flaky sink."""
        register(self.sink)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def plugins() -> TestPlugins:
    return TestPlugins()


def open_platform(
    data_dir: Path, clock: FrozenClock, plugins: TestPlugins, sinks: str = "ledger,flaky"
) -> Platform:
    config = make_config(
        data_dir,
        load_plugins=",".join((*BUILTIN_PLUGINS, "ledger")),
        **{"live.solver": "quick", "live.billing_sinks": sinks},
    )
    return Platform(config=config, clock=clock, extra_plugins=[("billingtest", plugins)])


@pytest.fixture
def plat(tmp_path: Path, clock: FrozenClock, plugins: TestPlugins) -> Iterator[Platform]:
    platform = open_platform(tmp_path / "data", clock, plugins)
    yield platform
    platform.close()


@pytest.fixture
def project(plat: Platform) -> str:
    return plat.access.create_project("acme", live_enabled=True).id


def live(plat: Platform) -> ScanService:
    return ScanService(plat.environment("live"))


def solve_all(plat: Platform) -> None:
    queue = SolverQueue(plat.environment("live"))
    while queue.run_once():
        pass


def worker(plat: Platform) -> BillingWorker:
    return BillingWorker(plat.environment("live"))


# --- credits, counts and limits --------------------------------------------------------------


def test_a_live_scan_costs_its_plans_credits_and_counts_this_month(
    plat: Platform, project: str
) -> None:
    set_plan(plat, project, credits_per_scan=3)
    first = live(plat).create(project, BODY)
    second = live(plat).create(project, BODY)
    assert (first["cost"], first["overage"]) == (3, False)
    assert second["cost"] == 3
    usage = live(plat).usage(project)
    assert usage == {
        "period": {"start": "2026-06-01T00:00:00.000Z", "end": "2026-07-01T00:00:00.000Z"},
        "metered": True,
        "creditsUsed": 6,
        "scansThisMonth": 2,
        "tierLimit": 100,
        "overage": False,
        "overageScans": 0,
        "hardCap": True,
        "creditsPerScan": 3,
        "devicesConnected": 0,
        "deviceLimit": 100,
    }


def test_the_default_plan_is_one_credit_and_a_hard_cap_of_100(plat: Platform) -> None:
    assert PlanStore(plat.control_db).get("proj_unknown") == Plan(1, 100, True, 100)


def test_over_a_hard_cap_the_scan_is_refused_and_nothing_is_stored(
    plat: Platform, project: str
) -> None:
    set_plan(plat, project, tier_limit=2)
    env = plat.environment("live")
    for _ in range(2):
        live(plat).create(project, BODY)
    events_before = env.events.list(project, 100, 0)[1]
    with pytest.raises(ScanLimitReached) as refused:
        live(plat).create(project, BODY)
    error = refused.value
    assert error.status == 429 and error.code == "SCAN_LIMIT_REACHED"
    assert "its 2 live scans for June 2026" in error.message
    assert "resets on 2026-07-01" in error.message
    assert f"wattbridge projects set-plan {project} --tier-limit N" in error.message
    assert error.details == {
        "tierLimit": 2,
        "scansThisMonth": 2,
        "resetsAt": "2026-07-01T00:00:00.000Z",
    }
    assert live(plat).list(project, 1, 20)["total"] == 2
    assert env.events.list(project, 100, 0)[1] == events_before
    assert env.db.query_one("SELECT count(*) AS n FROM usage_events")["n"] == 2  # type: ignore[index]


def test_the_limit_resets_with_the_utc_month(
    plat: Platform, project: str, clock: FrozenClock
) -> None:
    set_plan(plat, project, tier_limit=1)
    live(plat).create(project, BODY)
    with pytest.raises(ScanLimitReached):
        live(plat).create(project, BODY)
    clock.set(datetime(2026, 7, 1, 0, 0, tzinfo=UTC))
    assert live(plat).create(project, BODY)["overage"] is False
    usage = live(plat).usage(project)
    assert usage["scansThisMonth"] == 1 and usage["period"]["start"].startswith("2026-07-01")


def test_without_a_hard_cap_scans_past_the_limit_run_flagged_as_overage(
    plat: Platform, project: str, plugins: TestPlugins
) -> None:
    set_plan(plat, project, tier_limit=1, hard_cap=False)
    within = live(plat).create(project, BODY)
    beyond = live(plat).create(project, BODY)
    assert (within["overage"], beyond["overage"]) == (False, True)
    assert live(plat).get(project, beyond["id"])["overage"] is True
    usage = live(plat).usage(project)
    assert (usage["scansThisMonth"], usage["overage"], usage["overageScans"]) == (2, True, 1)
    assert usage["hardCap"] is False
    solve_all(plat)
    worker(plat).run_once()
    flagged = {e.scan_id: e.overage for e in plugins.sink.recorded.values()}
    assert flagged == {within["id"]: False, beyond["id"]: True}
    ledger = ledger_entries(plat.environment("live").db, project)
    assert {r["scan_id"]: r["overage"] for r in ledger} == {within["id"]: 0, beyond["id"]: 1}


def test_no_tier_limit_never_refuses(plat: Platform, project: str) -> None:
    set_plan(plat, project, tier_limit=0, hard_cap=True)
    with pytest.raises(ScanLimitReached):
        live(plat).create(project, BODY)
    set_plan(plat, project, unlimited=True)
    assert live(plat).create(project, BODY)["overage"] is False
    assert live(plat).usage(project)["tierLimit"] is None


def test_the_sandbox_counts_nothing_and_is_never_limited(plat: Platform, project: str) -> None:
    set_plan(plat, project, tier_limit=0, hard_cap=True)
    sandbox = ScanService(plat.environment("sandbox"))
    scans = [sandbox.create(project, BODY) for _ in range(3)]
    assert all(s["cost"] is None and s["overage"] is False for s in scans)
    usage = sandbox.usage(project)
    assert usage["metered"] is False
    assert (usage["scansThisMonth"], usage["creditsUsed"], usage["tierLimit"]) == (0, 0, None)
    assert (usage["overage"], usage["hardCap"], usage["creditsPerScan"]) == (False, False, None)
    assert usage["deviceLimit"] is None
    assert billing_workers(plat.environment("sandbox")) == []
    assert UsageStore(plat.environment("sandbox").db).deliveries(scans[0]["id"]) == []


def test_concurrent_requests_never_exceed_a_hard_cap(plat: Platform, project: str) -> None:
    set_plan(plat, project, tier_limit=5)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create() -> None:
        try:
            live(plat).create(project, BODY)
            outcome = "created"
        except ScanLimitReached:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] * 5 + ["refused"] * 7
    assert live(plat).usage(project)["scansThisMonth"] == 5


# --- failed scans are not charged ------------------------------------------------------------


def test_a_scan_that_fails_is_not_charged_and_gives_its_slot_back(
    plat: Platform, project: str, plugins: TestPlugins
) -> None:
    set_plan(plat, project, tier_limit=1, credits_per_scan=2)
    failing = live(plat).create(project, {**BODY, "yearlyKwh": FAIL_KWH})
    assert failing["cost"] == 2  # priced at admission; charged only if it completes
    with pytest.raises(ScanLimitReached):
        live(plat).create(project, BODY)  # the running scan holds the only slot
    solve_all(plat)
    failed = live(plat).get(project, failing["id"])
    assert (failed["status"], failed["cost"]) == ("error", 0)
    assert live(plat).usage(project)["scansThisMonth"] == 0
    assert live(plat).usage(project)["creditsUsed"] == 0
    assert worker(plat).run_once() == 1  # voided, nothing to deliver
    assert plugins.sink.calls == []
    assert ledger_entries(plat.environment("live").db) == []
    [voided] = UsageStore(plat.environment("live").db).deliveries(failing["id"])
    assert (voided.state, voided.sink) == ("void", "")
    assert live(plat).create(project, BODY)["overage"] is False  # the slot came back


# --- usage events and sinks ------------------------------------------------------------------


def test_a_usage_event_waits_for_its_scan_then_reaches_every_sink_once(
    plat: Platform, project: str, plugins: TestPlugins
) -> None:
    scan = live(plat).create(project, BODY)
    assert worker(plat).run_once() == 0  # still running: held, not billed
    assert plugins.sink.calls == []
    solve_all(plat)
    assert worker(plat).run_once() == 3  # settled, then one delivery per sink
    assert worker(plat).run_once() == 0
    [event] = plugins.sink.recorded.values()
    assert (event.scan_id, event.project_id, event.credits) == (scan["id"], project, 1)
    assert event.occurred_at == START
    [row] = ledger_entries(plat.environment("live").db)
    assert (row["event_id"], row["scan_id"], row["credits"]) == (event.id, scan["id"], 1)
    assert plugins.sink.calls == [event.id]


def test_a_failing_sink_is_retried_with_backoff_without_blocking_another(
    plat: Platform, project: str, plugins: TestPlugins, clock: FrozenClock
) -> None:
    plugins.sink.failures = 2
    scan = live(plat).create(project, BODY)
    solve_all(plat)
    billing = worker(plat)
    billing.run_once()
    store = UsageStore(plat.environment("live").db)
    by_sink = {d.sink: d for d in store.deliveries(scan["id"])}
    assert by_sink["ledger"].delivered_at is not None
    assert by_sink["flaky"].delivered_at is None and by_sink["flaky"].attempts == 1
    assert by_sink["flaky"].last_error == "RuntimeError: billing backend unavailable"
    assert billing.run_once() == 0  # not due again yet
    clock.advance(RETRY_DELAYS[0] * 1.2)
    assert billing.run_once() == 1  # second failure
    clock.advance(RETRY_DELAYS[0] * 1.2)
    assert billing.run_once() == 0  # the second delay is longer
    clock.advance(RETRY_DELAYS[1] * 1.2)
    assert billing.run_once() == 1
    flaky = {d.sink: d for d in store.deliveries(scan["id"])}["flaky"]
    assert flaky.delivered_at is not None and flaky.attempts == 3 and flaky.last_error is None
    assert len(plugins.sink.recorded) == 1 and len(plugins.sink.calls) == 3
    assert len(ledger_entries(plat.environment("live").db)) == 1


def test_a_delivery_whose_worker_died_is_sent_again_and_recorded_once(
    plat: Platform, project: str, plugins: TestPlugins, clock: FrozenClock
) -> None:
    live(plat).create(project, BODY)
    solve_all(plat)
    billing = worker(plat)
    billing.settle()
    env = plat.environment("live")
    with env.db.transaction():  # a worker claims, then dies before answering
        lost = UsageStore(env.db).claim(["ledger", "flaky"], clock.now(), clock.now(), 10)
    assert len(lost) == 2
    for claim in lost:
        billing.sinks[claim.sink].record(claim.event)  # the sinks did get the events
    clock.advance(1)
    assert billing.deliver() == 2  # the leases ran out: sent again
    assert len(plugins.sink.calls) == 2 and len(plugins.sink.recorded) == 1
    assert len(ledger_entries(env.db)) == 1


def test_a_configured_sink_that_is_not_installed_keeps_its_events(
    tmp_path: Path, clock: FrozenClock, plugins: TestPlugins
) -> None:
    plat = open_platform(tmp_path / "data", clock, plugins, sinks="ledger,missing")
    try:
        project = plat.access.create_project("acme", live_enabled=True).id
        scan = live(plat).create(project, BODY)
        solve_all(plat)
        worker(plat).run_once()
        waiting = {d.sink: d.delivered_at for d in UsageStore(plat.environment("live").db)
                   .deliveries(scan["id"])}
        assert waiting["missing"] is None and waiting["ledger"] is not None
    finally:
        plat.close()


def test_sinks_are_bound_with_their_configuration_section(
    tmp_path: Path, clock: FrozenClock, plugins: TestPlugins
) -> None:
    config = make_config(
        tmp_path / "data",
        load_plugins=",".join((*BUILTIN_PLUGINS, "stripe")),
        **{"live.solver": "quick", "live.billing_sinks": "stripe"},
    )
    plat = Platform(config=config, clock=clock, extra_plugins=[("billingtest", plugins)])
    try:
        with pytest.raises(ConfigurationError, match=r"stripe\.api_key: set the Stripe secret"):
            worker(plat)
    finally:
        plat.close()


# --- plans -----------------------------------------------------------------------------------


def test_revising_a_plan_changes_only_what_is_given() -> None:
    plan = revise_plan(Plan(), credits_per_scan=5)
    assert plan == Plan(5, 100, True)
    assert revise_plan(plan, hard_cap=False) == Plan(5, 100, False)
    assert revise_plan(plan, unlimited=True) == Plan(5, None, True)
    assert revise_plan(Plan(5, None, True), tier_limit=7) == Plan(5, 7, True)
    assert revise_plan(plan, device_limit=3) == Plan(5, 100, True, 3)
    assert revise_plan(plan, unlimited_devices=True) == Plan(5, 100, True, None)
    assert revise_plan(Plan(device_limit=None), tier_limit=7).device_limit is None


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"credits_per_scan": -1}, "$.creditsPerScan"),
        ({"tier_limit": -3}, "$.tierLimit"),
        ({"tier_limit": 3, "unlimited": True}, "$.tierLimit"),
        ({"device_limit": -1}, "$.deviceLimit"),
        ({"device_limit": 3, "unlimited_devices": True}, "$.deviceLimit"),
    ],
)
def test_bad_plan_values_are_refused(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        revise_plan(Plan(), **changes)
    assert refused.value.errors[0].path == path


def test_months_are_utc_calendar_months() -> None:
    period = month_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert (period.start, period.end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert month_of(datetime(2026, 2, 10, tzinfo=UTC)).end - timedelta(days=28) == datetime(
        2026, 2, 1, tzinfo=UTC
    )
