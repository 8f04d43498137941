"""Housekeeping: removing what the API promised to keep only for a while.

Idempotency keys are kept 24 hours (SPEC, docs/api.md). An expired key is
already ignored when the same key comes again; this worker also deletes the
expired rows of every key, so that the table holds about one day of POSTs
rather than every POST ever made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.workers import Worker

PURGE_INTERVAL = 600.0
"""Seconds between purges; an expired key may outlive its 24 h by this much."""


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


def housekeeping_workers(env: Environment) -> list[Worker]:
    """The housekeeping workers of one environment."""
    return [IdempotencyPurger(env)]
