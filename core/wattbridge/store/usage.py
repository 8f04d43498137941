"""Usage: the monthly meter's counts, the usage-event outbox and its deliveries to sinks.

A metered scan writes one ``usage_events`` row in the transaction that creates
it, in state ``held``: the charge exists (a crash cannot lose it) but is not
billed yet, because a scan that ends in ``error`` is not charged. The billing
worker settles held rows once their scan has finished: ``charged`` (one
``usage_deliveries`` row per configured sink, due at once) or ``void``.

Each delivery row is claimed with a lease (``due_at`` becomes the end of the
lease, plus a claim token the completion must match), so one failing sink only
delays its own rows and several workers can share a data dir. Partial indexes
keep every worker query proportional to the work in flight: held events and
undelivered rows only.

The monthly counts read the ``scans`` table itself (through its
``scans_metered`` index), where a scan's status changes the moment it fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

import attrs
from sqlite_utils import Migrations

from wattbridge.clock import isoformat, parse_instant
from wattbridge.drivers.billing import UsageEvent
from wattbridge.store.sqlite import Database, Row

UsageState = Literal["held", "charged", "void"]

migrations = Migrations("wattbridge.usage")


@migrations()
def m001_usage_events(db):  # type: ignore[no-untyped-def]
    db.execute(
        """
        CREATE TABLE usage_events (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            scan_id TEXT NOT NULL UNIQUE,
            credits INTEGER NOT NULL,
            overage INTEGER NOT NULL,
            occurred_at TEXT NOT NULL,
            state TEXT NOT NULL,
            settled_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX usage_events_held ON usage_events (occurred_at) WHERE state = 'held'")
    db.execute(
        """
        CREATE TABLE usage_deliveries (
            event_id TEXT NOT NULL REFERENCES usage_events(id),
            sink TEXT NOT NULL,
            due_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            delivered_at TEXT,
            last_error TEXT,
            claim_token TEXT,
            PRIMARY KEY (event_id, sink)
        )
        """
    )
    db.execute(
        "CREATE INDEX usage_deliveries_due ON usage_deliveries (due_at) WHERE due_at IS NOT NULL"
    )


@attrs.frozen
class MonthUsage:
    """A project's metered scans in a period that are (or will be) charged."""

    scans: int
    credits: int
    overage_scans: int


@attrs.frozen
class Settlement:
    """A held usage event whose scan has finished: charge it, or void it."""

    event_id: str
    charge: bool


@attrs.frozen
class DeliveryClaim:
    """One usage event claimed for one sink until the lease ends."""

    event: UsageEvent
    sink: str
    attempts: int
    token: str


@attrs.frozen
class DeliveryRecord:
    """Where the delivery of a usage event to one sink stands (for operators and tests)."""

    event_id: str
    scan_id: str
    sink: str
    state: UsageState
    attempts: int
    delivered_at: str | None
    last_error: str | None


def _event(row: Row) -> UsageEvent:
    return UsageEvent(
        id=row["id"],
        project_id=row["project_id"],
        scan_id=row["scan_id"],
        credits=int(row["credits"]),
        overage=bool(row["overage"]),
        occurred_at=parse_instant(row["occurred_at"]),
    )


class UsageStore:
    """Repository of usage counts, usage events and deliveries of one environment."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the meter ------------------------------------------------------------------

    def month_usage(self, project_id: str, start: datetime, end: datetime) -> MonthUsage:
        """Metered scans created in ``[start, end)`` that did not fail, their credits
        and how many of them ran past the tier limit."""
        row = self.db.query_one(
            "SELECT count(*) AS n, coalesce(sum(cost), 0) AS credits,"
            " coalesce(sum(overage), 0) AS over FROM scans"
            " WHERE project_id = ? AND metered = 1 AND created_at >= ? AND created_at < ?"
            " AND status != 'error'",
            (project_id, isoformat(start), isoformat(end)),
        )
        if row is None:
            return MonthUsage(0, 0, 0)
        return MonthUsage(int(row["n"]), int(row["credits"]), int(row["over"]))

    def hold(self, event: UsageEvent) -> None:
        """Write a usage event, held until its scan finishes (inside the scan's transaction)."""
        self.db.execute(
            "INSERT INTO usage_events (id, project_id, scan_id, credits, overage, occurred_at,"
            " state) VALUES (?, ?, ?, ?, ?, ?, 'held')",
            (
                event.id,
                event.project_id,
                event.scan_id,
                event.credits,
                int(event.overage),
                isoformat(event.occurred_at),
            ),
        )

    # -- settling -------------------------------------------------------------------

    def finished_held(self, limit: int) -> list[Settlement]:
        """Held events whose scan has completed (charge) or failed (void), oldest first."""
        rows = self.db.query(
            "SELECT u.id, s.status FROM usage_events u JOIN scans s ON s.id = u.scan_id"
            " WHERE u.state = 'held' AND s.status IN ('completed', 'error')"
            " ORDER BY u.occurred_at LIMIT ?",
            (limit,),
        )
        return [Settlement(r["id"], r["status"] == "completed") for r in rows]

    def settle(self, settlement: Settlement, sinks: Iterable[str], now: datetime) -> bool:
        """Charge (with one due delivery per sink) or void a held event (inside a
        transaction); False when another worker settled it first."""
        state: UsageState = "charged" if settlement.charge else "void"
        changed = self.db.execute(
            "UPDATE usage_events SET state = ?, settled_at = ? WHERE id = ? AND state = 'held'",
            (state, isoformat(now), settlement.event_id),
        )
        if changed != 1:
            return False
        if settlement.charge:
            self.db.executemany(
                "INSERT INTO usage_deliveries (event_id, sink, due_at) VALUES (?, ?, ?)",
                [(settlement.event_id, sink, isoformat(now)) for sink in sinks],
            )
        return True

    # -- delivering -----------------------------------------------------------------

    def claim(
        self, sinks: Sequence[str], now: datetime, locked_until: datetime, limit: int
    ) -> list[DeliveryClaim]:
        """Claim due deliveries to ``sinks`` (inside a write transaction), oldest due first."""
        if not sinks:
            return []
        marks = ", ".join("?" for _ in sinks)
        rows = self.db.query(
            "SELECT d.sink, d.attempts, e.* FROM usage_deliveries d"
            " JOIN usage_events e ON e.id = d.event_id"
            f" WHERE d.due_at IS NOT NULL AND d.due_at <= ? AND d.sink IN ({marks})"
            " ORDER BY d.due_at LIMIT ?",
            (isoformat(now), *sinks, limit),
        )
        token = secrets.token_hex(16)
        self.db.executemany(
            "UPDATE usage_deliveries SET due_at = ?, claim_token = ?, attempts = attempts + 1"
            " WHERE event_id = ? AND sink = ?",
            [(isoformat(locked_until), token, r["id"], r["sink"]) for r in rows],
        )
        return [DeliveryClaim(_event(r), r["sink"], int(r["attempts"]) + 1, token) for r in rows]

    def delivered(self, claim: DeliveryClaim, now: datetime) -> bool:
        """Mark a claimed delivery done; False when the claim was lost to another worker."""
        return (
            self.db.execute(
                "UPDATE usage_deliveries SET due_at = NULL, delivered_at = ?, last_error = NULL,"
                " claim_token = NULL WHERE event_id = ? AND sink = ? AND claim_token = ?",
                (isoformat(now), claim.event.id, claim.sink, claim.token),
            )
            == 1
        )

    def failed(self, claim: DeliveryClaim, retry_at: datetime, error: str) -> bool:
        """Record a failed attempt and when to try again; False when the claim was lost."""
        return (
            self.db.execute(
                "UPDATE usage_deliveries SET due_at = ?, last_error = ?, claim_token = NULL"
                " WHERE event_id = ? AND sink = ? AND claim_token = ?",
                (isoformat(retry_at), error[:500], claim.event.id, claim.sink, claim.token),
            )
            == 1
        )

    # -- reading --------------------------------------------------------------------

    def deliveries(self, scan_id: str) -> list[DeliveryRecord]:
        """The usage event of a scan and its deliveries, one record per sink.

        A held or void event has no deliveries; it is returned with ``sink`` empty.
        """
        rows = self.db.query(
            "SELECT e.id, e.scan_id, e.state, d.sink, d.attempts, d.delivered_at, d.last_error"
            " FROM usage_events e LEFT JOIN usage_deliveries d ON d.event_id = e.id"
            " WHERE e.scan_id = ? ORDER BY d.sink",
            (scan_id,),
        )
        return [
            DeliveryRecord(
                r["id"],
                r["scan_id"],
                r["sink"] or "",
                r["state"],
                int(r["attempts"] or 0),
                r["delivered_at"],
                r["last_error"],
            )
            for r in rows
        ]
