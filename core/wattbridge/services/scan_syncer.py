"""The status syncer: moves pre-staged (timeline) scans along their timeline.

Every ``interval`` seconds it reads the timeline scans whose due time has come
(through the partial index on the due time, so finished scans cost nothing),
stores their new status and writes ``scan.processing`` / ``scan.completed`` to
the outbox in the same transaction. A scan the syncer reaches late (the process
was down) goes through every step it missed, each event stamped with the time
the step was due.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wattbridge.services.scans import EVENT_OF_STATUS, as_of, render_scan, steps_between
from wattbridge.services.solver_queue import SolverQueue
from wattbridge.store.scans import ScanStore

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.workers import Worker

BATCH = 500
"""Scans moved per transaction: the write lock is held for tens of milliseconds at
most, so API requests that write (creating a scan) interleave with a large backlog."""


class ScanSyncer:
    """Worker: applies due timeline steps of one environment's scans."""

    name = "scan-syncer"
    interval = 2.0

    def __init__(self, env: Environment, batch: int = BATCH) -> None:
        self.env = env
        self.store = ScanStore(env.db)
        self.batch = batch

    def run_once(self) -> int:
        """Apply every step due now; return how many scans changed."""
        moved = 0
        while True:
            count = self._one_batch()
            moved += count
            if count < self.batch:
                return moved

    def _one_batch(self) -> int:
        env = self.env
        if not self.store.any_due("timeline", env.clock.now()):
            return 0  # the usual case: no write transaction, no write lock taken
        with env.db.transaction():
            now = env.clock.now()
            due = self.store.due("timeline", now, self.batch)
            changed = [as_of(record, now) for record in due]
            self.store.advance(changed)
            events = []
            for before, after in zip(due, changed, strict=True):
                steps = steps_between(before.status, after.status)
                for status in steps:
                    # Stamp each step with the time it was due, not the time of this pass
                    # (``after`` already is that step when it is the only one).
                    at = after.processing_at if status == "processing" else after.completes_at
                    step = after if len(steps) == 1 else as_of(before, at or now)
                    events.append(
                        (after.project_id, EVENT_OF_STATUS[status], render_scan(step),
                         step.updated_at)
                    )
            env.event_service.record_many(events)
        return len(due)


def scan_workers(env: Environment) -> list[Worker]:
    """The scan workers of one environment: the status syncer and the solver queue."""
    return [ScanSyncer(env), SolverQueue(env)]
