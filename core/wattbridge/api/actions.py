"""``/v1/devices/{id}/actions`` and ``/v1/actions``: commands and their lifecycle."""

from __future__ import annotations

from typing import Any

from wattbridge.api.devices import PROVIDER_ERRORS
from wattbridge.api.params import LIMIT, OFFSET, page_window, paginated
from wattbridge.api.routing import ApiRoute, Call
from wattbridge.api.schema_parts import NULLABLE_TIME, TIME, page_of
from wattbridge.models.devices import CONFLICT_STRATEGIES


def push_action(call: Call) -> dict[str, Any]:
    """Send a command to a device (202: it runs asynchronously)."""
    actions = call.environment.devices.actions
    return actions.push(call.project_id, call.path_params["id"], call.json_object())


def list_actions(call: Call) -> dict[str, Any]:
    """A device's actions, newest first."""
    limit, offset = page_window(call.query)
    items, total = call.environment.devices.actions.list_for_device(
        call.project_id, call.path_params["id"], limit, offset
    )
    return paginated(items, limit, offset, total)


def get_action(call: Call) -> dict[str, Any]:
    """One action."""
    return call.environment.devices.actions.get(call.project_id, call.path_params["id"])


def cancel_action(call: Call) -> dict[str, Any]:
    """Cancel a scheduled action."""
    return call.environment.devices.actions.cancel(call.project_id, call.path_params["id"])


ROUTES = [
    ApiRoute(
        "POST", "/v1/devices/{id}/actions", push_action, "Push an action to a device", "actions",
        status=202, body="PushAction", response="Action",
        errors=(400, 404, 409, 422, *PROVIDER_ERRORS),
    ),
    ApiRoute(
        "GET", "/v1/devices/{id}/actions", list_actions, "List a device's actions", "actions",
        query=(LIMIT, OFFSET), response="ActionList", errors=(400, 404),
    ),
    ApiRoute(
        "GET", "/v1/actions/{id}", get_action, "Get an action", "actions",
        response="Action", errors=(404,),
    ),
    ApiRoute(
        "POST", "/v1/actions/{id}/cancel", cancel_action, "Cancel a scheduled action", "actions",
        response="Action", errors=(404, 409),
    ),
]

_QUANTITY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["value", "unit"],
    "properties": {"value": {"type": "number"}, "unit": {"type": "string"}},
}
_STATES = ["scheduled", "acknowledged", "completed", "failed", "cancelled"]

SCHEMAS: dict[str, dict[str, Any]] = {
    "Quantity": _QUANTITY,
    "PushAction": {
        "type": "object",
        "additionalProperties": False,
        "required": ["command"],
        "properties": {
            "command": {"type": "string", "examples": ["charge"]},
            "parameters": {"type": "object",
                           "additionalProperties": {"$ref": "#/components/schemas/Quantity"}},
            "start": {**TIME, "description": "Default now; at most 30 days ahead."},
            "end": TIME,
            "onConflict": {"type": "string", "enum": list(CONFLICT_STRATEGIES)},
            "sandbox": {
                "type": "object",
                "additionalProperties": False,
                "description": "Simulated devices only: force the outcome.",
                "properties": {
                    "outcome": {"type": "string", "enum": ["completed", "failed"]},
                    "errorCode": {"type": "string"},
                    "latency": {"type": "string", "examples": ["2s"]},
                },
            },
        },
    },
    "Action": {
        "type": "object",
        "required": ["id", "deviceId", "command", "parameters", "start", "end", "state",
                     "createdAt", "updatedAt", "error", "queuedAfter", "sandbox"],
        "properties": {
            "id": {"type": "string", "pattern": "^act_"},
            "deviceId": {"type": "string", "pattern": "^dev_"},
            "command": {"type": "string"},
            "parameters": {"type": "object",
                           "additionalProperties": {"$ref": "#/components/schemas/Quantity"}},
            "start": TIME,
            "end": NULLABLE_TIME,
            "state": {"type": "string", "enum": _STATES},
            "createdAt": TIME,
            "updatedAt": TIME,
            "error": {
                "oneOf": [
                    {"type": "null"},
                    {"type": "object", "required": ["code", "message"],
                     "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
                ]
            },
            "queuedAfter": {"type": ["string", "null"]},
            "sandbox": {"type": ["object", "null"]},
        },
    },
    "ActionList": page_of("Action"),
}
