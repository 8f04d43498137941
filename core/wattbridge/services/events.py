"""Events: recorded in the outbox with their cause, listed and read by the API.

Features call :meth:`EventService.record` inside the transaction of the state
change; the webhook dispatcher delivers undispatched events once their
``dispatch_after`` time has come.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from wattbridge.clock import Clock
from wattbridge.drivers.base import EnvironmentName
from wattbridge.errors import NotFound
from wattbridge.ids import new_id
from wattbridge.store.events import EventStore, NewEvent, StoredEvent

EVENT_TYPES: tuple[str, ...] = (
    "scan.pending",
    "scan.processing",
    "scan.completed",
    "scan.failed",
    "action.completed",
    "action.failed",
    "action.cancelled",
    "device.connected",
    "device.disconnected",
    "webhook.test",
)


class EventService:
    """The events of one environment."""

    def __init__(
        self,
        store: EventStore,
        environment: EnvironmentName,
        clock: Clock,
        action_delay: timedelta = timedelta(0),
    ) -> None:
        self.store = store
        self.environment = environment
        self.clock = clock
        # The environment's configured delay before action.* events go out
        # (sandbox default 3 minutes, live 0), applied here so that every
        # producer of action events gets it without knowing about it.
        self.action_delay = action_delay

    def record(
        self,
        project_id: str,
        event_type: str,
        data: dict[str, Any],
        at: datetime | None = None,
    ) -> str:
        """Append an event to the outbox; call inside the causing transaction.

        ``action.*`` events become due for delivery after the environment's
        ``webhook_delay``; all others at once.
        """
        [event_id] = self.record_many([(project_id, event_type, data, at)])
        return event_id

    def record_many(
        self, events: Sequence[tuple[str, str, dict[str, Any], datetime | None]]
    ) -> list[str]:
        """:meth:`record` for several events (project, type, data, time) in one statement."""
        rows: list[NewEvent] = []
        for project_id, event_type, data, at in events:
            if event_type not in EVENT_TYPES:
                raise ValueError(f"unknown event type {event_type!r}")
            created = at or self.clock.now()
            delay = self.action_delay if event_type.startswith("action.") else timedelta(0)
            rows.append((new_id("evt"), project_id, event_type, data, created, created + delay))
        self.store.insert_many(rows)
        return [row[0] for row in rows]

    def render(self, event: StoredEvent) -> dict[str, Any]:
        """The public form of an event, identical to the webhook payload."""
        return {
            "id": event.id,
            "type": event.type,
            "createdAt": event.created_at,
            "environment": self.environment,
            "data": event.data,
        }

    def get(self, project_id: str, event_id: str) -> dict[str, Any]:
        """One event, or 404."""
        event = self.store.get(project_id, event_id)
        if event is None:
            raise NotFound(f"No event {event_id!r} in this project and environment.")
        return self.render(event)

    def list(
        self, project_id: str, limit: int, offset: int, event_type: str | None
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of events, newest first, and the total (``event_type``: only that type)."""
        events, total = self.store.list(project_id, limit, offset, event_type)
        return [self.render(e) for e in events], total
