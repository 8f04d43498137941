"""The scan-solver contract: validated input in, a sizing result out.

The scan lifecycle (statuses, events, storage, credits) belongs to the core; a
solver only computes. A solver never sees raw JSON: it receives the validated
:class:`~wattbridge.models.scans.ScanInput`.

Two scheduling styles exist, declared by the solver, so the lifecycle never
asks which environment it runs in:

- ``timeline`` set: the solver answers at once (pre-computed results); the core
  stores the result on creation and reveals it by elapsed time
  (``pending`` → ``processing`` → ``completed``);
- ``timeline`` None: the core queues the scan and a worker calls :meth:`solve`
  in the background, honouring ``SolveContext.time_limit``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from wattbridge.drivers.base import EnvironmentName

if TYPE_CHECKING:
    from wattbridge.models.scans import ScanInput, ScanResult


@attrs.frozen
class ScanTimeline:
    """When a pre-staged scan shows ``processing`` and ``completed``, after creation."""

    processing_after: timedelta
    completed_after: timedelta


@attrs.frozen
class SolveContext:
    """What a solver may need besides the input: the scan id and its time budget."""

    scan_id: str
    time_limit: timedelta


class SolverFailed(Exception):
    """The input cannot be solved; ``message`` tells the user what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@runtime_checkable
class ScanSolver(Protocol):
    """A sizing solver, registered by ``register_scan_solvers``."""

    name: str
    environments: frozenset[EnvironmentName]
    timeline: ScanTimeline | None
    supports_studio: bool
    """Whether the solver handles studio scans (custom load profiles); the core
    refuses studio requests up front for a solver that does not."""

    def solve(self, scan: ScanInput, context: SolveContext) -> ScanResult:
        """Size PV and battery for ``scan``.

        :raises SolverFailed: infeasible input, time limit or solver failure,
            with a message that says what to change.
        """
        ...


def solves_without_io(solver: object) -> bool:
    """Whether a solver declared ``solves_without_io = True``.

    Optional, for solvers with a ``timeline`` (they solve while the scan is
    created): such a solver promises that ``solve`` answers from its arguments
    and data it already holds within a millisecond or so (no network, no
    waiting), so the core may create scans on the event loop
    (:mod:`wattbridge.store.loop_batch`). A solver that says nothing is called
    from a worker thread.
    """
    return getattr(solver, "solves_without_io", False) is True
