"""``/v1/events``: the events of the caller's project and environment."""

from __future__ import annotations

from typing import Any

from wattbridge.api.params import LIMIT, OFFSET, choice, page_window, paginated
from wattbridge.api.routing import ApiRoute, Call, Param
from wattbridge.api.schema_parts import TIME, page_of
from wattbridge.services.events import EVENT_TYPES


def list_events(call: Call) -> dict[str, Any]:
    """Events, newest first."""
    limit, offset = page_window(call.query)
    event_type = choice(call.query, "type", EVENT_TYPES)
    items, total = call.environment.event_service.list(call.project_id, limit, offset, event_type)
    return paginated(items, limit, offset, total)


def get_event(call: Call) -> dict[str, Any]:
    """One event."""
    return call.environment.event_service.get(call.project_id, call.path_params["id"])


ROUTES = [
    ApiRoute(
        "GET",
        "/v1/events",
        list_events,
        "List events",
        "events",
        query=(
            LIMIT,
            OFFSET,
            Param(
                "type", {"type": "string", "enum": list(EVENT_TYPES)}, "Only events of this type."
            ),
        ),
        response="EventList",
        errors=(400,),
    ),
    ApiRoute(
        "GET",
        "/v1/events/{id}",
        get_event,
        "Get an event",
        "events",
        response="Event",
        errors=(404,),
    ),
]

SCHEMAS: dict[str, dict[str, Any]] = {
    "Event": {
        "type": "object",
        "required": ["id", "type", "createdAt", "environment", "data"],
        "properties": {
            "id": {"type": "string", "pattern": "^evt_"},
            "type": {"type": "string", "enum": list(EVENT_TYPES)},
            "createdAt": TIME,
            "environment": {"$ref": "#/components/schemas/EnvironmentName"},
            "data": {"type": "object"},
        },
    },
    "EventList": page_of("Event"),
}
