"""``/v1/devices``, ``/v1/sandbox/devices`` and ``/v1/vendors``."""

from __future__ import annotations

from typing import Any

from wattbridge.api.params import LIMIT, OFFSET, boolean, choice, instant, page_window, paginated
from wattbridge.api.routing import ApiRoute, Call, Param, Reply
from wattbridge.api.schema_parts import NULLABLE_TIME, TIME, page_of
from wattbridge.drivers.devices import DEVICE_TYPES
from wattbridge.serialization import Encoded

PROVIDER_ERRORS = (409, 429, 502, 503)
"""Statuses of vendor failures a request cannot work around (``provider_failures``)."""

_TYPE = Param("type", {"type": "string", "enum": list(DEVICE_TYPES)}, "Only devices of this type.")


def list_devices(call: Call) -> dict[str, Any]:
    """Connected devices of the project, oldest first."""
    limit, offset = page_window(call.query)
    items, total = call.environment.devices.list_devices(
        call.project_id,
        limit,
        offset,
        choice(call.query, "type", DEVICE_TYPES),
        call.query.get("userId") or None,
    )
    return paginated(items, limit, offset, total)


def get_device(call: Call) -> dict[str, Any] | Encoded:
    """One device with its state (``at``: simulated devices only)."""
    at, expedite = instant(call.query, "at"), boolean(call.query, "expedite")
    return call.environment.devices.read(call.project_id, call.path_params["id"], at, expedite)


def disconnect_device(call: Call) -> dict[str, Any]:
    """Disconnect a device."""
    return call.environment.devices.disconnect(call.project_id, call.path_params["id"])


def create_sandbox_device(call: Call) -> Reply:
    """Invent a simulated device."""
    body = call.json_object()
    return Reply(call.environment.devices.create_simulated(call.project_id, body), status=201)


def list_vendors(call: Call) -> dict[str, Any]:
    """Vendors offered in this environment."""
    limit, offset = page_window(call.query)
    items, total = call.environment.devices.vendors(
        limit, offset, choice(call.query, "type", DEVICE_TYPES)
    )
    return paginated(items, limit, offset, total)


ROUTES = [
    ApiRoute(
        "GET", "/v1/devices", list_devices, "List devices", "devices",
        query=(_TYPE, Param("userId", {"type": "string"}, "Only this end user's devices."),
               LIMIT, OFFSET),
        response="DeviceList", errors=(400, *PROVIDER_ERRORS),
    ),
    ApiRoute(
        "GET", "/v1/devices/{id}", get_device, "Get a device and its state", "devices",
        query=(
            Param("at", TIME,
                  "Simulated devices only: the state at this instant (400 SANDBOX_ONLY "
                  "for real hardware)."),
            Param("expedite", {"type": "boolean"},
                  "Accept cached live state only if under 1 minute old (default 15 minutes)."),
        ),
        response="Device", errors=(400, 404, *PROVIDER_ERRORS),
    ),
    ApiRoute(
        "DELETE", "/v1/devices/{id}", disconnect_device, "Disconnect a device", "devices",
        response="DisconnectedDevice", errors=(404,),
    ),
    ApiRoute(
        "POST", "/v1/sandbox/devices", create_sandbox_device, "Create a simulated device",
        "devices", status=201, body="CreateSandboxDevice", response="Device", errors=(400,),
    ),
    ApiRoute(
        "GET", "/v1/vendors", list_vendors, "List the vendors of this environment", "devices",
        query=(Param("type", {"type": "string", "enum": list(DEVICE_TYPES)},
                     "Only vendors of this device type."), LIMIT, OFFSET),
        response="VendorList", errors=(400,),
    ),
]

_NUMBER = {"type": "number"}

_SUMMARY: dict[str, Any] = {
    "id": {"type": "string", "pattern": "^dev_"},
    "type": {"$ref": "#/components/schemas/DeviceType"},
    "vendor": {"type": "string"},
    "model": {"type": "string"},
    "userId": {"type": "string"},
}
"""The identifying fields of a device (``services.devices.summary``)."""

SCHEMAS: dict[str, dict[str, Any]] = {
    "DeviceType": {"type": "string", "enum": list(DEVICE_TYPES)},
    "Device": {
        "type": "object",
        "required": ["id", "type", "vendor", "model", "userId", "sync", "metadata", "state",
                     "commands", "settings", "lastAction"],
        "properties": {
            **_SUMMARY,
            "sync": {
                "type": "object",
                "required": ["available", "lastPulledAt", "error"],
                "properties": {
                    "available": {"type": "boolean"},
                    "lastPulledAt": NULLABLE_TIME,
                    "error": {
                        "description": "Why the last read from the vendor failed (fallback "
                        "reads only), e.g. PROVIDER_AUTH_FAILED: the end user must re-link.",
                        "oneOf": [
                            {"type": "null"},
                            {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"},
                                            "message": {"type": "string"}}},
                        ],
                    },
                },
            },
            "metadata": {
                "type": "object",
                "required": ["source"],
                "properties": {
                    "source": {"type": "string",
                               "enum": ["projection", "live", "cache", "fallback"]},
                },
            },
            "state": {"type": ["object", "null"],
                      "description": "Type-specific fields; null only for a fallback read "
                      "of a device whose state was never read."},
            "commands": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["parameters", "execution"],
                    "properties": {
                        "parameters": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "required": ["unit", "min", "max"],
                                "properties": {"unit": {"type": "string"}, "min": _NUMBER,
                                               "max": _NUMBER},
                            },
                        },
                        "execution": {"type": "array", "items": {
                            "type": "string", "enum": ["immediate", "scheduled", "windowed"]}},
                    },
                },
            },
            "settings": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["value", "unit", "min", "max"],
                    "properties": {"value": _NUMBER, "unit": {"type": "string"}, "min": _NUMBER,
                                   "max": _NUMBER},
                },
            },
            "lastAction": {"oneOf": [{"$ref": "#/components/schemas/Action"}, {"type": "null"}]},
        },
    },
    "DeviceList": page_of("Device"),
    "DisconnectedDevice": {
        "type": "object",
        "required": ["id", "type", "vendor", "model", "userId", "disconnected"],
        "properties": {
            **_SUMMARY,
            "disconnected": {"const": True},
        },
    },
    "CreateSandboxDevice": {
        "type": "object",
        "additionalProperties": False,
        "required": ["type"],
        "properties": {
            "type": {"$ref": "#/components/schemas/DeviceType"},
            "vendor": {"type": "string", "description": "Vendor id or name (default: chosen)."},
            "userId": {"type": "string", "description": "Owner (default 'sandbox-user')."},
            "model": {"type": "string", "description": "Model name (default: chosen)."},
        },
    },
    "Vendor": {
        "type": "object",
        "required": ["id", "name", "deviceTypes", "authScheme", "provider"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "deviceTypes": {"type": "array", "items": {"$ref": "#/components/schemas/DeviceType"}},
            "authScheme": {"type": "string", "enum": ["password", "api_key", "local_host"]},
            "provider": {"type": "string"},
        },
    },
    "VendorList": page_of("Vendor"),
}
