"""The billing worker: settles usage events and forwards them to the billing sinks.

A pass does two things, each in its own short transactions:

1. **settle**: held usage events whose scan has finished are charged (one
   delivery per configured sink, due at once) or voided (the scan failed, so it
   is not billed);
2. **deliver**: due deliveries are claimed with a lease and handed to their
   sink one by one, outside any transaction. Success marks that delivery done;
   a failure schedules that delivery, and only that one, again with backoff
   (:data:`RETRY_DELAYS`, with jitter), so a failing sink neither blocks nor
   duplicates another.

Delivery is at least once: a worker that dies after a sink accepted an event
but before the delivery was marked leaves a lease that runs out, and the event
is sent again. Sinks are idempotent on ``event.id`` (the contract of
:class:`~wattbridge.drivers.billing.BillingSink`), so a repeat is harmless.
A sink that is configured but not installed keeps its deliveries waiting until
it is.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from wattbridge.drivers.billing import BillingSink, BindsToEnvironment, SinkContext
from wattbridge.store.usage import DeliveryClaim, UsageStore

if TYPE_CHECKING:
    from wattbridge.environments import Environment

log = logging.getLogger("wattbridge.workers.billing")

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
"""Wait before the n-th retry of one delivery; the last delay repeats (never give up:
a usage event is money)."""

JITTER = 0.1
"""Each delay is stretched or shrunk by up to this fraction, so retries spread out."""

LEASE = timedelta(minutes=5)
"""How long a claimed delivery is held before another worker may send it again."""

BATCH = 20
"""Deliveries claimed per pass (each sink call has its own timeout)."""

SETTLE_BATCH = 200
"""Held events settled per pass."""


def bind_sinks(env: Environment) -> dict[str, BillingSink]:
    """The environment's billing sinks by name, each bound to the environment if it asks.

    :raises ConfigurationError: a sink refused its settings (raised by the sink).
    """
    bound: dict[str, BillingSink] = {}
    for driver in env.billing_sinks:
        name = str(driver.name)
        sink: BillingSink = driver
        if isinstance(driver, BindsToEnvironment):
            context = SinkContext(
                environment=env.name,
                data_dir=env.data_dir,
                db=env.db,
                clock=env.clock,
                settings=dict(env.config.sink_settings.get(name, {})),
            )
            sink = driver.bind(context)
        bound[name] = sink
    return bound


def retry_delay(attempts: int, rng: random.Random, delays: Sequence[timedelta]) -> timedelta:
    """The wait after the ``attempts``-th failed attempt, with jitter."""
    base = delays[min(attempts, len(delays)) - 1]
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


class BillingWorker:
    """Worker: settles and delivers the usage events of one environment."""

    name = "billing"
    interval = 2.0

    def __init__(
        self,
        env: Environment,
        delays: Sequence[timedelta] = RETRY_DELAYS,
        rng: random.Random | None = None,
    ) -> None:
        self.env = env
        self.store = UsageStore(env.db)
        self.configured: tuple[str, ...] = env.config.billing_sinks
        self.sinks = bind_sinks(env)
        self.delays = delays
        self.rng = rng or random.Random()
        for name in self.configured:
            if name not in self.sinks:
                log.warning(
                    "%s: billing sink %r is configured but not installed; its usage events "
                    "wait until it is",
                    env.name,
                    name,
                )

    def run_once(self) -> int:
        """Settle finished scans' usage events, then deliver what is due; return the count."""
        return self.settle() + self.deliver()

    def settle(self) -> int:
        """Charge or void held usage events whose scans have finished."""
        env = self.env
        with env.db.transaction():
            now = env.clock.now()
            settled = [
                s
                for s in self.store.finished_held(SETTLE_BATCH)
                if self.store.settle(s, self.configured, now)
            ]
        return len(settled)

    def deliver(self) -> int:
        """Send due deliveries to their sinks; return how many were attempted."""
        env = self.env
        with env.db.transaction():
            now = env.clock.now()
            claims = self.store.claim(list(self.sinks), now, now + LEASE, BATCH)
        for claim in claims:
            self._deliver(claim)
        return len(claims)

    def _deliver(self, claim: DeliveryClaim) -> None:
        env = self.env
        try:
            self.sinks[claim.sink].record(claim.event)
        except Exception as exc:  # a sink's failure is recorded and retried, never fatal
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "billing sink %s failed on %s (attempt %d): %s",
                claim.sink,
                claim.event.id,
                claim.attempts,
                error,
            )
            with env.db.transaction():
                retry_at = env.clock.now() + retry_delay(claim.attempts, self.rng, self.delays)
                self.store.failed(claim, retry_at, error)
            return
        with env.db.transaction():
            if not self.store.delivered(claim, env.clock.now()):
                log.warning("usage event %s to %s: lease lost", claim.event.id, claim.sink)


def billing_workers(env: Environment) -> list[BillingWorker]:
    """The worker factory: a billing worker for every metered environment."""
    return [BillingWorker(env)] if env.config.metered else []
