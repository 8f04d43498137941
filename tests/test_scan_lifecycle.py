"""The scan lifecycle through the services and workers, with an injected clock.

Sandbox scans follow the fixture solver's timeline; live scans go through the
solver queue, exercised here with a small solver plugin registered like any
third-party one (``timeline = None``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from tests.support import SCAN_BODY as BODY
from tests.support import make_config
from wattbridge import hookimpl
from wattbridge.clock import FrozenClock, isoformat
from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.scans import ScanSolver, ScanTimeline, SolveContext, SolverFailed
from wattbridge.environments import Environment
from wattbridge.errors import (
    SandboxStudioUnsupported,
    ScanLimitReached,
    ScanNotCompleted,
    ValidationFailed,
)
from wattbridge.models.scans import ScanInput, ScanResult
from wattbridge.platform import Platform
from wattbridge.services.scan_syncer import ScanSyncer
from wattbridge.services.scans import Admission, ScanService
from wattbridge.services.solver_queue import MAX_ATTEMPTS, SolverQueue
from wattbridge.store.scans import ScanStore
from wattbridge_fixtures import FIXTURES, load_fixture

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PROJECT = "proj_lifecycle"


FAIL_KWH = 4242.0
"""The test solver refuses inputs with this yearly consumption (SolverFailed)."""
CRASH_KWH = 666.0
"""The test solver raises an unexpected error for this one."""


class TestSolver:
    """A live solver plugin: ``timeline = None``, answers with a fixture's numbers."""

    __test__ = False  # not a pytest test class
    name = "testsolver"
    environments: frozenset[EnvironmentName] = frozenset({"live"})
    timeline: ScanTimeline | None = None
    supports_studio = True

    def __init__(self) -> None:
        self.calls: list[tuple[ScanInput, SolveContext]] = []

    def solve(self, scan: ScanInput, context: SolveContext) -> ScanResult:
        """Fail or crash on the magic inputs, else return fixture 14's result."""
        self.calls.append((scan, context))
        if scan.yearly_kwh == FAIL_KWH:
            raise SolverFailed("No battery fits; allow a larger maxKwh.")
        if scan.yearly_kwh == CRASH_KWH:
            raise RuntimeError("solver crashed")
        result = load_fixture(FIXTURES[13]).result
        return attrs.evolve(result, metadata={"source": "solver", "solver": self.name})


class TestSolverPlugin:
    """Registers :class:`TestSolver` through the ordinary hook."""

    __test__ = False

    def __init__(self) -> None:
        self.solver = TestSolver()

    @hookimpl
    def register_scan_solvers(self, register: Callable[[ScanSolver], None]) -> None:
        """Offer the test solver."""
        register(self.solver)


def open_platform(data_dir: Path, clock: FrozenClock, plugin: TestSolverPlugin) -> Platform:
    """A platform whose live environment uses the test solver plugin."""
    config = make_config(data_dir, **{"live.solver": "testsolver", "sandbox.webhook_delay": "0s"})
    return Platform(config=config, clock=clock, extra_plugins=[("testsolver", plugin)])


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def plugin() -> TestSolverPlugin:
    return TestSolverPlugin()


@pytest.fixture
def plat(tmp_path: Path, clock: FrozenClock, plugin: TestSolverPlugin) -> Iterator[Platform]:
    platform = open_platform(tmp_path / "data", clock, plugin)
    yield platform
    platform.close()


def events_of(env: Environment, project: str = PROJECT) -> list[tuple[str, str, str]]:
    """(type, createdAt, data.status) of a project's events, oldest first."""
    events, _ = env.events.list(project, 1000, 0)
    return [(e.type, e.created_at, e.data["status"]) for e in reversed(events)]


def at(seconds: float) -> str:
    return isoformat(START + timedelta(seconds=seconds))


# --- sandbox: the timeline --------------------------------------------------------------


def test_sandbox_scan_follows_the_timeline_with_events_at_due_times(
    plat: Platform, clock: FrozenClock
) -> None:
    env = plat.environment("sandbox")
    scans, syncer = ScanService(env), ScanSyncer(env)
    created = scans.create(PROJECT, BODY)
    assert created["status"] == "pending" and created["cost"] is None
    assert events_of(env) == [("scan.pending", at(0), "pending")]

    seen = []
    for tick in range(0, 14):  # the syncer runs every 2 s; reads happen every second
        clock.set(START + timedelta(seconds=tick))
        if tick % 2 == 0:
            syncer.run_once()
        seen.append((tick, scans.status(PROJECT, created["id"])["status"]))
    assert [s for t, s in seen if t < 5] == ["pending"] * 5
    assert [s for t, s in seen if 5 <= t < 10] == ["processing"] * 5
    assert [s for t, s in seen if t >= 10] == ["completed"] * 4
    assert events_of(env) == [
        ("scan.pending", at(0), "pending"),
        ("scan.processing", at(5), "processing"),
        ("scan.completed", at(10), "completed"),
    ]
    final = scans.get(PROJECT, created["id"])
    assert final["updatedAt"] == final["completedAt"] == at(10)
    expected = load_fixture(FIXTURES[13]).result.self_sufficiency
    assert final["selfSufficiency"] == pytest.approx(expected)


def test_reads_are_computed_from_elapsed_time_and_never_go_backwards(
    plat: Platform, clock: FrozenClock
) -> None:
    env = plat.environment("sandbox")
    scans = ScanService(env)
    scan_id = scans.create(PROJECT, BODY)["id"]
    order = {"pending": 0, "processing": 1, "completed": 2}
    last = 0
    # No syncer at all: reads alone must already follow the timeline exactly.
    for tenth in range(0, 130):
        clock.set(START + timedelta(seconds=tenth / 10))
        status = scans.get(PROJECT, scan_id)["status"]
        assert order[status] >= last
        last = order[status]
        expected = "pending" if tenth < 50 else "processing" if tenth < 100 else "completed"
        assert status == expected, tenth / 10
    # A syncer that runs late applies both steps, each event stamped when it was due.
    assert ScanSyncer(env).run_once() == 1
    assert events_of(env)[1:] == [
        ("scan.processing", at(5), "processing"),
        ("scan.completed", at(10), "completed"),
    ]
    assert scans.status(PROJECT, scan_id) == {
        "id": scan_id,
        "status": "completed",
        "updatedAt": at(10),
    }


def test_result_is_refused_until_completed(plat: Platform, clock: FrozenClock) -> None:
    scans = ScanService(plat.environment("sandbox"))
    scan_id = scans.create(PROJECT, BODY)["id"]
    for seconds in (0, 5, 9.999):
        clock.set(START + timedelta(seconds=seconds))
        with pytest.raises(ScanNotCompleted):
            scans.result(PROJECT, scan_id)
    clock.set(START + timedelta(seconds=10))
    result = scans.result(PROJECT, scan_id)
    assert result["scanId"] == scan_id and result["goal"] == "cost-savings"
    assert result["metadata"] == {"source": "fixture", "fixtureId": "new-pv-battery/cost-savings"}
    assert len(result["monthly"]) == 12


def test_pre_staged_scans_discard_the_payload(plat: Platform) -> None:
    env = plat.environment("sandbox")
    scan_id = ScanService(env).create(PROJECT, BODY)["id"]
    row = env.db.query_one("SELECT input, result_digest FROM scans WHERE id = ?", (scan_id,))
    assert row is not None and row["input"] is None and row["result_digest"]
    # The result was stored at creation, before the scan completes.
    found = ScanStore(env.db).get_with_result(PROJECT, scan_id)
    assert found is not None and found[0].status == "pending"
    assert found[1] is not None and '"fixtureId":"new-pv-battery/cost-savings"' in found[1]


def test_scans_answered_by_one_fixture_share_one_stored_document(
    plat: Platform, clock: FrozenClock
) -> None:
    env = plat.environment("sandbox")
    scans = ScanService(env)
    same = [scans.create(PROJECT, BODY)["id"] for _ in range(3)]
    other = scans.create(PROJECT, {**BODY, "goal": "self-sufficiency"})["id"]
    documents = env.db.query_one("SELECT count(*) AS n FROM scan_results")
    assert documents == {"n": 2}
    clock.advance(10)
    results = [scans.result(PROJECT, scan_id) for scan_id in [*same, other]]
    assert [r["scanId"] for r in results] == [*same, other]
    assert {r["metadata"]["fixtureId"] for r in results} == {
        "new-pv-battery/cost-savings",
        "new-pv-battery/self-sufficiency",
    }
    assert results[0] == {**results[1], "scanId": same[0]}


def test_rejected_requests_store_nothing(plat: Platform) -> None:
    env = plat.environment("sandbox")
    scans = ScanService(env)
    with pytest.raises(ValidationFailed):
        scans.create(PROJECT, {**BODY, "yearlyKwh": "lots"})
    with pytest.raises(ValidationFailed):
        scans.create(PROJECT, [BODY])
    with pytest.raises(SandboxStudioUnsupported):
        scans.create(PROJECT, {**BODY, "customProfileId": "cp_1", "yearlyKwh": "lots"})
    assert scans.list(PROJECT, 1, 20)["total"] == 0
    assert events_of(env) == []


def test_a_meter_refusal_rolls_back_the_scan_and_its_event(plat: Platform) -> None:
    class CappedMeter:
        def admit(self, project_id: str, scan_id: str, at: datetime) -> Admission:
            raise ScanLimitReached("The monthly scan limit is reached.")

    env = plat.environment("live")
    with pytest.raises(ScanLimitReached):
        ScanService(env, meter=CappedMeter()).create(PROJECT, BODY)
    assert ScanService(env).list(PROJECT, 1, 20)["total"] == 0
    assert events_of(env) == []


def test_sandbox_counts_nothing_and_live_counts_in_usage(plat: Platform) -> None:
    sandbox, live = ScanService(plat.environment("sandbox")), ScanService(plat.environment("live"))
    sandbox.create(PROJECT, BODY)
    live.create(PROJECT, BODY)
    assert sandbox.usage(PROJECT)["scansThisMonth"] == 0
    assert sandbox.usage(PROJECT)["metered"] is False
    usage = live.usage(PROJECT)
    assert usage["metered"] is True and usage["scansThisMonth"] == 1
    assert usage["period"] == {
        "start": "2026-06-01T00:00:00.000Z",
        "end": "2026-07-01T00:00:00.000Z",
    }


def test_other_projects_scans_are_not_found(plat: Platform) -> None:
    scans = ScanService(plat.environment("sandbox"))
    scan_id = scans.create(PROJECT, BODY)["id"]
    with pytest.raises(Exception, match="No scan") as raised:
        scans.get("proj_other", scan_id)
    assert type(raised.value).__name__ == "NotFound"
    assert scans.list("proj_other", 1, 20)["items"] == []


# --- live: the solver queue -------------------------------------------------------------


def test_queued_scan_is_solved_by_the_worker(
    plat: Platform, clock: FrozenClock, plugin: TestSolverPlugin
) -> None:
    env = plat.environment("live")
    scans, queue = ScanService(env), SolverQueue(env)
    scan_id = scans.create(PROJECT, BODY)["id"]
    assert plugin.solver.calls == []  # nothing solved on the request path
    clock.advance(1)
    assert queue.run_once() == 1
    scan, context = plugin.solver.calls[0]
    assert scan.goal == "cost-savings" and scan.new_pv[0].max_panel_count == 12
    assert context.scan_id == scan_id
    assert queue.run_once() == 0
    done = scans.get(PROJECT, scan_id)
    assert done["status"] == "completed" and done["completedAt"] == at(1)
    metadata = scans.result(PROJECT, scan_id)["metadata"]
    assert metadata == {"source": "solver", "solver": "testsolver"}
    # processing and completed share an instant on a frozen clock: compare as a set.
    assert sorted(t for t, _, _ in events_of(env)) == [
        "scan.completed",
        "scan.pending",
        "scan.processing",
    ]


def test_solver_failure_ends_in_error_with_scan_failed(plat: Platform) -> None:
    env = plat.environment("live")
    scans = ScanService(env)
    scan_id = scans.create(PROJECT, {**BODY, "yearlyKwh": FAIL_KWH})["id"]
    SolverQueue(env).run_once()
    failed = scans.get(PROJECT, scan_id)
    assert failed["status"] == "error" and failed["hasError"] is True
    assert failed["errorMessage"] == "No battery fits; allow a larger maxKwh."
    assert events_of(env)[-1][0] == "scan.failed"
    with pytest.raises(ScanNotCompleted, match="failed"):
        scans.result(PROJECT, scan_id)


def test_an_expired_lease_is_claimable_again_and_the_old_claim_loses(
    plat: Platform, clock: FrozenClock
) -> None:
    env = plat.environment("live")
    scans, queue = ScanService(env), SolverQueue(env, time_limit=timedelta(seconds=10))
    scan_id = scans.create(PROJECT, BODY)["id"]
    lost = queue.claim()  # a worker claims the scan, then dies
    assert lost is not None
    clock.advance(39)
    assert queue.run_once() == 0  # still leased
    clock.advance(2)
    assert queue.run_once() == 1  # lease ran out: claimed again and solved
    assert scans.get(PROJECT, scan_id)["status"] == "completed"
    with env.db.transaction():
        assert not queue.store.finish(lost, lost.record, None)  # the dead claim cannot write
    assert scans.get(PROJECT, scan_id)["status"] == "completed"
    # scan.processing fired once, on the first claim only.
    assert [t for t, _, _ in events_of(env)].count("scan.processing") == 1


def test_unexpected_solver_errors_are_retried_then_given_up(
    plat: Platform, clock: FrozenClock, plugin: TestSolverPlugin
) -> None:
    env = plat.environment("live")
    scans, queue = ScanService(env), SolverQueue(env)
    scan_id = scans.create(PROJECT, {**BODY, "yearlyKwh": CRASH_KWH})["id"]
    for _ in range(MAX_ATTEMPTS):
        assert queue.run_once() == 1
        clock.advance(31)
    assert len(plugin.solver.calls) == MAX_ATTEMPTS
    failed = scans.get(PROJECT, scan_id)
    assert failed["status"] == "error" and "repeatedly" in (failed["errorMessage"] or "")
    assert queue.run_once() == 0
