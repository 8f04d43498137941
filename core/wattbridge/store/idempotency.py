"""Idempotency records: the stored response of a POST, kept 24 hours.

A record is inserted as ``in_progress`` before the request runs (so a
concurrent duplicate can be told apart) and completed with the response, or
deleted when the request failed validation (such failures are not stored).
"""

from __future__ import annotations

from datetime import datetime

import attrs
from sqlite_utils import Migrations

from wattbridge.clock import isoformat
from wattbridge.store.sqlite import Database

migrations = Migrations("wattbridge.idempotency")


@migrations()
def m001_idempotency(db):  # type: ignore[no-untyped-def]
    db.execute(
        """
        CREATE TABLE idempotency_keys (
            project_id TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            state TEXT NOT NULL,
            response_status INTEGER,
            response_body BLOB,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            PRIMARY KEY (project_id, method, path, key)
        )
        """
    )
    db.execute("CREATE INDEX idempotency_expiry ON idempotency_keys (expires_at)")


@attrs.frozen
class IdempotencyRecord:
    """A stored request fingerprint and, once done, its response."""

    request_hash: str
    state: str
    response_status: int | None
    response_body: bytes | None


class IdempotencyStore:
    """Repository of idempotency records of one environment."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(
        self,
        scope: tuple[str, str, str, str],
        request_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> IdempotencyRecord | None:
        """Claim the key; return the existing record instead when it is taken."""
        with self.db.transaction():
            self.db.execute(
                "DELETE FROM idempotency_keys WHERE project_id = ? AND method = ? AND path = ?"
                " AND key = ? AND expires_at <= ?",
                (*scope, isoformat(now)),
            )
            row = self.db.query_one(
                "SELECT request_hash, state, response_status, response_body FROM idempotency_keys"
                " WHERE project_id = ? AND method = ? AND path = ? AND key = ?",
                scope,
            )
            if row is not None:
                return IdempotencyRecord(**row)
            self.db.execute(
                "INSERT INTO idempotency_keys (project_id, method, path, key, request_hash,"
                " state, created_at, expires_at) VALUES (?, ?, ?, ?, ?, 'in_progress', ?, ?)",
                (*scope, request_hash, isoformat(now), isoformat(expires_at)),
            )
        return None

    def complete(self, scope: tuple[str, str, str, str], status: int, body: bytes) -> None:
        """Store the response of a claimed key."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE idempotency_keys SET state = 'done', response_status = ?,"
                " response_body = ? WHERE project_id = ? AND method = ? AND path = ? AND key = ?",
                (status, body, *scope),
            )

    def release(self, scope: tuple[str, str, str, str]) -> None:
        """Forget a claimed key (the request was rejected and must not be replayed)."""
        with self.db.transaction():
            self.db.execute(
                "DELETE FROM idempotency_keys WHERE project_id = ? AND method = ? AND path = ?"
                " AND key = ? AND state = 'in_progress'",
                scope,
            )

    def purge_expired(self, now: datetime) -> int:
        """Delete records past their 24 h; return how many."""
        with self.db.transaction():
            return self.db.execute(
                "DELETE FROM idempotency_keys WHERE expires_at <= ?", (isoformat(now),)
            )
