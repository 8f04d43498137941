"""Scans: create, read, list; what a scan looks like at a given instant.

Creation validates the body exactly the same way in every environment, then asks
the environment's solver how it schedules (:mod:`wattbridge.drivers.scans`):

- a solver with a ``timeline`` (the sandbox fixtures) answers at once; the result
  is stored with the scan, the validated payload is discarded, and the status
  follows the timeline (``pending`` → ``processing`` → ``completed``);
- a solver without one (the live solver) gets the validated input queued for
  the solver queue worker.

Either way the scan and its ``scan.pending`` event commit in one transaction.

**Reads never go backwards.** A timeline scan's visible status is computed
from its stored status *and* the elapsed time (:func:`as_of`): a read at 10.2 s
already shows ``completed`` even if the status syncer (every 2 s) has not
flipped the row yet. Both only ever move forward, so the visible status never
does either. The syncer stamps the row and its events with the timeline's
times, so ``updatedAt`` and the event's ``data`` agree with earlier reads; only
the event itself may be written up to one syncer interval after the flip.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from wattbridge.clock import isoformat
from wattbridge.drivers.scans import ScanSolver, SolveContext, SolverFailed, solves_without_io
from wattbridge.errors import ConfigurationError, InternalError, NotFound, ScanNotCompleted
from wattbridge.ids import new_id
from wattbridge.loopsafe import may_block
from wattbridge.models.scans import LOAD_PROFILES, ScanInput, ScanResult, ScanStatus
from wattbridge.serialization import unstructure
from wattbridge.store.scans import NewScan, ScanRecord, ScanStore, SharedResult
from wattbridge.validation.scans import check_studio_supported, validate_scan_input

if TYPE_CHECKING:
    from wattbridge.environments import Environment

STEPS: tuple[ScanStatus, ...] = ("pending", "processing", "completed")
"""The statuses of a successful scan, in order; ``error`` ends a scan instead of ``completed``."""

FINISHED: frozenset[ScanStatus] = frozenset({"completed", "error"})

SOLVE_TIME_LIMIT = timedelta(seconds=60)
"""The time budget a solver gets per scan."""


# --- the scan at an instant ----------------------------------------------------------


def as_of(record: ScanRecord, now: datetime) -> ScanRecord:
    """The scan as it stands at ``now``: a timeline scan's due steps applied.

    Pure and monotonic: the result never has an earlier status than ``record``,
    and a later ``now`` never gives an earlier status. Each step carries the
    time it was due as ``updatedAt`` (and ``completedAt``), not the time of the read.
    """
    if record.scheduler != "timeline" or record.status in FINISHED:
        return record
    if record.completes_at is not None and now >= record.completes_at:
        return attrs.evolve(
            record,
            status="completed",
            updated_at=record.completes_at,
            completed_at=record.completes_at,
            due_at=None,
        )
    if record.status == "pending" and record.processing_at and now >= record.processing_at:
        return attrs.evolve(
            record,
            status="processing",
            updated_at=record.processing_at,
            due_at=record.completes_at,
        )
    return record


def steps_between(before: ScanStatus, after: ScanStatus) -> list[ScanStatus]:
    """The statuses a scan enters going from ``before`` to ``after`` (each fires an event)."""
    if before == after:
        return []
    if after == "error":
        return ["error"]
    return list(STEPS[STEPS.index(before) + 1 : STEPS.index(after) + 1])


EVENT_OF_STATUS: dict[ScanStatus, str] = {
    "pending": "scan.pending",
    "processing": "scan.processing",
    "completed": "scan.completed",
    "error": "scan.failed",
}


def _credits(record: ScanRecord) -> int | None:
    if record.cost is None:
        return None
    return 0 if record.status == "error" else int(record.cost)


def render_scan(record: ScanRecord) -> dict[str, Any]:
    """The public form of a scan (also the ``data`` of its events)."""
    done = record.status == "completed"
    return {
        "id": record.id,
        "status": record.status,
        "goal": record.goal,
        "inputMethod": record.input_method,
        "createdAt": isoformat(record.created_at),
        "updatedAt": isoformat(record.updated_at),
        "completedAt": None if record.completed_at is None else isoformat(record.completed_at),
        # A scan that ends in error is not charged (docs/billing.md); credits are
        # whole numbers, stored in a REAL column.
        "cost": _credits(record),
        "overage": record.overage,
        "hasError": record.has_error,
        "errorMessage": record.error_message,
        "selfSufficiency": record.self_sufficiency if done else None,
        "returnPeriod": record.return_period if done else None,
        "co2SavedKg": record.co2_saved_kg if done else None,
    }


def summarised(record: ScanRecord, result: ScanResult) -> ScanRecord:
    """``record`` carrying the result's summary figures."""
    return attrs.evolve(
        record,
        self_sufficiency=result.self_sufficiency,
        return_period=result.financial.return_period,
        co2_saved_kg=result.co2_saved_kg,
    )


def with_result(record: ScanRecord, result: ScanResult) -> tuple[ScanRecord, str]:
    """``record`` carrying the result's summary figures, and the result document."""
    return summarised(record, result), encode_result(result)


def encode_result(result: ScanResult) -> str:
    """The stored JSON text of a result."""
    return json.dumps(unstructure(result), separators=(",", ":"))


_SHARED: dict[int, tuple[ScanResult, SharedResult]] = {}
_SHARED_MAX = 64


def shared_result(result: ScanResult) -> SharedResult:
    """The result as a document shared by every scan it answers, remembered per object.

    Pre-staged solvers answer from a handful of result objects (the sandbox's 20
    fixtures): encoding one (~9 kB, mostly floats) was the largest single cost
    of creating a scan, and storing it with every scan the largest write. An
    entry holds the object itself, so its ``id`` cannot be reused while the
    entry lives; results are immutable. The digest names the document's
    content, so a changed fixture is stored anew and old scans keep theirs.
    """
    cached = _SHARED.get(id(result))
    if cached is not None and cached[0] is result:
        return cached[1]
    document = encode_result(result)
    shared = SharedResult(hashlib.sha256(document.encode()).hexdigest(), document)
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    _SHARED[id(result)] = (result, shared)
    return shared


# --- metering: the seam for credits, tier limits and billing ------------------------


@attrs.frozen
class Admission:
    """What the meter decided for a new scan: whether it counts, and what it costs.

    ``overage``: the scan runs past its project's monthly tier limit.
    """

    metered: bool
    cost: float | None
    overage: bool = False


class ScanMeter(Protocol):
    """Decides whether a scan may start and what it costs.

    Called inside the creating transaction: raising (for example
    :class:`~wattbridge.errors.ScanLimitReached`) stores nothing.
    """

    def admit(self, project_id: str, scan_id: str, at: datetime) -> Admission:
        """Admit one scan of ``project_id`` created at ``at``."""
        ...


class Unmetered:
    """Nothing is counted and nothing costs anything (the sandbox)."""

    def admit(self, project_id: str, scan_id: str, at: datetime) -> Admission:
        """Every scan is free and uncounted."""
        return Admission(metered=False, cost=None)


def default_meter(env: Environment) -> ScanMeter:
    """The meter an environment's settings ask for (``metered``)."""
    from wattbridge.services.metering import LiveMeter  # imports this module

    return LiveMeter(env) if env.config.metered else Unmetered()


# --- the service ---------------------------------------------------------------------


class ScanService:
    """The scans of one environment."""

    def __init__(self, env: Environment, meter: ScanMeter | None = None) -> None:
        self.env = env
        self.store = ScanStore(env.db)
        self.meter = meter or default_meter(env)

    def _solver(self) -> ScanSolver:
        try:
            solver: ScanSolver = self.env.solver
        except ConfigurationError as exc:
            raise InternalError(
                f"Scans are not available in the {self.env.name} environment: {exc}."
            ) from None
        return solver

    def create(self, project_id: str, raw: object) -> dict[str, Any]:
        """Validate a CreateScan body, store the scan as ``pending`` and return it.

        :raises SandboxStudioUnsupported: a studio request to a solver without studio
            support (wins over validation errors).
        :raises ValidationFailed: every problem of the body; nothing is stored.
        """
        solver = self._solver()
        check_studio_supported(raw, supported=solver.supports_studio)
        scan = validate_scan_input(raw)
        now = self.env.clock.now()
        scan_id = new_id("scan")
        record = ScanRecord(
            id=scan_id,
            project_id=project_id,
            scheduler="timeline" if solver.timeline is not None else "solver",
            status="pending",
            goal=scan.goal,
            input_method=scan.input_method,
            created_at=now,
            updated_at=now,
            due_at=now,
        )
        new = self._staged(solver, scan, record) if solver.timeline else self._queued(scan, record)
        with self.env.db.transaction():
            admission = self.meter.admit(project_id, scan_id, now)
            stored = attrs.evolve(
                new.record,
                metered=admission.metered,
                cost=admission.cost,
                overage=admission.overage,
            )
            self.store.insert([attrs.evolve(new, record=stored)])
            rendered = render_scan(stored)  # the answer, and the data of its status's event
            self.env.event_service.record_many([
                (
                    project_id,
                    EVENT_OF_STATUS[status],
                    rendered
                    if status == stored.status
                    else render_scan(attrs.evolve(stored, status=status)),
                    now,
                )
                for status in ["pending", *steps_between("pending", stored.status)]
            ])
        return rendered

    def _staged(self, solver: ScanSolver, scan: ScanInput, record: ScanRecord) -> NewScan:
        # Pre-staged: solve now, keep only the result; the input is discarded.
        timeline = solver.timeline
        assert timeline is not None
        if not solves_without_io(solver):
            may_block(f"solving with the {solver.name} solver")
        try:
            result = solver.solve(scan, SolveContext(record.id, SOLVE_TIME_LIMIT))
        except SolverFailed as exc:
            failed = attrs.evolve(
                record, status="error", has_error=True, error_message=exc.message, due_at=None
            )
            return NewScan(record=failed)
        processing_at = record.created_at + timeline.processing_after
        staged = attrs.evolve(
            record,
            processing_at=processing_at,
            completes_at=record.created_at + timeline.completed_after,
            due_at=processing_at,
        )
        return NewScan(record=summarised(staged, result), shared_result=shared_result(result))

    def _queued(self, scan: ScanInput, record: ScanRecord) -> NewScan:
        # Due at once for the solver queue, which needs the validated input.
        input_json = json.dumps(unstructure(scan), separators=(",", ":"))
        return NewScan(record=record, input_json=input_json)

    def _record(self, project_id: str, scan_id: str) -> ScanRecord:
        return self._now(scan_id, self.store.get(project_id, scan_id))

    def _now(self, scan_id: str, record: ScanRecord | None) -> ScanRecord:
        """A scan as it stands now (its timeline applied), or 404 for None."""
        if record is None:
            raise NotFound(f"No scan {scan_id!r} in this project and environment.")
        return as_of(record, self.env.clock.now())

    def get(self, project_id: str, scan_id: str) -> dict[str, Any]:
        """One scan as it stands now, or 404 (also for other projects and environments)."""
        return render_scan(self._record(project_id, scan_id))

    def status(self, project_id: str, scan_id: str) -> dict[str, Any]:
        """``{id, status, updatedAt}`` of one scan."""
        record = self._record(project_id, scan_id)
        return {"id": record.id, "status": record.status, "updatedAt": isoformat(record.updated_at)}

    def result(self, project_id: str, scan_id: str) -> dict[str, Any]:
        """The result of a completed scan.

        :raises NotFound: no such scan in this project and environment.
        :raises ScanNotCompleted: before completion, and for a scan that failed.
        """
        record, result = self.completed(project_id, scan_id)
        return {"scanId": record.id, "goal": record.goal, **result}

    def completed(self, project_id: str, scan_id: str) -> tuple[ScanRecord, dict[str, Any]]:
        """A completed scan and its result document (one read).

        :raises NotFound: no such scan in this project and environment.
        :raises ScanNotCompleted: before completion, and for a scan that failed.
        """
        stored, document = self.store.get_with_result(project_id, scan_id) or (None, None)
        record = self._now(scan_id, stored)
        if record.status == "error":
            raise ScanNotCompleted(
                f"Scan {scan_id} failed and has no result: {record.error_message}"
            )
        if record.status != "completed" or document is None:
            raise ScanNotCompleted(
                f"Scan {scan_id} is {record.status}; its result is available once it is "
                "completed. Poll GET /v1/scans/{id}/status or listen for scan.completed."
            )
        return record, json.loads(document)

    def list(self, project_id: str, page: int, limit: int) -> dict[str, Any]:
        """A page of the project's scans, newest first, in the scan API's list shape."""
        records, total = self.store.page(project_id, limit, (page - 1) * limit)
        now = self.env.clock.now()
        return {
            "items": [render_scan(as_of(r, now)) for r in records],
            "total": total,
            "page": page,
            "limit": limit,
            "totalPages": math.ceil(total / limit),
        }

    def usage(self, project_id: str) -> dict[str, Any]:
        """This calendar month's (UTC) metered scans, credits and plan of the project."""
        from wattbridge.services.metering import usage_report  # imports this module

        return usage_report(self.env, project_id)


def load_profiles() -> list[dict[str, str]]:
    """The standard load profiles, in display order."""
    return [{"name": name, "description": text} for name, text in LOAD_PROFILES.items()]
