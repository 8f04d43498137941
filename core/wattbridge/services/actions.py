"""Actions: pushing commands to devices, listing, reading and cancelling them.

A push is validated (body → capabilities → time window → conflicts) before
anything is written, so a rejected request leaves no trace. An accepted action
is ``scheduled`` until its start; the start (by this request for an immediate
action, else by the action worker) hands it to the provider, which moves it to
``acknowledged`` and later ``completed`` or ``failed``
(:mod:`wattbridge.services.action_lifecycle`). Only a ``scheduled`` action can be
cancelled.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from wattbridge.clock import isoformat
from wattbridge.config import parse_duration
from wattbridge.drivers.devices import ActionRef, ExecutionShape
from wattbridge.errors import (
    ActionNotCancellable,
    ConfigurationError,
    Conflict,
    NotFound,
    SandboxOnly,
    ValidationFailed,
)
from wattbridge.ids import new_id
from wattbridge.models.devices import CONFLICT_STRATEGIES, PushAction, SandboxControl
from wattbridge.serialization import structure
from wattbridge.services.action_lifecycle import LEASE, ActionLifecycle
from wattbridge.services.action_records import action_ref, render_action
from wattbridge.services.capability_checks import check_action
from wattbridge.store.devices import (
    ACTIVE_STATES,
    ActionRow,
    ActionStore,
    DeviceRow,
    ReadActions,
)

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.services.devices import DeviceService

MAX_AHEAD = timedelta(days=30)
CLOCK_SKEW = timedelta(seconds=5)
MAX_FORCED_LATENCY = timedelta(minutes=10)
MAX_QUEUE_HOPS = 50
EFFECTIVE_STATES = ("acknowledged", "completed")
MAX_PROJECTED_ACTIONS = 100
"""The most actions a read hands to the provider: the newest by start."""
PROJECTED_STATES = ("scheduled", *EFFECTIVE_STATES)
"""The states of the actions a read hands to the provider (scheduled: for future reads)."""


def _overlaps(start: datetime, end: datetime | None, other: ActionRow) -> bool:
    # Windows are half-open [start, end); a missing end is open-ended.
    return (other.end_at is None or start < other.end_at) and (end is None or other.start_at < end)


class ActionService:
    """The actions of one environment's devices."""

    def __init__(self, env: Environment, devices: DeviceService) -> None:
        self.env = env
        self.devices = devices
        self.store = ActionStore(env.db)
        self.lifecycle = ActionLifecycle(env, devices, self.store)

    def push(self, project_id: str, device_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate and accept an action; an immediate one is started before answering."""
        request = structure(body, PushAction)
        if request.sandbox is not None:
            self.devices.require_simulation("The 'sandbox' control object")
        device = self.devices.require(project_id, device_id)
        if request.sandbox is not None and not self.devices.simulates(device):
            raise SandboxOnly(
                f"Device {device_id!r} is real hardware; remove the 'sandbox' object."
            )
        now = self.env.clock.now()
        start, end, shape = self._window(request, now)
        parameters = check_action(
            self.devices.capabilities(device), request.command, request.parameters, shape
        )
        control = _control(request.sandbox)
        token = secrets.token_hex(8)
        with self.env.db.transaction():
            start, end, after = self._resolve_conflicts(device, request, start, end, now)
            immediate = after is None and start <= now
            row = ActionRow(
                id=new_id("act"),
                project_id=project_id,
                device_id=device.id,
                command=request.command,
                parameters={n: {"value": q.value, "unit": q.unit} for n, q in parameters.items()},
                start_at=start,
                end_at=end,
                state="scheduled",
                created_at=now,
                updated_at=now,
                control=control,
                outcome=None,
                error_code=None,
                error_message=None,
                attempts=0,
                after_action_id=after,
                due_at=None if after is not None else start,
                # An immediate action is started by this request: claim it so
                # the worker leaves it alone unless this process dies.
                locked_until=now + LEASE if immediate else None,
                claim_token=token if immediate else None,
            )
            self.store.insert(row)
        if immediate:
            self.lifecycle.start(row.id, token)
        return self.get(project_id, row.id)

    def _window(
        self, request: PushAction, now: datetime
    ) -> tuple[datetime, datetime | None, ExecutionShape]:
        start = request.start or now
        if start < now - CLOCK_SKEW:
            raise ValidationFailed.single(
                "$.start",
                f"{isoformat(start)} is in the past; omit start to run the command now, "
                "or give a future time",
            )
        if start > now + MAX_AHEAD:
            raise ValidationFailed.single(
                "$.start",
                f"must be at most 30 days ahead (before {isoformat(now + MAX_AHEAD)}), "
                f"got {isoformat(start)}",
            )
        if request.end is not None and request.end <= start:
            raise ValidationFailed.single(
                "$.end", f"must be after start ({isoformat(start)}), got {isoformat(request.end)}"
            )
        if request.end is not None and request.end > now + MAX_AHEAD:
            raise ValidationFailed.single(
                "$.end",
                f"must be at most 30 days ahead (before {isoformat(now + MAX_AHEAD)}), "
                f"got {isoformat(request.end)}; push a new action later for the rest",
            )
        start = max(start, now)  # a start within the clock skew means now
        shape: ExecutionShape = (
            "windowed" if request.end is not None else "scheduled" if start > now else "immediate"
        )
        return start, request.end, shape

    def _resolve_conflicts(
        self,
        device: DeviceRow,
        request: PushAction,
        start: datetime,
        end: datetime | None,
        now: datetime,
    ) -> tuple[datetime, datetime | None, str | None]:
        """Apply ``onConflict``; return the (possibly moved) window and the awaited action."""
        active = self.store.in_states(device.id, ACTIVE_STATES)
        conflicting = [a for a in active if _overlaps(start, end, a)]
        if not conflicting:
            return start, end, None
        if request.on_conflict is None:
            ids = [a.id for a in conflicting]
            raise Conflict(
                f"Device {device.id!r} already has an active action in this window "
                f"({', '.join(ids)}). Send onConflict: 'cancel_and_replace' to replace it or "
                "'queue_after' to run after it, or cancel it first.",
                {"conflictingActionIds": ids, "strategies": list(CONFLICT_STRATEGIES)},
            )
        if request.on_conflict == "cancel_and_replace":
            for action in conflicting:
                # An acknowledged action is already with the device: it is not
                # revoked but superseded, since the newest started action wins.
                if action.state == "scheduled":
                    self.lifecycle.cancel(action, now)
            return start, end, None
        return self._queue_after(active, start, end)

    def _queue_after(
        self, active: list[ActionRow], start: datetime, end: datetime | None
    ) -> tuple[datetime, datetime | None, str | None]:
        duration = None if end is None else end - start
        for _ in range(MAX_QUEUE_HOPS):
            conflicting = [a for a in active if _overlaps(start, end, a)]
            if not conflicting:
                return start, end, None
            open_ended = [a for a in conflicting if a.end_at is None]
            if open_ended:
                # No known end: wait until that action is finished (see lifecycle.release).
                last = max(open_ended, key=lambda a: a.start_at)
                start = max(start, last.start_at)
                return start, None if duration is None else start + duration, last.id
            start = max(a.end_at for a in conflicting if a.end_at is not None)
            end = None if duration is None else start + duration
        raise Conflict("Too many queued actions on this device; cancel some first.")

    def require(self, project_id: str, action_id: str) -> ActionRow:
        """An action of the project, or 404."""
        row = self.store.get(project_id, action_id)
        if row is None:
            raise NotFound(f"No action {action_id!r} in this project and environment.")
        return row

    def get(self, project_id: str, action_id: str) -> dict[str, Any]:
        """One action, or 404."""
        return render_action(self.require(project_id, action_id))

    def list_for_device(
        self, project_id: str, device_id: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of a device's actions, newest first."""
        device = self.devices.require(project_id, device_id)
        rows, total = self.store.list_for_device(device.id, limit, offset)
        return [render_action(r) for r in rows], total

    def cancel(self, project_id: str, action_id: str) -> dict[str, Any]:
        """Cancel a scheduled action (409 ``ACTION_NOT_CANCELLABLE`` otherwise)."""
        now = self.env.clock.now()
        with self.env.db.transaction():
            row = self.require(project_id, action_id)
            starting = row.locked_until is not None and row.locked_until > now
            if row.state != "scheduled" or starting:
                state = "being started" if row.state == "scheduled" else row.state
                raise ActionNotCancellable(
                    f"Action {action_id!r} is {state}; only scheduled actions can be cancelled. "
                    "To change what the device does, push a new action.",
                    {"state": row.state},
                )
            self.lifecycle.cancel(row, now)
        return self.get(project_id, action_id)

    def cancel_all_scheduled(self, device: DeviceRow) -> None:
        """Cancel a device's scheduled actions (inside the caller's transaction)."""
        now = self.env.clock.now()
        for row in self.store.in_states(device.id, ("scheduled",)):
            self.lifecycle.cancel(row, now)

    def for_read(self, device_id: str, at: datetime) -> ReadActions:
        """The actions a read of the device at ``at`` needs (see :func:`refs`)."""
        return self.store.for_read(device_id, at, PROJECTED_STATES, MAX_PROJECTED_ACTIONS)


def refs(rows: Sequence[ActionRow], at: datetime, now: datetime) -> list[ActionRef]:
    """The device's actions as providers see them, for a read at ``at``.

    ``rows`` are the newest :data:`MAX_PROJECTED_ACTIONS` actions in
    :data:`PROJECTED_STATES` that have started by ``at`` (only those can shape
    the state then), so a read costs the same for a device with a long history;
    the selection depends on ``at`` alone, so reads stay deterministic. A read
    in the future projects scheduled actions that will have started by then as
    accepted, unless their outcome is forced to fail. An action queued after an
    open-ended one has no known start yet, so no read projects it.
    """
    refs = []
    for row in rows:
        if row.state == "scheduled" and row.after_action_id is not None and row.due_at is None:
            continue
        accepted_by_then = (
            row.state == "scheduled"
            and at > now
            and row.start_at <= at
            and (row.control or {}).get("outcome") != "failed"
        )
        refs.append(action_ref(row, "acknowledged" if accepted_by_then else None))
    return refs


def _control(control: SandboxControl | None) -> dict[str, Any] | None:
    """Validate the sandbox control object and keep it in its stored form."""
    if control is None:
        return None
    if control.error_code is not None and control.outcome != "failed":
        raise ValidationFailed.single(
            "$.sandbox.errorCode", "only applies with outcome 'failed'; set outcome to 'failed'"
        )
    stored: dict[str, Any] = {"outcome": control.outcome, "errorCode": control.error_code}
    if control.latency is not None:
        try:
            latency = parse_duration(control.latency)
        except ConfigurationError as exc:
            raise ValidationFailed.single("$.sandbox.latency", str(exc)) from None
        if latency > MAX_FORCED_LATENCY:
            raise ValidationFailed.single(
                "$.sandbox.latency", f"must be at most 10m, got {control.latency!r}"
            )
        stored["latency"] = control.latency
        stored["latencySeconds"] = latency.total_seconds()
    return stored

