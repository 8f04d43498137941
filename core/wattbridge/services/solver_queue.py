"""The solver queue: runs queued scans through the environment's solver, one at a time.

A pass claims the scan due longest ago with a lease (the solver's time limit,
the environment's ``solve_time_limit`` setting, plus a margin), marks it
``processing`` and writes ``scan.processing`` in the same transaction, runs
the solver outside any transaction, then stores the outcome, ``completed``
with its result or ``error`` for a :class:`~wattbridge.drivers.scans.SolverFailed`,
with its event, *only if the claim still holds*. A worker that dies mid-solve
leaves a lease that runs out; the scan is then due again and another pass
claims it. A scan that keeps failing unexpectedly is given up after
:data:`MAX_ATTEMPTS` claims.

The lifecycle never names a solver: any plugin whose solver has
``timeline = None`` is driven by this queue.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from wattbridge.drivers.scans import ScanSolver, SolveContext, SolverFailed
from wattbridge.models.scans import ScanInput
from wattbridge.serialization import structure
from wattbridge.services.scans import (
    EVENT_OF_STATUS,
    render_scan,
    with_result,
)
from wattbridge.store.scans import Claim, ScanRecord, ScanStore

if TYPE_CHECKING:
    from wattbridge.environments import Environment

log = logging.getLogger("wattbridge.workers.solver")

LEASE_MARGIN = timedelta(seconds=30)
"""How long past the solver's time limit a claim is held before another worker may take it."""

MAX_ATTEMPTS = 3
"""Claims of one scan (crashes and unexpected solver errors) before it is marked ``error``."""

RETRY_AFTER = timedelta(seconds=30)
"""Delay before a scan whose solver raised an unexpected error is tried again."""

GAVE_UP = (
    "The solver failed repeatedly on this scan. Try again later; if it keeps failing, "
    "contact support quoting the scan id."
)


class SolverQueue:
    """Worker: solves queued scans of one environment."""

    name = "solver-queue"
    interval = 1.0

    def __init__(self, env: Environment, time_limit: timedelta | None = None) -> None:
        """Solve ``env``'s queued scans; ``time_limit`` defaults to its ``solve_time_limit``."""
        self.env = env
        self.store = ScanStore(env.db)
        self.time_limit = env.config.solve_time_limit if time_limit is None else time_limit

    def run_once(self) -> int:
        """Claim and solve at most one due scan; return 1 if one was handled."""
        claim = self.claim()
        if claim is None:
            return 0
        if claim.record.attempts > MAX_ATTEMPTS:
            self._finish(claim, error=GAVE_UP)
            return 1
        try:
            result = self._solver().solve(
                structure(json.loads(claim.input_json), ScanInput),
                SolveContext(claim.record.id, self.time_limit),
            )
        except SolverFailed as exc:
            self._finish(claim, error=exc.message)
        except Exception:
            log.exception("solver failed unexpectedly on %s", claim.record.id)
            if claim.record.attempts >= MAX_ATTEMPTS:
                self._finish(claim, error=GAVE_UP)
            else:
                self.store.release(claim, self.env.clock.now() + RETRY_AFTER)
        else:
            outcome, result_json = with_result(claim.record, result)
            self._finish(claim, outcome=outcome, result_json=result_json)
        return 1

    def _solver(self) -> ScanSolver:
        solver: ScanSolver = self.env.solver
        return solver

    def claim(self) -> Claim | None:
        """Claim the scan due longest ago and mark it processing (the first half of a pass)."""
        env = self.env
        if not self.store.any_due("solver", env.clock.now()):
            return None  # the usual case: no write transaction, no write lock taken
        with env.db.transaction():
            now = env.clock.now()
            claim = self.store.claim(now, now + self.time_limit + LEASE_MARGIN)
            if claim is not None and claim.was_pending:
                env.event_service.record(
                    claim.record.project_id, "scan.processing", render_scan(claim.record), at=now
                )
        return claim

    def _finish(
        self,
        claim: Claim,
        *,
        outcome: ScanRecord | None = None,
        result_json: str | None = None,
        error: str | None = None,
    ) -> None:
        env = self.env
        with env.db.transaction():
            now = env.clock.now()
            if error is not None:
                final = attrs.evolve(
                    claim.record,
                    status="error",
                    updated_at=now,
                    has_error=True,
                    error_message=error,
                    due_at=None,
                )
            else:
                assert outcome is not None
                final = attrs.evolve(
                    outcome, status="completed", updated_at=now, completed_at=now, due_at=None
                )
            if self.store.finish(claim, final, result_json):
                env.event_service.record(
                    final.project_id, EVENT_OF_STATUS[final.status], render_scan(final), at=now
                )
            else:
                log.warning("scan %s: lease lost before the solver finished", claim.record.id)
