"""Which migration sets make up each database, applied at startup in this order."""

from __future__ import annotations

from sqlite_utils import Migrations

from wattbridge.store import devices as device_store
from wattbridge.store import events, idempotency, scans, usage
from wattbridge.store import webhooks as webhook_store

ENVIRONMENT_MIGRATIONS: tuple[Migrations, ...] = (
    events.migrations,
    idempotency.migrations,
    scans.migrations,
    webhook_store.migrations,
    device_store.migrations,
    usage.migrations,
)
