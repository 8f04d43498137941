"""Scans: one row per scan, found by project for the API and by due time for the workers.

Two schedulers move scans forward, told apart by the ``scheduler`` column:

- ``timeline``: the result was stored at creation (a pre-staged solver such as
  the sandbox fixtures); the status syncer flips the status at the stored
  ``processing_at`` and ``completes_at`` times;
- ``solver``: the validated input is stored and the solver queue claims the
  row with a lease, runs the solver and stores the result.

``due_at`` is the next time a worker must look at a row, and NULL once the scan
is finished. A partial index on it means a worker pass costs O(rows due), not
O(table): finished scans are not in the index at all. For a claimed solver row
``due_at`` is the end of its lease, so a row whose worker died becomes due again
through the same index.

Times are stored as :func:`~wattbridge.clock.isoformat` strings (fixed width,
UTC, ``Z``), which sort like the instants they name.

A result is stored with its scan (``result``), except a *shared* one: a
pre-staged solver answers many scans with the same document (the sandbox's 20
fixtures), which is stored once in ``scan_results`` under its digest and
referenced by ``result_digest``. A scan row then stays small, so creating it and
moving it along its timeline write a few hundred bytes instead of ~9 kB each
time (SQLite rewrites a whole row on every update).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs
from sqlite_utils import Migrations

from wattbridge.clock import isoformat, parse_instant
from wattbridge.models.scans import ScanStatus
from wattbridge.store.sqlite import Database, Row

Scheduler = Literal["timeline", "solver"]

migrations = Migrations("wattbridge.scans")


@migrations()
def m001_scans(db):  # type: ignore[no-untyped-def]
    db.execute(
        """
        CREATE TABLE scans (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            scheduler TEXT NOT NULL,
            status TEXT NOT NULL,
            goal TEXT NOT NULL,
            input_method TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            completed_at TEXT,
            processing_at TEXT,
            completes_at TEXT,
            due_at TEXT,
            metered INTEGER NOT NULL DEFAULT 0,
            cost REAL,
            has_error INTEGER NOT NULL DEFAULT 0,
            error_message TEXT,
            self_sufficiency REAL,
            return_period REAL,
            co2_saved_kg REAL,
            input TEXT,
            result TEXT,
            claim_token TEXT,
            attempts INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("CREATE INDEX scans_project_created ON scans (project_id, created_at, id)")
    db.execute("CREATE INDEX scans_due ON scans (scheduler, due_at) WHERE due_at IS NOT NULL")
    db.execute("CREATE INDEX scans_metered ON scans (project_id, created_at) WHERE metered = 1")


@migrations()
def m002_scan_overage(db):  # type: ignore[no-untyped-def]
    # Set at admission: the scan ran past its project's monthly tier limit.
    db.execute("ALTER TABLE scans ADD COLUMN overage INTEGER NOT NULL DEFAULT 0")


@migrations()
def m003_shared_results(db):  # type: ignore[no-untyped-def]
    # Result documents shared by many scans, stored once (see the module docstring).
    db.execute(
        "CREATE TABLE scan_results (digest TEXT PRIMARY KEY, document TEXT NOT NULL)"
    )
    db.execute("ALTER TABLE scans ADD COLUMN result_digest TEXT")


@attrs.frozen(kw_only=True)
class ScanRecord:
    """A scan as stored (without its input and result documents)."""

    id: str
    project_id: str
    scheduler: Scheduler
    status: ScanStatus
    goal: str
    input_method: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    processing_at: datetime | None = None
    completes_at: datetime | None = None
    due_at: datetime | None = None
    metered: bool = False
    cost: float | None = None
    overage: bool = False
    has_error: bool = False
    error_message: str | None = None
    self_sufficiency: float | None = None
    return_period: float | None = None
    co2_saved_kg: float | None = None
    attempts: int = 0


@attrs.frozen
class SharedResult:
    """A result document that many scans share, stored once under its digest."""

    digest: str
    document: str


@attrs.frozen(kw_only=True)
class NewScan:
    """What is inserted: the record plus its documents (JSON text).

    A result is either the scan's own (``result_json``) or ``shared_result``.
    """

    record: ScanRecord
    input_json: str | None = None
    result_json: str | None = None
    shared_result: SharedResult | None = None


@attrs.frozen
class Claim:
    """A solver row claimed by one worker until ``locked_until``.

    ``record`` is the row as the claim left it (``processing``); ``was_pending``
    tells a first claim from a retry after a lost lease.
    """

    record: ScanRecord
    input_json: str
    token: str
    was_pending: bool


_TIMES = ("created_at", "updated_at", "completed_at", "processing_at", "completes_at", "due_at")
_RECORD_COLUMNS = ", ".join(a.name for a in attrs.fields(ScanRecord))
_QUALIFIED_COLUMNS = ", ".join(f"s.{a.name}" for a in attrs.fields(ScanRecord))
_INSERT_COLUMNS = (*(a.name for a in attrs.fields(ScanRecord)), "input", "result", "result_digest")
_INSERT_SQL = (
    f"INSERT INTO scans ({', '.join(_INSERT_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})"
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


def _record(row: Row) -> ScanRecord:
    values: dict[str, Any] = {name: row[name] for name in attrs.fields_dict(ScanRecord)}
    for name in _TIMES:
        if values[name] is not None:
            values[name] = parse_instant(values[name])
    values["metered"] = bool(values["metered"])
    values["overage"] = bool(values["overage"])
    values["has_error"] = bool(values["has_error"])
    return ScanRecord(**values)


def _params(new: NewScan) -> tuple[Any, ...]:
    rec = new.record
    values = [getattr(rec, a.name) for a in attrs.fields(ScanRecord)]
    values = [_iso(v) if isinstance(v, datetime) else v for v in values]
    digest = None if new.shared_result is None else new.shared_result.digest
    return (*values, new.input_json, new.result_json, digest)


class ScanStore:
    """Repository of the scans of one environment."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- creation and reads ----------------------------------------------------

    def insert(self, scans: Iterable[NewScan]) -> None:
        """Insert scans (one or many; call inside the transaction that records their events)."""
        batch = scans if isinstance(scans, list) else list(scans)
        shared = {s.shared_result.digest: s.shared_result for s in batch if s.shared_result}
        if shared:
            # Usually already there: then this is one index lookup and writes nothing.
            self.db.executemany(
                "INSERT OR IGNORE INTO scan_results (digest, document) VALUES (?, ?)",
                [(r.digest, r.document) for r in shared.values()],
            )
        self.db.executemany(_INSERT_SQL, [_params(s) for s in batch])

    def get(self, project_id: str, scan_id: str) -> ScanRecord | None:
        """One scan of a project, or None (another project's scan is None too)."""
        row = self.db.query_one(
            f"SELECT {_RECORD_COLUMNS} FROM scans WHERE id = ? AND project_id = ?",
            (scan_id, project_id),
        )
        return None if row is None else _record(row)

    def get_with_result(
        self, project_id: str, scan_id: str
    ) -> tuple[ScanRecord, str | None] | None:
        """One scan of a project and its stored result document (its own or a shared
        one, None before completion), in one query; None when there is no such scan."""
        row = self.db.query_one(
            f"SELECT {_QUALIFIED_COLUMNS}, coalesce(s.result, r.document) AS result_document"
            " FROM scans s LEFT JOIN scan_results r ON r.digest = s.result_digest"
            " WHERE s.id = ? AND s.project_id = ?",
            (scan_id, project_id),
        )
        return None if row is None else (_record(row), row["result_document"])

    def page(self, project_id: str, limit: int, offset: int) -> tuple[list[ScanRecord], int]:
        """A page of a project's scans, newest first, and the project's total."""
        total = self.db.count("SELECT count(*) FROM scans WHERE project_id = ?", (project_id,))
        rows = self.db.query(
            f"SELECT {_RECORD_COLUMNS} FROM scans WHERE project_id = ?"
            " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (project_id, limit, offset),
        )
        return [_record(r) for r in rows], total

    # -- the status syncer (timeline scans) -------------------------------------

    def any_due(self, scheduler: Scheduler, now: datetime) -> bool:
        """Whether a scan of ``scheduler`` is due: a plain read, so that an idle worker
        checks without taking the write lock (it claims inside a transaction after)."""
        return bool(self.due(scheduler, now, 1))

    def due(self, scheduler: Scheduler, now: datetime, limit: int) -> list[ScanRecord]:
        """Unfinished scans of ``scheduler`` whose due time has come, oldest due first."""
        rows = self.db.query(
            f"SELECT {_RECORD_COLUMNS} FROM scans"
            " WHERE scheduler = ? AND due_at IS NOT NULL AND due_at <= ?"
            " ORDER BY due_at LIMIT ?",
            (scheduler, isoformat(now), limit),
        )
        return [_record(r) for r in rows]

    def advance(self, changes: Sequence[ScanRecord]) -> None:
        """Store the new status, times and due time of timeline scans (inside a transaction).

        Each update only applies if the row is still in an earlier status, so a
        second syncer that raced this one cannot move a scan twice.
        """
        self.db.executemany(
            "UPDATE scans SET status = ?, updated_at = ?, completed_at = ?, due_at = ?"
            " WHERE id = ? AND status != ?",
            [
                (
                    rec.status,
                    isoformat(rec.updated_at),
                    _iso(rec.completed_at),
                    _iso(rec.due_at),
                    rec.id,
                    rec.status,
                )
                for rec in changes
            ],
        )

    # -- the solver queue (solver scans) ----------------------------------------

    def claim(self, now: datetime, locked_until: datetime) -> Claim | None:
        """Claim the solver scan due longest ago (pending, or with an expired lease).

        Call inside a write transaction (``BEGIN IMMEDIATE`` makes the claim
        atomic). The row turns ``processing``, its due time becomes the end of
        the lease and a fresh token must be shown to complete it.
        """
        row = self.db.query_one(
            f"SELECT {_RECORD_COLUMNS}, input FROM scans"
            " WHERE scheduler = 'solver' AND due_at IS NOT NULL AND due_at <= ?"
            " ORDER BY due_at LIMIT 1",
            (isoformat(now),),
        )
        if row is None:
            return None
        token = secrets.token_hex(16)
        self.db.execute(
            "UPDATE scans SET status = 'processing', updated_at = ?, due_at = ?,"
            " claim_token = ?, attempts = attempts + 1 WHERE id = ?",
            (isoformat(now), isoformat(locked_until), token, row["id"]),
        )
        before = _record(row)
        record = attrs.evolve(
            before,
            status="processing",
            updated_at=now,
            due_at=locked_until,
            attempts=before.attempts + 1,
        )
        return Claim(record, str(row["input"] or ""), token, before.status == "pending")

    def finish(self, claim: Claim, outcome: ScanRecord, result_json: str | None) -> bool:
        """Store a claimed scan's outcome if the claim still holds; False when it was lost.

        ``outcome`` carries the final status, times, error and summary figures.
        """
        return (
            self.db.execute(
                "UPDATE scans SET status = ?, updated_at = ?, completed_at = ?, due_at = NULL,"
                " has_error = ?, error_message = ?, self_sufficiency = ?, return_period = ?,"
                " co2_saved_kg = ?, result = ?, claim_token = NULL"
                " WHERE id = ? AND claim_token = ?",
                (
                    outcome.status,
                    isoformat(outcome.updated_at),
                    _iso(outcome.completed_at),
                    int(outcome.has_error),
                    outcome.error_message,
                    outcome.self_sufficiency,
                    outcome.return_period,
                    outcome.co2_saved_kg,
                    result_json,
                    claim.record.id,
                    claim.token,
                ),
            )
            == 1
        )

    def release(self, claim: Claim, due_at: datetime) -> bool:
        """Give a claimed scan back to the queue, due again at ``due_at``."""
        return (
            self.db.execute(
                "UPDATE scans SET due_at = ?, claim_token = NULL WHERE id = ? AND claim_token = ?",
                (isoformat(due_at), claim.record.id, claim.token),
            )
            == 1
        )
