"""Which migration sets make up each database, applied at startup in this order."""

from __future__ import annotations

from sqlite_utils import Migrations

from wattbridge.store import events, idempotency

ENVIRONMENT_MIGRATIONS: tuple[Migrations, ...] = (
    events.migrations,
    idempotency.migrations,
)
