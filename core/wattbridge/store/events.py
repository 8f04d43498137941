"""The outbox: events are rows written in the same transaction as their cause.

A rolled-back change leaves no event; a committed one always has its event,
whatever happens to the process afterwards. The webhook dispatcher reads
undispatched rows by their due time (partial index, so its cost grows with
the work that is due, not with the table).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
from sqlite_utils import Migrations

from wattbridge.clock import isoformat
from wattbridge.serialization import dumps
from wattbridge.store.sqlite import Database, Row

migrations = Migrations("wattbridge.events")


@migrations()
def m001_events(db):  # type: ignore[no-untyped-def]
    db.execute(
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            type TEXT NOT NULL,
            created_at TEXT NOT NULL,
            data TEXT NOT NULL,
            dispatch_after TEXT NOT NULL,
            dispatched_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX events_project_created ON events (project_id, created_at, id)")
    db.execute(
        "CREATE INDEX events_undispatched ON events (dispatch_after) WHERE dispatched_at IS NULL"
    )


@migrations()
def m002_events_by_age(db):  # type: ignore[no-untyped-def]
    # Housekeeping finds dispatched events past their retention by age.
    db.execute(
        "CREATE INDEX events_dispatched_age ON events (created_at)"
        " WHERE dispatched_at IS NOT NULL"
    )


NewEvent = tuple[str, str, str, dict[str, Any], datetime, datetime]
"""An event to insert: id, project id, type, data, created at, due for dispatch at."""


@attrs.frozen
class StoredEvent:
    """An event as recorded in the outbox."""

    id: str
    project_id: str
    type: str
    created_at: str
    data: dict[str, Any]
    dispatch_after: str
    dispatched_at: str | None


def event_of_row(row: Row) -> StoredEvent:
    """An event from its row (the ``events`` columns by name, ``data`` still text)."""
    return StoredEvent(**{**row, "data": json.loads(row["data"])})


class EventStore:
    """Repository of outbox events of one environment."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert_many(self, events: Sequence[NewEvent]) -> None:
        """Append events, one statement for all; call inside the transaction of the
        change that causes them."""
        if not events:
            return
        self.db.executemany(
            "INSERT INTO events (id, project_id, type, created_at, data, dispatch_after)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (event_id, project_id, event_type, isoformat(created_at),
                 dumps(data).decode(), isoformat(dispatch_after))
                for event_id, project_id, event_type, data, created_at, dispatch_after in events
            ],
        )

    def get(self, project_id: str, event_id: str) -> StoredEvent | None:
        """One event of a project."""
        row = self.db.query_one(
            "SELECT * FROM events WHERE project_id = ? AND id = ?", (project_id, event_id)
        )
        return None if row is None else event_of_row(row)

    def delete(self, event_ids: Sequence[str]) -> int:
        """Delete events by id (inside the caller's transaction); return how many."""
        if not event_ids:
            return 0
        marks = ", ".join("?" for _ in event_ids)
        return self.db.execute(f"DELETE FROM events WHERE id IN ({marks})", list(event_ids))

    def list(
        self, project_id: str, limit: int, offset: int, event_type: str | None = None
    ) -> tuple[list[StoredEvent], int]:
        """A page of a project's events, newest first, and the total count."""
        where, params = "project_id = ?", [project_id]
        if event_type is not None:
            where += " AND type = ?"
            params.append(event_type)
        total = self.db.count(f"SELECT count(*) FROM events WHERE {where}", params)
        rows = self.db.query(
            # rowid breaks ties in insertion order: events of one transaction share an instant.
            f"SELECT * FROM events WHERE {where} ORDER BY created_at DESC, rowid DESC"
            " LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [event_of_row(r) for r in rows], total
