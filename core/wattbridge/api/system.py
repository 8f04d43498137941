"""Routes about the service itself: health, the caller's identity, the API document."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from wattbridge import __version__
from wattbridge.api.routing import ApiRoute, Call
from wattbridge.serialization import dumps


def healthz(call: Call) -> dict[str, Any]:
    """Liveness: the process serves requests and its databases open."""
    return {"status": "ok", "version": __version__}


def me(call: Call) -> dict[str, Any]:
    """Who the key belongs to and which environment it reaches."""
    assert call.principal is not None
    project = call.principal.project
    return {
        "project": {"id": project.id, "name": project.name, "liveEnabled": project.live_enabled},
        "environment": call.principal.environment,
        "keyId": call.principal.key_id,
    }


def openapi(call: Call) -> Response:
    """The OpenAPI 3.1 document this server conforms to."""
    from wattbridge.api.openapi import document

    return Response(dumps(document(call.request)), media_type="application/json")


ROUTES = [
    ApiRoute("GET", "/healthz", healthz, "Health check", "system", auth=False, response="Health"),
    ApiRoute("GET", "/openapi.json", openapi, "This OpenAPI document", "system", auth=False,
             loop_first=False),
    ApiRoute(
        "GET",
        "/v1/me",
        me,
        "The calling key's project and environment",
        "system",
        response="Me",
        errors=(401, 403),
    ),
]

SCHEMAS: dict[str, dict[str, Any]] = {
    "Health": {
        "type": "object",
        "required": ["status", "version"],
        "properties": {"status": {"const": "ok"}, "version": {"type": "string"}},
    },
    "Me": {
        "type": "object",
        "required": ["project", "environment", "keyId"],
        "properties": {
            "project": {
                "type": "object",
                "required": ["id", "name", "liveEnabled"],
                "properties": {
                    "id": {"type": "string", "pattern": "^proj_"},
                    "name": {"type": "string"},
                    "liveEnabled": {"type": "boolean"},
                },
            },
            "environment": {"$ref": "#/components/schemas/EnvironmentName"},
            "keyId": {"type": "string", "pattern": "^key_"},
        },
    },
}
