"""The status syncer over 100,000 in-flight scans, driven tick by tick by a frozen clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from tests.support import new_platform
from wattbridge.clock import FrozenClock
from wattbridge.environments import Environment
from wattbridge.services.scan_syncer import ScanSyncer
from wattbridge.store.scans import NewScan, ScanRecord, ScanStore

START = datetime(2026, 6, 1, tzinfo=UTC)
SCANS = 100_000
SPACING = timedelta(milliseconds=1)  # 1,000 scans a second: creation spans 100 s
PROCESSING_AFTER = timedelta(seconds=5)
COMPLETED_AFTER = timedelta(seconds=10)
TICK = timedelta(seconds=2)  # the syncer's interval


def staged(i: int) -> NewScan:
    """A pre-staged scan created ``i`` ms after START, as the fixture solver stages it."""
    created = START + i * SPACING
    return NewScan(
        record=ScanRecord(
            id=f"scan_{i:024d}",
            project_id=f"proj_{i % 7}",
            scheduler="timeline",
            status="pending",
            goal="cost-savings",
            input_method="known",
            created_at=created,
            updated_at=created,
            processing_at=created + PROCESSING_AFTER,
            completes_at=created + COMPLETED_AFTER,
            due_at=created + PROCESSING_AFTER,
            self_sufficiency=0.5,
        ),
        result_json="{}",
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Environment, FrozenClock]]:
    clock = FrozenClock(START)
    platform = new_platform(tmp_path / "data", clock=clock)
    environment = platform.environment("sandbox")
    with environment.db.transaction():
        ScanStore(environment.db).insert(staged(i) for i in range(SCANS))
    yield environment, clock
    platform.close()


def reached(after: timedelta, now: datetime) -> int:
    """How many scans have ``created + after <= now``."""
    elapsed = now - START - after
    if elapsed < timedelta(0):
        return 0
    return min(SCANS, elapsed // SPACING + 1)


def stored_counts(env: Environment) -> dict[str, int]:
    rows = env.db.query("SELECT status, count(*) AS n FROM scans GROUP BY status")
    return {row["status"]: row["n"] for row in rows}


def stored_ranges(env: Environment) -> dict[str, tuple[int, int, int]]:
    """status -> (count, first, last scan number): with distinct ids, count == last - first + 1
    means the status holds exactly the scans first..last."""
    rows = env.db.query(
        "SELECT status, count(*) AS n, min(id) AS first, max(id) AS last FROM scans"
        " GROUP BY status"
    )
    return {r["status"]: (r["n"], int(r["first"][5:]), int(r["last"][5:])) for r in rows}


def expected_ranges(processing: int, completed: int) -> dict[str, tuple[int, int, int]]:
    """Scans 0..completed-1 completed, then processing, then pending (creation order)."""
    spans = {
        "completed": (0, completed),
        "processing": (completed, processing),
        "pending": (processing, SCANS),
    }
    return {k: (end - start, start, end - 1) for k, (start, end) in spans.items() if end > start}


@pytest.mark.slow
def test_every_transition_happens_at_the_first_tick_after_it_is_due(
    env: tuple[Environment, FrozenClock],
) -> None:
    environment, clock = env
    syncer = ScanSyncer(environment)
    previous = START - TICK
    now = START
    while now <= START + SCANS * SPACING + COMPLETED_AFTER + TICK:
        clock.set(now)
        moved = syncer.run_once()
        processing = reached(PROCESSING_AFTER, now)
        completed = reached(COMPLETED_AFTER, now)
        # This tick moved exactly the scans that became due since the last one...
        due_now = processing - reached(PROCESSING_AFTER, previous)
        finished_now = completed - reached(COMPLETED_AFTER, previous)
        changed_rows = len({*range(processing - due_now, processing)} |
                           {*range(completed - finished_now, completed)})
        assert moved == changed_rows, now
        # ...and every scan is stored in exactly the status the timeline gives it.
        assert stored_ranges(environment) == expected_ranges(processing, completed), now
        previous, now = now, now + TICK
    assert stored_counts(environment) == {"completed": SCANS}
    assert syncer.run_once() == 0

    # Each scan's row carries its own due times, not the time of the tick that moved it.
    rows = environment.db.query_one(
        "SELECT sum(updated_at != completes_at OR completed_at != completes_at) AS off"
        " FROM scans"
    )
    assert rows == {"off": 0}
    # Every scan has one processing and one completed event, stamped with its due time
    # (and its data says the same).
    stats = environment.db.query_one(
        """
        SELECT count(*) AS events,
               count(DISTINCT json_extract(e.data, '$.id') || e.type) AS distinct_events,
               sum(e.created_at != json_extract(e.data, '$.updatedAt')) AS off_data,
               sum(e.created_at != CASE e.type WHEN 'scan.processing' THEN s.processing_at
                                               ELSE s.completes_at END) AS off_due,
               sum(json_extract(e.data, '$.status') != substr(e.type, 6)) AS wrong_status,
               sum(e.project_id != s.project_id) AS wrong_project
        FROM events e JOIN scans s ON s.id = json_extract(e.data, '$.id')
        """
    )
    assert stats == {
        "events": 2 * SCANS,
        "distinct_events": 2 * SCANS,
        "off_data": 0,
        "off_due": 0,
        "wrong_status": 0,
        "wrong_project": 0,
    }


def vm_steps(env: Environment, run: Callable[[], object]) -> int:
    """SQLite virtual-machine instructions ``run`` executes on this thread's connection."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    connection = env.db.connection()
    connection.set_progress_handler(count, 1)
    try:
        run()
    finally:
        connection.set_progress_handler(None, 1)
    return steps


def finished(i: int) -> NewScan:
    """Scan ``i`` as stored once completed (no longer in the due-time index)."""
    new = staged(i)
    done = START + i * SPACING + COMPLETED_AFTER
    record = attrs.evolve(
        new.record, status="completed", updated_at=done, completed_at=done, due_at=None
    )
    return attrs.evolve(new, record=record)


def due_now(i: int, now: datetime) -> NewScan:
    """Scan ``i``, pending and due for ``processing`` at ``now``."""
    new = staged(i)
    record = attrs.evolve(
        new.record,
        created_at=now - PROCESSING_AFTER,
        updated_at=now - PROCESSING_AFTER,
        processing_at=now,
        completes_at=now - PROCESSING_AFTER + COMPLETED_AFTER,
        due_at=now,
    )
    return attrs.evolve(new, record=record)


def test_a_pass_does_the_same_work_beside_3_or_100000_finished_scans(tmp_path: Path) -> None:
    clock = FrozenClock(START + timedelta(days=1))
    platforms = [new_platform(tmp_path / name, clock=clock) for name in ("small", "big")]
    try:
        small, big = (p.environment("sandbox") for p in platforms)
        for environment, count in ((small, 3), (big, SCANS)):
            with environment.db.transaction():
                ScanStore(environment.db).insert(finished(i) for i in range(count))
        assert stored_counts(big) == {"completed": SCANS}
        # Nothing due: the same work whether 3 or 100,000 finished scans are stored,
        # counted in SQLite instructions (deterministic, unlike a timing)...
        idle = [vm_steps(e, ScanSyncer(e).run_once) for e in (small, big)]
        assert idle[0] == idle[1] > 0
        # ...and the same work to move one due scan.
        for environment in (small, big):
            with environment.db.transaction():
                ScanStore(environment.db).insert([due_now(SCANS + 1, clock.now())])
        moving = [vm_steps(e, ScanSyncer(e).run_once) for e in (small, big)]
        assert moving[0] == moving[1] > idle[0]
        assert stored_counts(big) == {"completed": SCANS, "processing": 1}
    finally:
        for platform in platforms:
            platform.close()
