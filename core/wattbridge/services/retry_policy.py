"""When a failed webhook delivery is tried again, and when an endpoint is given up on.

The schedule spreads about 10 attempts over three days (about 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h after each failure), with jitter so
that a receiver coming back from an outage is not hit by every retry at the
same second. A receiver's ``Retry-After`` replaces the computed delay (it knows
best when it can take traffic again), within bounds.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import attrs

from wattbridge.drivers.webhooks import DeliveryOutcome

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
"""Delay before retry n+1 after the n-th failed attempt of a delivery."""

FAILING_LIMIT = timedelta(days=5)
"""An endpoint whose deliveries have all failed for this long is disabled."""

GONE_REASON = "the endpoint answered 410 Gone"


@attrs.frozen
class RetryPolicy:
    """The retry schedule and the disabling rules, with injectable randomness.

    :param delays: the delay after each failed attempt; its length is the number of retries.
    :param jitter: relative spread, e.g. 0.1 gives each delay ±10 %.
    :param failing_limit: how long an endpoint may fail without a success before it is disabled.
    :param max_retry_after: the longest ``Retry-After`` honoured as given.
    """

    delays: tuple[timedelta, ...] = RETRY_DELAYS
    jitter: float = 0.1
    failing_limit: timedelta = FAILING_LIMIT
    max_retry_after: timedelta = timedelta(hours=24)
    rng: random.Random = attrs.field(factory=random.Random, eq=False)

    def next_attempt(
        self, backoff_step: int, now: datetime, retry_after_seconds: float | None
    ) -> datetime | None:
        """When to try again after the failed attempt at ``backoff_step`` (0-based), or
        None when the schedule is used up."""
        if backoff_step >= len(self.delays):
            return None
        if retry_after_seconds is not None:
            seconds = min(max(retry_after_seconds, 1.0), self.max_retry_after.total_seconds())
            return now + timedelta(seconds=seconds)
        base = self.delays[backoff_step].total_seconds()
        spread = self.rng.uniform(-self.jitter, self.jitter)
        return now + timedelta(seconds=base * (1 + spread))

    def disable_reason(
        self, outcome: DeliveryOutcome | None, failing_since: datetime, now: datetime
    ) -> str | None:
        """Why this failure, at ``now``, disables the endpoint, or None.

        :param failing_since: when the endpoint's current run of failures began
            (``now`` if this failure starts it).
        """
        if outcome is not None and outcome.status_code == 410:
            return GONE_REASON
        if now - failing_since >= self.failing_limit:
            days = self.failing_limit.total_seconds() / 86400
            return (
                f"every delivery has failed since {failing_since:%Y-%m-%dT%H:%M:%SZ} "
                f"(more than {days:g} days)"
            )
        return None
