"""``/v1/webhook-endpoints``: the caller's endpoints in the key's environment."""

from __future__ import annotations

from typing import Any

from wattbridge.api.params import LIMIT, OFFSET, page_window, paginated
from wattbridge.api.routing import ApiRoute, Call, Reply
from wattbridge.api.schema_parts import NULLABLE_TIME, TIME, page_of
from wattbridge.services.events import EVENT_TYPES
from wattbridge.services.webhooks import ALL_EVENTS, WebhookEndpointService

_BASE = "/v1/webhook-endpoints"
_ONE = _BASE + "/{id}"


def _service(call: Call) -> WebhookEndpointService:
    return WebhookEndpointService(call.environment)


def create_endpoint(call: Call) -> Reply:
    """Register an endpoint; its secret is in this answer only."""
    return Reply(_service(call).create(call.project_id, call.json_object()), status=201)


def list_endpoints(call: Call) -> dict[str, Any]:
    """Endpoints, oldest first."""
    limit, offset = page_window(call.query)
    items, total = _service(call).list_endpoints(call.project_id, limit, offset)
    return paginated(items, limit, offset, total)


def get_endpoint(call: Call) -> dict[str, Any]:
    """One endpoint."""
    return _service(call).get(call.project_id, call.path_params["id"])


def update_endpoint(call: Call) -> dict[str, Any]:
    """Change an endpoint."""
    return _service(call).update(call.project_id, call.path_params["id"], call.json_object())


def delete_endpoint(call: Call) -> dict[str, Any]:
    """Delete an endpoint."""
    return _service(call).delete(call.project_id, call.path_params["id"])


def rotate_secret(call: Call) -> dict[str, Any]:
    """New secret, with an overlap during which both sign."""
    body = call.json_object(optional=True)
    return _service(call).rotate_secret(call.project_id, call.path_params["id"], body)


def send_test(call: Call) -> Reply:
    """Queue a webhook.test delivery to this endpoint."""
    return Reply(_service(call).send_test(call.project_id, call.path_params["id"]), status=202)


def list_deliveries(call: Call) -> dict[str, Any]:
    """The endpoint's delivery attempts, newest first."""
    limit, offset = page_window(call.query)
    items, total = _service(call).deliveries(
        call.project_id, call.path_params["id"], limit, offset
    )
    return paginated(items, limit, offset, total)


def recover(call: Call) -> Reply:
    """Queue failed deliveries since a time again."""
    result = _service(call).recover(call.project_id, call.path_params["id"], call.json_object())
    return Reply(result, status=202)


ROUTES = [
    ApiRoute(
        "POST", _BASE, create_endpoint, "Create a webhook endpoint", "webhooks",
        status=201, body="CreateWebhookEndpoint", response="WebhookEndpointWithSecret",
        errors=(400,),
    ),
    ApiRoute(
        "GET", _BASE, list_endpoints, "List webhook endpoints", "webhooks",
        query=(LIMIT, OFFSET), response="WebhookEndpointList", errors=(400,),
    ),
    ApiRoute(
        "GET", _ONE, get_endpoint, "Get a webhook endpoint", "webhooks",
        response="WebhookEndpoint", errors=(404,),
    ),
    ApiRoute(
        "PATCH", _ONE, update_endpoint, "Update a webhook endpoint", "webhooks",
        body="UpdateWebhookEndpoint", response="WebhookEndpoint", errors=(400, 404),
    ),
    ApiRoute(
        "DELETE", _ONE, delete_endpoint, "Delete a webhook endpoint", "webhooks",
        response="DeletedWebhookEndpoint", errors=(404,),
    ),
    ApiRoute(
        "POST", _ONE + "/rotate-secret", rotate_secret, "Rotate an endpoint's secret", "webhooks",
        body="RotateWebhookSecret", response="WebhookEndpointWithSecret", errors=(400, 404),
    ),
    ApiRoute(
        "POST", _ONE + "/test", send_test, "Send a webhook.test event", "webhooks",
        status=202, response="WebhookTest", errors=(404, 409),
    ),
    ApiRoute(
        "GET", _ONE + "/deliveries", list_deliveries, "List delivery attempts", "webhooks",
        query=(LIMIT, OFFSET), response="WebhookDeliveryList", errors=(400, 404),
    ),
    ApiRoute(
        "POST", _ONE + "/recover", recover, "Re-queue failed deliveries", "webhooks",
        status=202, body="RecoverWebhooks", response="WebhookRecovery", errors=(400, 404, 409),
    ),
]

_NULLABLE_STRING = {"type": ["string", "null"]}
_EVENT_LIST = {
    "type": ["array", "null"],
    "items": {"type": "string", "enum": list(EVENT_TYPES)},
    "description": "Event types to receive; null: every type.",
}
_EVENT_LIST_INPUT = {
    "type": ["array", "null"],
    "items": {"type": "string", "enum": [ALL_EVENTS, *EVENT_TYPES]},
    "description": 'Event types to receive; ["*"], null or absent: every type (on PATCH,'
    ' null or absent leaves the subscription as it is and ["*"] resets it to every type).',
}
_ENDPOINT_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string", "pattern": "^we_"},
    "url": {"type": "string"},
    "events": _EVENT_LIST,
    "description": _NULLABLE_STRING,
    "enabled": {"type": "boolean"},
    "disabledReason": _NULLABLE_STRING,
    "createdAt": TIME,
    "updatedAt": TIME,
}
_ENDPOINT_REQUIRED = list(_ENDPOINT_PROPERTIES)

SCHEMAS: dict[str, dict[str, Any]] = {
    "WebhookEndpoint": {
        "type": "object",
        "required": _ENDPOINT_REQUIRED,
        "properties": _ENDPOINT_PROPERTIES,
    },
    "WebhookEndpointWithSecret": {
        "type": "object",
        "required": [*_ENDPOINT_REQUIRED, "secret"],
        "properties": {
            **_ENDPOINT_PROPERTIES,
            "secret": {"type": "string", "pattern": "^whsec_", "description": "Shown only here."},
            "previousSecretExpiresAt": {
                **NULLABLE_TIME,
                "description": "Rotation only: until then the old secret signs too.",
            },
        },
    },
    "WebhookEndpointList": page_of("WebhookEndpoint"),
    "CreateWebhookEndpoint": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "maxLength": 2048},
            "events": _EVENT_LIST_INPUT,
            "description": {"type": ["string", "null"], "maxLength": 500},
        },
    },
    "UpdateWebhookEndpoint": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": {"type": ["string", "null"], "maxLength": 2048},
            "events": _EVENT_LIST_INPUT,
            "description": {"type": ["string", "null"], "maxLength": 500},
            "enabled": {"type": ["boolean", "null"]},
        },
    },
    "DeletedWebhookEndpoint": {
        "type": "object",
        "required": ["id", "deleted"],
        "properties": {"id": {"type": "string"}, "deleted": {"const": True}},
    },
    "RotateWebhookSecret": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "expiresIn": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 86400}
        },
    },
    "WebhookTest": {
        "type": "object",
        "required": ["event", "webhookId"],
        "properties": {
            "event": {"$ref": "#/components/schemas/Event"},
            "webhookId": {"type": "string", "pattern": "^msg_"},
        },
    },
    "WebhookDelivery": {
        "type": "object",
        "required": [
            "webhookId", "eventId", "eventType", "attempt", "status", "statusCode",
            "durationMs", "error", "responseBody", "attemptedAt", "nextAttemptAt",
        ],
        "properties": {
            "webhookId": {"type": "string", "pattern": "^msg_"},
            "eventId": {"type": "string", "pattern": "^evt_"},
            "eventType": {"type": "string", "enum": list(EVENT_TYPES)},
            "attempt": {"type": "integer", "minimum": 1},
            "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
            "statusCode": {"type": ["integer", "null"]},
            "durationMs": {"type": ["number", "null"]},
            "error": _NULLABLE_STRING,
            "responseBody": _NULLABLE_STRING,
            "attemptedAt": NULLABLE_TIME,
            "nextAttemptAt": NULLABLE_TIME,
        },
    },
    "WebhookDeliveryList": page_of("WebhookDelivery"),
    "RecoverWebhooks": {
        "type": "object",
        "required": ["since"],
        "additionalProperties": False,
        "properties": {"since": TIME},
    },
    "WebhookRecovery": {
        "type": "object",
        "required": ["recovered", "since"],
        "properties": {"recovered": {"type": "integer", "minimum": 0}, "since": TIME},
    },
}
