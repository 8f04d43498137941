"""The action state machine and the worker that moves due actions forward.

::

    scheduled ──start: provider.execute──▶ acknowledged ──due──▶ completed | failed
        │  └── provider refused (not capable, auth, permanent, retries used up) ──▶ failed
        └── cancel (only while scheduled) ──▶ cancelled

Every transition to a final state writes its ``action.*`` event in the same
transaction. A worker finds due actions through the indexed ``due_at`` column,
claims them with a lease and a token, and a transition only applies while the
claim holds, so two workers (or a worker and the request that pushed an
immediate action) never both move the same action.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from wattbridge.drivers.devices import (
    ExecutionOutcome,
    ProviderError,
    ProviderRateLimited,
    TransientError,
)
from wattbridge.services.action_records import action_ref, device_ref, render_action
from wattbridge.services.provider_failures import explain
from wattbridge.store.devices import ActionRow, ActionStore

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.services.devices import DeviceService

log = logging.getLogger("wattbridge.actions")

LEASE = timedelta(seconds=60)
RETRY_BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2),
                 timedelta(minutes=10))
MAX_ATTEMPTS = len(RETRY_BACKOFF) + 1
CLAIM_BATCH = 50
FORCED_FAILURE_CODE = "SANDBOX_FORCED_FAILURE"


class ActionLifecycle:
    """Transitions of actions; used by the action service and the worker."""

    def __init__(self, env: Environment, devices: DeviceService, store: ActionStore) -> None:
        self.env = env
        self.devices = devices
        self.store = store

    def process(self, action_id: str, token: str) -> None:
        """Do whatever is due for a claimed action."""
        row = self.store.by_id(action_id)
        if row is None or row.claim_token != token:
            return
        if row.state == "scheduled":
            self._start(row, token)
        elif row.state == "acknowledged":
            self.finish(action_id, token)

    def start(self, action_id: str, token: str) -> None:
        """Hand a claimed scheduled action to its provider (outside any transaction)."""
        row = self.store.by_id(action_id)
        if row is not None and row.state == "scheduled" and row.claim_token == token:
            self._start(row, token)

    def _start(self, row: ActionRow, token: str) -> None:
        """:meth:`start` for a scheduled action already read under ``token``."""
        device = self.devices.store.get_any(row.device_id)
        if device is None:
            return
        try:
            provider = self.devices.provider_of(device)
            outcome = provider.execute(device_ref(device), action_ref(row, "acknowledged"))
        except (TransientError, ProviderRateLimited) as exc:
            self._retry_or_fail(row, token, exc)
            return
        except ProviderError as exc:
            self._fail_now(row, token, exc.code, explain(exc)["message"])
            return
        except Exception:
            # A broken adapter must not leave the action hanging forever.
            log.exception("provider %s failed executing %s", device.provider, row.id)
            self._fail_now(row, token, "PROVIDER_ERROR", "The device provider failed unexpectedly.")
            return
        self._acknowledge(row, token, _with_control(outcome, row.control))

    def _acknowledge(self, row: ActionRow, token: str, outcome: ExecutionOutcome) -> None:
        now = self.env.clock.now()
        due = max(now, row.start_at) + outcome.latency
        with self.env.db.transaction():
            changed = self.store.update(
                row.id,
                expected_token=token,
                state="acknowledged",
                updated_at=now,
                outcome={
                    "status": outcome.status,
                    "errorCode": outcome.error_code,
                    "errorMessage": outcome.error_message,
                },
                due_at=due,
                # Released, so that whichever worker pass comes after ``due`` finishes it.
                locked_until=None,
                claim_token=None,
            )
            if changed and due <= now:
                current = self.store.by_id(row.id)
                assert current is not None
                self._finish_row(current, now)

    def _retry_or_fail(self, row: ActionRow, token: str, exc: ProviderError) -> None:
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            message = f"{explain(exc)['message']} (gave up after {attempts} tries)"
            self._fail_now(row, token, exc.code, message)
            return
        now = self.env.clock.now()
        delay = RETRY_BACKOFF[min(attempts, len(RETRY_BACKOFF)) - 1]
        if isinstance(exc, ProviderRateLimited):
            delay = max(delay, timedelta(seconds=exc.retry_after))
        with self.env.db.transaction():
            self.store.update(
                row.id,
                expected_token=token,
                attempts=attempts,
                due_at=now + delay,
                locked_until=None,
                claim_token=None,
                updated_at=now,
            )

    def _fail_now(self, row: ActionRow, token: str, code: str, message: str) -> None:
        with self.env.db.transaction():
            current = self.store.by_id(row.id)
            if current is None or current.claim_token != token:
                return
            self._finalise(current, "failed", self.env.clock.now(), code, message)

    def finish(self, action_id: str, token: str) -> None:
        """Complete or fail a claimed acknowledged action by its recorded outcome."""
        with self.env.db.transaction():
            row = self.store.by_id(action_id)
            if row is None or row.state != "acknowledged" or row.claim_token != token:
                return
            self._finish_row(row, self.env.clock.now())

    def _finish_row(self, row: ActionRow, now: datetime) -> None:
        outcome = row.outcome or {"status": "completed"}
        failed = outcome.get("status") == "failed"
        self._finalise(
            row,
            "failed" if failed else "completed",
            now,
            outcome.get("errorCode") if failed else None,
            outcome.get("errorMessage") if failed else None,
        )

    def cancel(self, row: ActionRow, now: datetime) -> None:
        """Cancel a scheduled action (inside the caller's transaction)."""
        self._finalise(row, "cancelled", now, None, None)

    def _finalise(
        self, row: ActionRow, state: str, now: datetime, code: str | None, message: str | None
    ) -> None:
        self.store.update(
            row.id,
            state=state,
            updated_at=now,
            error_code=code,
            error_message=message,
            due_at=None,
            locked_until=None,
            claim_token=None,
        )
        final = self.store.by_id(row.id)
        assert final is not None
        self.env.event_service.record(row.project_id, f"action.{state}", render_action(final))
        self._release_queue(row.id, now)

    def _release_queue(self, action_id: str, now: datetime) -> None:
        """Start the actions queued after ``action_id`` now that it is finished."""
        for waiting in self.store.waiting_on(action_id):
            start = max(waiting.start_at, now)
            end = None if waiting.end_at is None else start + (waiting.end_at - waiting.start_at)
            self.store.update(waiting.id, start_at=start, end_at=end, due_at=start, updated_at=now)


def _with_control(outcome: ExecutionOutcome, control: dict[str, Any] | None) -> ExecutionOutcome:
    """Apply the request's ``sandbox`` object: forced outcome, error code, latency."""
    if control is None:
        return outcome
    failed = control.get("outcome") == "failed"
    latency = control.get("latencySeconds")
    return ExecutionOutcome(
        status="failed" if failed else "completed",
        latency=outcome.latency if latency is None else timedelta(seconds=float(latency)),
        error_code=(control.get("errorCode") or FORCED_FAILURE_CODE) if failed else None,
        error_message="Failure forced by the request's sandbox object." if failed else None,
    )


class ActionWorker:
    """Starts scheduled actions at their start and finishes acknowledged ones."""

    name = "actions"
    interval = 0.5

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.lifecycle: ActionLifecycle = env.devices.actions.lifecycle

    def run_once(self) -> int:
        """Claim the due actions and move each one step; return how many."""
        now = self.env.clock.now()
        if not self.lifecycle.store.any_due(now):
            return 0  # the usual case: no write transaction, no write lock taken
        token = secrets.token_hex(8)
        with self.env.db.transaction():
            ids = self.lifecycle.store.claim_due(now, CLAIM_BATCH, now + LEASE, token)
        for action_id in ids:
            try:
                self.lifecycle.process(action_id, token)
            except Exception:
                # One broken row must not hold up the others of the batch; its
                # lease runs out and a later pass tries it again.
                log.exception("action %s could not be processed", action_id)
        return len(ids)


def action_workers(env: Environment) -> list[ActionWorker]:
    """The action worker of ``env`` (registered in ``worker_factories``)."""
    return [ActionWorker(env)]
