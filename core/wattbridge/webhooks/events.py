"""The webhook event types of the API contract, and what each one is about."""

from __future__ import annotations

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
"""Every event type an endpoint can subscribe to, in documentation order."""


def is_event_type(name: str) -> bool:
    """Return whether ``name`` is an event type an endpoint may subscribe to."""
    return name in EVENT_TYPES


def resource_of(event_type: str) -> str:
    """Return the resource an event type is about: ``"scan"`` for ``"scan.completed"``."""
    return event_type.partition(".")[0]
