"""Webhook endpoints and delivery attempts of one environment.

One attempt is one row. All attempts to deliver one event to one endpoint
share a ``webhook_id`` (``msg_…``, the ``webhook-id`` header); a retry is a new
row with a later ``due_at``. Workers claim due rows with a lease
(``locked_until`` plus a claim token that the completion must match), so two
dispatcher processes on one data dir never send the same attempt twice, and a
crashed dispatcher's rows become claimable again once the lease runs out.
Due rows are found through a partial index on ``due_at`` over pending rows, so
a pass costs O(due), not O(table).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime

import attrs
from sqlite_utils import Migrations

from wattbridge.clock import isoformat
from wattbridge.ids import new_id
from wattbridge.store.events import StoredEvent, event_of_row
from wattbridge.store.sqlite import Database, Row

migrations = Migrations("wattbridge.webhooks")


@migrations()
def m001_webhooks(db):  # type: ignore[no-untyped-def]
    db.execute(
        """
        CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            url TEXT NOT NULL,
            events TEXT,
            description TEXT,
            enabled INTEGER NOT NULL,
            disabled_reason TEXT,
            secret TEXT NOT NULL,
            previous_secret TEXT,
            previous_secret_expires_at TEXT,
            failing_since TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        "CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id, created_at)"
    )
    db.execute(
        """
        CREATE TABLE webhook_attempts (
            id INTEGER PRIMARY KEY,
            webhook_id TEXT NOT NULL,
            endpoint_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            backoff_step INTEGER NOT NULL,
            status TEXT NOT NULL,
            due_at TEXT NOT NULL,
            locked_until TEXT,
            claim_token TEXT,
            attempted_at TEXT,
            status_code INTEGER,
            duration_ms REAL,
            error TEXT,
            response_body TEXT,
            next_attempt_at TEXT,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        "CREATE INDEX webhook_attempts_due ON webhook_attempts (due_at) WHERE status = 'pending'"
    )
    db.execute("CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id)")
    db.execute(
        "CREATE INDEX webhook_attempts_given_up ON webhook_attempts (endpoint_id)"
        " WHERE status = 'failed' AND next_attempt_at IS NULL"
    )


@migrations()
def m002_attempts_by_event(db):  # type: ignore[no-untyped-def]
    # Housekeeping removes the attempts of events past their retention.
    db.execute("CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id)")


_INSERT_ATTEMPT = (
    "INSERT INTO webhook_attempts (webhook_id, endpoint_id, event_id, attempt,"
    " backoff_step, status, due_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)"
)


@attrs.frozen
class StoredEndpoint:
    """A webhook endpoint as stored (secrets included: they are needed to sign)."""

    id: str
    project_id: str
    url: str
    events: tuple[str, ...] | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: str | None
    failing_since: str | None
    created_at: str
    updated_at: str

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a delivery now: the current one, plus the old one
        while its rotation overlap lasts."""
        valid = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and expires > isoformat(now):
            valid.append(self.previous_secret)
        return valid


def _endpoint(row: Row) -> StoredEndpoint:
    events = row["events"]
    return StoredEndpoint(
        **{
            **row,
            "events": None if events is None else tuple(json.loads(events)),
            "enabled": bool(row["enabled"]),
        }
    )


def _endpoint_columns(endpoint: StoredEndpoint) -> dict[str, object]:
    """The row an endpoint is stored as (the inverse of :func:`_endpoint`)."""
    row = attrs.asdict(endpoint)
    row["events"] = None if endpoint.events is None else json.dumps(list(endpoint.events))
    row["enabled"] = int(endpoint.enabled)
    return row


@attrs.frozen
class AttemptRecord:
    """One row of an endpoint's delivery log, with its event's id and type."""

    webhook_id: str
    event_id: str
    event_type: str
    attempt: int
    status: str
    status_code: int | None
    duration_ms: float | None
    error: str | None
    response_body: str | None
    attempted_at: str | None
    next_attempt_at: str | None


@attrs.frozen
class ClaimedAttempt:
    """A due attempt this worker holds the lease on, with what it needs to send it."""

    id: int
    claim_token: str
    webhook_id: str
    attempt: int
    backoff_step: int
    endpoint: StoredEndpoint | None
    event: StoredEvent


@attrs.frozen
class AttemptResult:
    """How an attempt ended, and what follows from it.

    ``retry_at`` schedules the next attempt (same ``webhook_id``); ``disable``
    turns the endpoint off with that reason.
    """

    attempt: ClaimedAttempt
    succeeded: bool
    attempted_at: datetime
    status_code: int | None = None
    duration_ms: float | None = None
    error: str | None = None
    response_body: str | None = None
    retry_at: datetime | None = None
    disable: str | None = None


class WebhookStore:
    """Repository of one environment's webhook endpoints and delivery attempts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- endpoints ---------------------------------------------------------

    def insert_endpoint(self, endpoint: StoredEndpoint) -> None:
        """Store a new endpoint."""
        row = _endpoint_columns(endpoint)
        columns = ", ".join(row)
        self.db.execute(
            f"INSERT INTO webhook_endpoints ({columns}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )

    def get_endpoint(self, project_id: str, endpoint_id: str) -> StoredEndpoint | None:
        """One endpoint of a project."""
        row = self.db.query_one(
            "SELECT * FROM webhook_endpoints WHERE project_id = ? AND id = ?",
            (project_id, endpoint_id),
        )
        return None if row is None else _endpoint(row)

    def list_endpoints(
        self, project_id: str, limit: int, offset: int
    ) -> tuple[list[StoredEndpoint], int]:
        """A page of a project's endpoints, oldest first, and the total."""
        total = self.db.count(
            "SELECT count(*) FROM webhook_endpoints WHERE project_id = ?", (project_id,)
        )
        rows = self.db.query(
            "SELECT * FROM webhook_endpoints WHERE project_id = ?"
            " ORDER BY created_at, id LIMIT ? OFFSET ?",
            (project_id, limit, offset),
        )
        return [_endpoint(r) for r in rows], total

    def update_endpoint(self, endpoint: StoredEndpoint) -> None:
        """Write back every field of an endpoint (read, change, write inside a transaction)."""
        row = _endpoint_columns(endpoint)
        endpoint_id = row.pop("id")
        assignments = ", ".join(f"{name} = ?" for name in row)
        self.db.execute(
            f"UPDATE webhook_endpoints SET {assignments} WHERE id = ?",
            [*row.values(), endpoint_id],
        )

    def delete_endpoint(self, endpoint_id: str) -> None:
        """Remove an endpoint and its delivery log (pending attempts are never sent)."""
        with self.db.transaction():
            self.db.execute("DELETE FROM webhook_attempts WHERE endpoint_id = ?", (endpoint_id,))
            self.db.execute("DELETE FROM webhook_endpoints WHERE id = ?", (endpoint_id,))

    # -- queueing ----------------------------------------------------------

    def fan_out_due_events(self, now: datetime, limit: int) -> int:
        """Queue first attempts of due, undispatched events; return how many events.

        In one transaction per batch: every endpoint of the event's project that
        existed when the event happened and subscribes to its type gets a first
        attempt due now, and the event is marked dispatched. A disabled endpoint's
        attempt is queued too: the dispatcher fails it without sending ("not sent:
        the endpoint is disabled"), so that ``recover`` can send it after the
        endpoint is enabled again, as it does the deliveries that failed.
        """
        stamp = isoformat(now)
        if not self.db.query_one(
            "SELECT 1 FROM events WHERE dispatched_at IS NULL AND dispatch_after <= ? LIMIT 1",
            (stamp,),
        ):
            return 0  # the usual case: no write transaction, no write lock taken
        with self.db.transaction():
            events = self.db.query(
                "SELECT id, project_id, type, created_at FROM events"
                " WHERE dispatched_at IS NULL AND dispatch_after <= ?"
                " ORDER BY dispatch_after LIMIT ?",
                (stamp, limit),
            )
            if not events:  # another worker took them since the check
                return 0
            # Per project: (endpoint id, created at, subscribed types or None for all),
            # each endpoint's subscription list parsed once per batch.
            endpoints: dict[str, list[tuple[str, str, frozenset[str] | None]]] = {}
            attempts: list[tuple[str, str, str, int, int, str, str]] = []
            for event in events:
                project = event["project_id"]
                if project not in endpoints:
                    endpoints[project] = [
                        (
                            row["id"],
                            row["created_at"],
                            None if row["events"] is None else frozenset(json.loads(row["events"])),
                        )
                        for row in self.db.query(
                            "SELECT id, events, created_at FROM webhook_endpoints"
                            " WHERE project_id = ?",
                            (project,),
                        )
                    ]
                for endpoint_id, created_at, subscribed in endpoints[project]:
                    if created_at > event["created_at"]:
                        continue  # the endpoint did not exist when this happened
                    if subscribed is not None and event["type"] not in subscribed:
                        continue
                    attempts.append((new_id("msg"), endpoint_id, event["id"], 1, 0, stamp, stamp))
            # One statement each for the batch's attempts and its events, not one per row.
            if attempts:
                self.db.executemany(_INSERT_ATTEMPT, attempts)
            marks = ", ".join("?" for _ in events)
            self.db.execute(
                f"UPDATE events SET dispatched_at = ? WHERE id IN ({marks})",
                [stamp, *(event["id"] for event in events)],
            )
        return len(events)

    def queue_single(self, event_id: str, endpoint_id: str, now: datetime) -> str:
        """Queue an event for one endpoint only and mark it dispatched; return the webhook id.

        Call inside the transaction that recorded the event (test deliveries).
        """
        stamp = isoformat(now)
        webhook_id = new_id("msg")
        self._insert_attempt(webhook_id, endpoint_id, event_id, 1, 0, stamp)
        self.db.execute("UPDATE events SET dispatched_at = ? WHERE id = ?", (stamp, event_id))
        return webhook_id

    def _insert_attempt(
        self,
        webhook_id: str,
        endpoint_id: str,
        event_id: str,
        attempt: int,
        backoff_step: int,
        due_at: str,
        created_at: str | None = None,
    ) -> None:
        self.db.execute(
            _INSERT_ATTEMPT,
            (webhook_id, endpoint_id, event_id, attempt, backoff_step, due_at,
             created_at or due_at),
        )

    def settled_events_before(self, cutoff: datetime, limit: int) -> list[str]:
        """Ids of up to ``limit`` dispatched events created before ``cutoff`` with no
        delivery still pending (waiting for a retry, or being sent), oldest first.

        Events with a pending delivery are passed over here, not after the
        selection: a batch full of them would otherwise hide the settled events
        behind it until those deliveries end.
        """
        rows = self.db.query(
            "SELECT id FROM events e WHERE created_at < ? AND dispatched_at IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM webhook_attempts a"
            " WHERE a.event_id = e.id AND a.status = 'pending')"
            " ORDER BY created_at LIMIT ?",
            (isoformat(cutoff), limit),
        )
        return [row["id"] for row in rows]

    def forget_attempts(self, event_ids: Sequence[str]) -> None:
        """Delete the delivery log of these events (inside the transaction that
        deletes the events themselves)."""
        if event_ids:
            marks = ", ".join("?" for _ in event_ids)
            self.db.execute(
                f"DELETE FROM webhook_attempts WHERE event_id IN ({marks})", list(event_ids)
            )

    def requeue_failed(self, endpoint_id: str, since: datetime, now: datetime) -> int:
        """Make every failed delivery of the endpoint, for events created at or after
        ``since``, due now (same webhook id); return how many.

        A delivery whose schedule ran out (or that was not sent because the endpoint
        was disabled) gets a new attempt; one waiting for a retry has that retry
        brought forward. Either way its retry schedule starts afresh.
        """
        stamp, since_stamp = isoformat(now), isoformat(since)
        with self.db.transaction():
            given_up = self.db.query(
                "SELECT a.id, a.webhook_id, a.event_id, a.attempt FROM webhook_attempts a"
                " JOIN events e ON e.id = a.event_id"
                " WHERE a.endpoint_id = ? AND a.status = 'failed' AND a.next_attempt_at IS NULL"
                " AND e.created_at >= ?",
                (endpoint_id, since_stamp),
            )
            for row in given_up:
                self._insert_attempt(
                    row["webhook_id"], endpoint_id, row["event_id"], row["attempt"] + 1, 0, stamp
                )
                self.db.execute(
                    "UPDATE webhook_attempts SET next_attempt_at = ? WHERE id = ?",
                    (stamp, row["id"]),
                )
            waiting = self.db.query(
                "SELECT a.id, a.webhook_id FROM webhook_attempts a"
                " JOIN events e ON e.id = a.event_id"
                " WHERE a.endpoint_id = ? AND a.status = 'pending' AND a.due_at > ?"
                " AND (a.locked_until IS NULL OR a.locked_until <= ?) AND e.created_at >= ?",
                (endpoint_id, stamp, stamp, since_stamp),
            )
            for row in waiting:
                self.db.execute(
                    "UPDATE webhook_attempts SET due_at = ?, backoff_step = 0 WHERE id = ?",
                    (stamp, row["id"]),
                )
                # The failed attempt before it points at the retry: keep the log true.
                self.db.execute(
                    "UPDATE webhook_attempts SET next_attempt_at = ? WHERE endpoint_id = ?"
                    " AND webhook_id = ? AND status = 'failed' AND next_attempt_at > ?",
                    (stamp, endpoint_id, row["webhook_id"], stamp),
                )
        return len(given_up) + len(waiting)

    # -- the dispatcher's claim and completion -----------------------------

    def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[ClaimedAttempt]:
        """Lease up to ``limit`` due attempts (oldest due first) to this caller.

        ``BEGIN IMMEDIATE`` makes the select-and-lock atomic: of two workers, the
        second sees the first one's lease and skips those rows.
        """
        stamp = isoformat(now)
        due = (
            "SELECT id FROM webhook_attempts WHERE status = 'pending' AND due_at <= ?"
            " AND (locked_until IS NULL OR locked_until <= ?) ORDER BY due_at LIMIT ?"
        )
        if not self.db.query(due, (stamp, stamp, 1)):
            return []  # nothing due: no write transaction, no write lock taken
        token = secrets.token_hex(8)
        with self.db.transaction():
            ids = [
                r["id"]
                for r in self.db.query(due, (stamp, stamp, limit))
            ]
            if not ids:
                return []
            marks = ", ".join("?" * len(ids))
            self.db.execute(
                "UPDATE webhook_attempts SET locked_until = ?, claim_token = ?"
                f" WHERE id IN ({marks})",
                [isoformat(lease_until), token, *ids],
            )
            rows = self.db.query(
                "SELECT a.id AS a_id, a.webhook_id AS a_webhook_id, a.attempt AS a_attempt,"
                " a.backoff_step AS a_backoff_step, ep.*, e.id AS e_id,"
                " e.project_id AS e_project_id, e.type AS e_type, e.created_at AS e_created_at,"
                " e.data AS e_data, e.dispatch_after AS e_dispatch_after,"
                " e.dispatched_at AS e_dispatched_at"
                " FROM webhook_attempts a JOIN events e ON e.id = a.event_id"
                " LEFT JOIN webhook_endpoints ep ON ep.id = a.endpoint_id"
                f" WHERE a.id IN ({marks}) ORDER BY a.due_at",
                ids,
            )
        return [_claimed(row, token) for row in rows]

    def extend_leases(self, held: Sequence[ClaimedAttempt], until: datetime) -> None:
        """Keep holding attempts that are still being sent (only those this caller holds).

        Leases are short so that a crashed worker's attempts are retried soon; a
        live worker renews the leases of its sends in flight instead.
        """
        if not held:
            return
        ids = [a.id for a in held]
        tokens = sorted({a.claim_token for a in held})
        with self.db.transaction():
            self.db.execute(
                "UPDATE webhook_attempts SET locked_until = ?"
                f" WHERE id IN ({', '.join('?' * len(ids))})"
                f" AND claim_token IN ({', '.join('?' * len(tokens))}) AND status = 'pending'",
                [isoformat(until), *ids, *tokens],
            )

    def complete(self, results: Sequence[AttemptResult]) -> None:
        """Record outcomes, schedule retries and update endpoints, in one transaction.

        An outcome whose claim token no longer matches (the lease ran out and
        another worker took the row) is dropped: that worker owns the row now.
        """
        # The endpoint's failing_since was last cleared (False) or set (True) by
        # this batch: repeating the same conditional update would change nothing,
        # and skipping it saves a statement per delivery.
        marked: dict[str, bool] = {}
        with self.db.transaction():
            for result in results:
                claimed = result.attempt
                stamp = isoformat(result.attempted_at)
                retry = None if result.retry_at is None else isoformat(result.retry_at)
                changed = self.db.execute(
                    "UPDATE webhook_attempts SET status = ?, attempted_at = ?, status_code = ?,"
                    " duration_ms = ?, error = ?, response_body = ?, next_attempt_at = ?,"
                    " locked_until = NULL WHERE id = ? AND claim_token = ? AND status = 'pending'",
                    (
                        "succeeded" if result.succeeded else "failed",
                        stamp,
                        result.status_code,
                        result.duration_ms,
                        result.error,
                        result.response_body,
                        retry,
                        claimed.id,
                        claimed.claim_token,
                    ),
                )
                if not changed or claimed.endpoint is None:
                    continue
                endpoint_id = claimed.endpoint.id
                if retry is not None:
                    self._insert_attempt(
                        claimed.webhook_id,
                        endpoint_id,
                        claimed.event.id,
                        claimed.attempt + 1,
                        claimed.backoff_step + 1,
                        retry,
                        created_at=stamp,
                    )
                failing = not result.succeeded
                if marked.get(endpoint_id) is not failing:
                    marked[endpoint_id] = failing
                    if failing:
                        self.db.execute(
                            "UPDATE webhook_endpoints SET failing_since = ?"
                            " WHERE id = ? AND failing_since IS NULL",
                            (stamp, endpoint_id),
                        )
                    else:
                        self.db.execute(
                            "UPDATE webhook_endpoints SET failing_since = NULL"
                            " WHERE id = ? AND failing_since IS NOT NULL",
                            (endpoint_id,),
                        )
                if result.disable is not None:
                    self.db.execute(
                        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?,"
                        " updated_at = ? WHERE id = ? AND enabled = 1",
                        (result.disable, stamp, endpoint_id),
                    )

    # -- the delivery log ----------------------------------------------------

    def list_attempts(
        self, endpoint_id: str, limit: int, offset: int
    ) -> tuple[list[AttemptRecord], int]:
        """A page of an endpoint's attempts, newest first, and the total."""
        total = self.db.count(
            "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = ?", (endpoint_id,)
        )
        rows = self.db.query(
            "SELECT a.webhook_id, a.event_id, e.type AS event_type, a.attempt, a.status,"
            " a.status_code, a.duration_ms, a.error, a.response_body, a.attempted_at,"
            " CASE WHEN a.status = 'pending' THEN a.due_at ELSE a.next_attempt_at END"
            " AS next_attempt_at"
            " FROM webhook_attempts a JOIN events e ON e.id = a.event_id"
            " WHERE a.endpoint_id = ? ORDER BY a.id DESC LIMIT ? OFFSET ?",
            (endpoint_id, limit, offset),
        )
        return [AttemptRecord(**row) for row in rows], total


def _claimed(row: Row, token: str) -> ClaimedAttempt:
    event = event_of_row(
        {name: row[f"e_{name}"] for name in attrs.fields_dict(StoredEvent)}
    )
    endpoint_row = {name: row[name] for name in attrs.fields_dict(StoredEndpoint)}
    return ClaimedAttempt(
        id=row["a_id"],
        claim_token=token,
        webhook_id=row["a_webhook_id"],
        attempt=row["a_attempt"],
        backoff_step=row["a_backoff_step"],
        endpoint=None if endpoint_row["id"] is None else _endpoint(endpoint_row),
        event=event,
    )
