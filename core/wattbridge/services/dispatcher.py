"""The webhook dispatcher: from the outbox to signed deliveries, with retries.

A pass (:meth:`WebhookDispatcher.run_once`) repeats until nothing is due and
nothing is in flight:

1. fan out: due, undispatched events become first attempts for the matching
   endpoints of their project (one transaction per batch, which also marks the
   events dispatched);
2. claim due attempts, in batches, up to the free concurrency slots, each with a
   short lease that is renewed while it is being sent;
3. check each URL against the SSRF rules again, sign the event's bytes with
   this attempt's timestamp and every valid secret, and send them through the
   environment's transport (concurrently, on the transport's send loop);
4. record outcomes as they complete, scheduling retries, disabling endpoints
   (410, or 5 days of failures) in the same transaction.

At-least-once: an attempt stays pending until its outcome is recorded, so a
crash after sending repeats the attempt (same ``webhook-id``) once the lease
runs out (seconds later); it never loses one.

Stopping (:meth:`WebhookDispatcher.request_stop`, from another thread) ends a
pass early, however large the backlog: nothing more is fanned out or claimed,
the sends in flight get ``stop_grace`` seconds to finish and be recorded, and
the rest are cancelled, their attempts left pending with their leases released,
so the next worker sends them again at once (same ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from wattbridge.clock import parse_instant
from wattbridge.drivers.webhooks import Delivery, DeliveryOutcome
from wattbridge.errors import PluginSelectionError
from wattbridge.serialization import dumps
from wattbridge.services.retry_policy import RetryPolicy
from wattbridge.services.send_loop import SendLoop
from wattbridge.store.webhooks import AttemptResult, ClaimedAttempt, WebhookStore
from wattbridge.webhooks.signing import signed_headers
from wattbridge.webhooks.ssrf import Resolver, UnsafeTarget, check_url_async, system_resolver

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.workers import Worker

log = logging.getLogger("wattbridge.webhooks")

DEFAULT_LEASE = timedelta(seconds=10)
"""How long a claimed attempt is reserved before another worker may take it.

Short, so that the attempts of a worker that died are sent again within
seconds; a live worker renews the leases of its sends in flight every
``lease / 4``, so a send may take its full 15 s.
"""

DEFAULT_STOP_GRACE = 1.0
"""Seconds the sends in flight get to finish once a stop is requested.

Most receivers answer well within it, so a stop rarely makes a delivery go out
twice; a slow one cannot hold up the process's exit (the worker runner waits
10 s for each of its workers).
"""

_CANCEL_WAIT = 1.0
"""The longest a stopping pass waits for cancelled sends to end (they end at once)."""


@attrs.frozen
class _Sent:
    """What the send coroutine reports back to the dispatcher thread."""

    attempted_at: datetime
    outcome: DeliveryOutcome | None
    error: str | None = None


_Finished: TypeAlias = "queue.SimpleQueue[tuple[ClaimedAttempt, asyncio.Future[_Sent]]]"
"""Where send tasks report (from the send loop's thread) to the dispatcher's thread."""


class WebhookDispatcher:
    """Delivers one environment's webhooks; a worker for ``serve`` and ``wattbridge worker``.

    :param interval: seconds between passes when idle, and how often an ongoing
        pass looks for newly due work while sends are in flight.
    :param lease: how long a claimed attempt is reserved for this worker.
    :param concurrency: the most sends in flight at once.
    :param batch: the most events fanned out per transaction.
    :param policy: the retry and disabling rules.
    :param resolver: host name → addresses, for the SSRF check.
    :param timeout_seconds: how long a receiver has to answer (the contract says 15 s).
    :param stop_grace: once a stop is requested, how long sends in flight may
        still finish before they are cancelled.
    """

    def __init__(
        self,
        env: Environment,
        *,
        interval: float = 0.2,
        lease: timedelta = DEFAULT_LEASE,
        concurrency: int = 64,
        batch: int = 200,
        policy: RetryPolicy | None = None,
        resolver: Resolver = system_resolver,
        timeout_seconds: float = 15.0,
        stop_grace: float = DEFAULT_STOP_GRACE,
    ) -> None:
        self.name = f"webhooks-{env.name}"
        self.interval = interval
        self.env = env
        self.store = WebhookStore(env.db)
        self.lease = lease
        self.concurrency = concurrency
        self.batch = batch
        self.policy = policy or RetryPolicy()
        self.resolver = resolver
        self.timeout_seconds = timeout_seconds
        self.stop_grace = stop_grace
        self.transport = env.transport
        self.send_loop = SendLoop.for_transport(self.transport)
        self._claim_threshold = max(1, concurrency // 4)
        self._sending: set[asyncio.Task[_Sent]] = set()  # touched on the send loop only
        self._stop_requested = threading.Event()

    def request_stop(self) -> None:
        """Make the current pass (and any later one) end soon; callable from any thread.

        Nothing more is fanned out or claimed. Sends in flight get ``stop_grace``
        seconds; those still unanswered then are cancelled and their attempts
        stay pending, released to the next worker: none is lost.
        """
        self._stop_requested.set()

    def run_once(self) -> int:
        """Fan out and deliver until nothing is due or in flight, or until a stop is
        requested; return the items handled."""
        handled = 0
        inflight: dict[int, ClaimedAttempt] = {}
        # Sends report here as they finish, so the loop wakes on the first one
        # and collects every other finished one without polling each future.
        finished: _Finished = queue.SimpleQueue()
        renewed = claimed_at = time.monotonic()
        # The stop flag is read every round (rounds are at most ``interval``
        # apart), not only between passes, so a stop never waits for a backlog
        # to drain. When it is first seen, this is set to the time at which the
        # sends still in flight are cancelled.
        give_up_at: float | None = None
        while True:
            now = self.env.clock.now()
            if give_up_at is None and self._stop_requested.is_set():
                give_up_at = time.monotonic() + self.stop_grace
            if give_up_at is not None and inflight and time.monotonic() >= give_up_at:
                return handled + self._abandon(inflight, finished, now)
            if inflight and time.monotonic() - renewed >= self.lease.total_seconds() / 4:
                self.store.extend_leases(list(inflight.values()), now + self.lease)
                renewed = time.monotonic()
            settled: list[AttemptResult] = []
            if give_up_at is None:
                handled += self.store.fan_out_due_events(now, self.batch)
                free = self.concurrency - len(inflight)
                # Claim in batches (one transaction for many rows), not one row per
                # finished send; but never leave a free slot unused for longer than
                # one interval (slow receivers may hold the others for 15 s).
                if free >= self._claim_threshold or (
                    free > 0 and (not inflight or time.monotonic() - claimed_at >= self.interval)
                ):
                    claimed_at = time.monotonic()
                    self._claim_and_send(now, free, inflight, finished, settled)
            if inflight and not settled:
                wait = self.interval
                if give_up_at is not None:
                    wait = max(0.0, min(wait, give_up_at - time.monotonic()))
                with contextlib.suppress(queue.Empty):
                    settled.append(self._finish(inflight, *finished.get(timeout=wait)))
            while inflight:
                try:
                    settled.append(self._finish(inflight, *finished.get_nowait()))
                except queue.Empty:
                    break
            if settled:
                self.store.complete(settled)
                handled += len(settled)
            elif not inflight:
                return handled

    def _claim_and_send(
        self,
        now: datetime,
        free: int,
        inflight: dict[int, ClaimedAttempt],
        finished: _Finished,
        settled: list[AttemptResult],
    ) -> None:
        """Claim up to ``free`` due attempts and start sending them; refusals go to ``settled``."""
        to_send: list[ClaimedAttempt] = []
        for attempt in self.store.claim_due(now, free, now + self.lease):
            refusal = self._not_sendable(attempt, now)
            if refusal is not None:
                settled.append(refusal)
                continue
            inflight[attempt.id] = attempt
            to_send.append(attempt)
        if to_send:
            # One hand-over to the send loop per claimed batch, not one per
            # attempt: each wakes the loop's thread, which costs more than
            # starting the sends.
            self.send_loop.submit(self._start_sends(to_send, finished))

    def _abandon(
        self, inflight: dict[int, ClaimedAttempt], finished: _Finished, now: datetime
    ) -> int:
        """End a stopping pass whose grace ran out; return the outcomes still recorded.

        The sends still in flight are cancelled. A cancelled send may or may not
        have reached its receiver, so its attempt stays pending: its lease is
        released for the next worker, which sends it again (same ``webhook-id``,
        at-least-once). A send that cannot be confirmed cancelled keeps its lease,
        which runs out within ``lease``; either way nothing is lost.
        """
        with contextlib.suppress(concurrent.futures.TimeoutError):
            self.send_loop.run(self._cancel_sends(), timeout=_CANCEL_WAIT)
        settled: list[AttemptResult] = []
        released: list[ClaimedAttempt] = []
        while True:
            try:
                attempt, future = finished.get_nowait()
            except queue.Empty:
                break
            if future.cancelled():
                released.append(inflight.pop(attempt.id))
            else:  # it finished before it could be cancelled: its outcome is known
                settled.append(self._finish(inflight, attempt, future))
        if settled:
            self.store.complete(settled)
        # A lease that ends now is a lease released (the claim matches by token,
        # so an attempt another worker holds by now is left alone).
        self.store.extend_leases(released, now)
        if released or inflight:
            log.info(
                "%s stopped with %d sends unfinished; %d released, %d left to their lease",
                self.name, len(released) + len(inflight), len(released), len(inflight),
            )
        return len(settled)

    async def _cancel_sends(self) -> None:
        """Cancel this dispatcher's sends in flight and wait until they have ended."""
        tasks = list(self._sending)
        for task in tasks:
            task.cancel()
        if tasks:
            # Each task's done callback reports it to its pass before this wait ends.
            await asyncio.wait(tasks)

    def _finish(
        self,
        inflight: dict[int, ClaimedAttempt],
        attempt: ClaimedAttempt,
        future: asyncio.Future[_Sent],
    ) -> AttemptResult:
        del inflight[attempt.id]
        return self._result(attempt, future)

    def close(self) -> None:
        """Release the transport's pooled connections."""
        self.send_loop.run(self.transport.aclose(), timeout=10)

    def _not_sendable(self, attempt: ClaimedAttempt, now: datetime) -> AttemptResult | None:
        # Attempts of a disabled endpoint fail without being sent and without a
        # retry; after re-enabling, POST …/recover queues them again.
        endpoint = attempt.endpoint
        if endpoint is None:
            return AttemptResult(attempt, False, now, error="not sent: the endpoint was deleted")
        if not endpoint.enabled:
            reason = endpoint.disabled_reason or "disabled"
            return AttemptResult(
                attempt, False, now, error=f"not sent: the endpoint is disabled ({reason})"
            )
        return None

    async def _start_sends(
        self,
        attempts: list[ClaimedAttempt],
        finished: _Finished,
    ) -> None:
        """Start one send task per attempt; each reports to ``finished`` when done."""

        def report(task: asyncio.Task[_Sent], attempt: ClaimedAttempt) -> None:
            self._sending.discard(task)
            finished.put((attempt, task))

        for attempt in attempts:
            task = asyncio.create_task(self._send(attempt))
            # The loop keeps only weak references to its tasks: hold each until done.
            self._sending.add(task)
            task.add_done_callback(lambda t, attempt=attempt: report(t, attempt))  # type: ignore[misc]

    async def _send(self, attempt: ClaimedAttempt) -> _Sent:
        """Check, sign and send one attempt (runs on the send loop)."""
        endpoint = attempt.endpoint
        assert endpoint is not None
        clock = self.env.clock
        try:
            # A DNS lookup that hangs must not hold the attempt (and its lease) forever.
            async with asyncio.timeout(self.timeout_seconds):
                target = await check_url_async(
                    endpoint.url, self.env.config.private_webhook_targets, self.resolver
                )
        except UnsafeTarget as exc:
            return _Sent(clock.now(), None, f"not sent: {exc}")
        except TimeoutError:
            return _Sent(clock.now(), None, f"not sent: resolving {endpoint.url} timed out")
        body = self.body(attempt)
        now = clock.now()
        headers = signed_headers(
            attempt.webhook_id, int(now.timestamp()), body, endpoint.signing_secrets(now)
        )
        delivery = Delivery(endpoint.url, body, headers, target.address, self.timeout_seconds)
        try:
            outcome = await self.transport.send(delivery)
        except Exception as exc:  # a transport must not raise; if one does, it is a failure
            log.exception("webhook transport %s raised", getattr(self.transport, "name", "?"))
            return _Sent(now, None, f"transport error: {type(exc).__name__}")
        return _Sent(now, outcome)

    def body(self, attempt: ClaimedAttempt) -> bytes:
        """The exact bytes sent (and signed): the event's public JSON."""
        payload: dict[str, Any] = self.env.event_service.render(attempt.event)
        return dumps(payload)

    def _result(self, attempt: ClaimedAttempt, future: asyncio.Future[_Sent]) -> AttemptResult:
        try:
            sent = future.result()
        except (Exception, asyncio.CancelledError) as exc:
            # The send coroutine itself broke (or was cancelled): record, retry later.
            log.exception("webhook attempt %s failed unexpectedly", attempt.webhook_id)
            sent = _Sent(self.env.clock.now(), None, f"internal error: {type(exc).__name__}")
        outcome = sent.outcome
        if outcome is not None and outcome.succeeded:
            return AttemptResult(
                attempt,
                True,
                sent.attempted_at,
                outcome.status_code,
                outcome.duration_ms,
                response_body=outcome.response_body,
            )
        endpoint = attempt.endpoint
        assert endpoint is not None
        failing_since = (
            parse_instant(endpoint.failing_since) if endpoint.failing_since else sent.attempted_at
        )
        disable = self.policy.disable_reason(outcome, failing_since, sent.attempted_at)
        retry_at = None
        if disable is None:
            retry_at = self.policy.next_attempt(
                attempt.backoff_step,
                sent.attempted_at,
                outcome.retry_after_seconds if outcome is not None else None,
            )
        return AttemptResult(
            attempt,
            False,
            sent.attempted_at,
            status_code=outcome.status_code if outcome else None,
            duration_ms=outcome.duration_ms if outcome else None,
            error=sent.error if outcome is None else (outcome.error or _status_error(outcome)),
            response_body=outcome.response_body if outcome else None,
            retry_at=retry_at,
            disable=disable,
        )


def _status_error(outcome: DeliveryOutcome) -> str:
    return f"the endpoint answered {outcome.status_code}; any 2xx is a success"


def dispatcher_workers(env: Environment) -> Sequence[Worker]:
    """The worker factory: one dispatcher per environment that has a transport."""
    try:
        return [WebhookDispatcher(env)]
    except PluginSelectionError as exc:
        log.warning("no webhook dispatcher for %s: %s", env.name, exc)
        return []
