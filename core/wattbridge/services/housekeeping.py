"""Housekeeping: removing what the API promised to keep only for a while.

- Idempotency keys are kept 24 hours (SPEC, docs/api.md). An expired key is
  already ignored when the same key comes again; :class:`IdempotencyPurger`
  also deletes the expired rows of every key, so that the table holds about one
  day of POSTs rather than every POST ever made.
- Events are kept :data:`EVENT_RETENTION` (30 days, as Stripe keeps them):
  :class:`EventPurger` deletes older events with their delivery log, except
  those with a delivery still pending (they go once it is settled). The
  recovery window of webhook deliveries (14 days) is well inside it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from wattbridge.store.webhooks import WebhookStore

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.workers import Worker

PURGE_INTERVAL = 600.0
"""Seconds between purges; an expired key may outlive its 24 h by this much."""

EVENT_RETENTION = timedelta(days=30)
"""How long events (and their webhook delivery log) are kept."""

EVENT_BATCH = 1000
"""Events deleted per transaction: short write locks; a backlog takes more passes."""


class IdempotencyPurger:
    """Deletes the expired idempotency keys of one environment."""

    name = "idempotency-purger"
    interval = PURGE_INTERVAL

    def __init__(self, env: Environment) -> None:
        self.env = env

    def run_once(self) -> int:
        """Delete every key past its expiry; return 0.

        Returns 0 even when it deleted rows: a purge is never "more work due at
        once", so the runner waits :data:`PURGE_INTERVAL` before the next one.
        """
        self.env.idempotency.purge_expired(self.env.clock.now())
        return 0


class EventPurger:
    """Deletes the events of one environment older than :data:`EVENT_RETENTION`."""

    name = "event-purger"
    interval = PURGE_INTERVAL

    def __init__(self, env: Environment, batch: int = EVENT_BATCH) -> None:
        self.env = env
        self.batch = batch
        self.webhooks = WebhookStore(env.db)

    def run_once(self) -> int:
        """Delete one batch of expired events; return how many were deleted when the
        batch was full (more may be due at once), else 0."""
        cutoff = self.env.clock.now() - EVENT_RETENTION
        with self.env.db.transaction():
            # Events with a delivery still pending are kept, and not selected at all.
            expired = self.webhooks.settled_events_before(cutoff, self.batch)
            self.webhooks.forget_attempts(expired)
            self.env.events.delete(expired)
        # Only a full batch means more may be due now.
        return len(expired) if len(expired) == self.batch else 0


def housekeeping_workers(env: Environment) -> list[Worker]:
    """The housekeeping workers of one environment."""
    return [IdempotencyPurger(env), EventPurger(env)]
