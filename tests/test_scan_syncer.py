"""The status syncer over 100,000 in-flight scans, driven tick by tick by a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
        # ...and the stored statuses are exactly what the timeline says.
        expected = {
            "pending": SCANS - processing,
            "processing": processing - completed,
            "completed": completed,
        }
        assert stored_counts(environment) == {k: v for k, v in expected.items() if v}, now
        previous, now = now, now + TICK
    assert stored_counts(environment) == {"completed": SCANS}
    assert syncer.run_once() == 0

    # Every scan has one processing and one completed event, stamped with its due time.
    stats = environment.db.query_one(
        """
        SELECT count(*) AS events,
               count(DISTINCT json_extract(data, '$.id') || type) AS distinct_events,
               sum(created_at != json_extract(data, '$.updatedAt')) AS off_time,
               sum(type = 'scan.completed' AND json_extract(data, '$.status') != 'completed')
                   AS wrong_status
        FROM events
        """
    )
    assert stats == {
        "events": 2 * SCANS,
        "distinct_events": 2 * SCANS,
        "off_time": 0,
        "wrong_status": 0,
    }
