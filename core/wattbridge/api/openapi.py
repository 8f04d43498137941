"""The OpenAPI 3.1 document, generated from the route declarations.

Because the document is built from the same :class:`ApiRoute` list that builds
the app, the two cannot list different operations; a test also checks the
app's routing table against it.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from wattbridge import __version__
from wattbridge.api.routing import ApiRoute
from wattbridge.api.schema_parts import TIME

_PATH_PARAM = re.compile(r"{([a-zA-Z_]+)(?::[a-z]+)?}")

COMMON_SCHEMAS: dict[str, dict[str, Any]] = {
    "EnvironmentName": {"type": "string", "enum": ["sandbox", "live"]},
    "Meta": {
        "type": "object",
        "required": ["requestId", "environment", "timestamp", "latencyMs"],
        "properties": {
            "requestId": {"type": "string", "pattern": "^req_"},
            "environment": {
                "oneOf": [{"$ref": "#/components/schemas/EnvironmentName"}, {"type": "null"}],
                "description": "The environment that served the request; null only when "
                "no valid key was presented.",
            },
            "timestamp": TIME,
            "latencyMs": {"type": "integer", "minimum": 0},
        },
    },
    "Error": {
        "type": "object",
        "required": ["success", "statusCode", "message", "error", "meta"],
        "properties": {
            "success": {"const": False},
            "statusCode": {"type": "integer"},
            "message": {"type": "string"},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            },
            "meta": {"$ref": "#/components/schemas/Meta"},
        },
    },
    "Pagination": {
        "type": "object",
        "required": ["limit", "offset", "total", "hasMore"],
        "properties": {
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "total": {"type": "integer"},
            "hasMore": {"type": "boolean"},
        },
    },
}

_ERROR_TEXT = {
    400: "Invalid request (VALIDATION_FAILED, SANDBOX_ONLY, …)",
    401: "Missing, malformed, unknown or revoked API key",
    403: "Forbidden (LIVE_ACCESS_DISABLED, DEVICE_LIMIT_REACHED)",
    404: "Not found in this project and environment",
    409: "Conflict with the current state",
    422: "Unsupported command, parameter, unit or value; idempotency key reused",
    429: "Rate or plan limit reached",
}


def _envelope(schema_ref: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"$ref": f"#/components/schemas/{schema_ref}"} if schema_ref else {}
    return {
        "type": "object",
        "required": ["success", "data", "meta"],
        "properties": {
            "success": {"const": True},
            "data": data,
            "meta": {"$ref": "#/components/schemas/Meta"},
        },
    }


def _operation(route: ApiRoute) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(route.path)
    ]
    params += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "schema": dict(p.schema),
            "description": p.description,
        }
        for p in route.query
    ]
    if route.method == "POST" and route.auth and route.idempotent_post:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "Retry safely: the same key and body replay the first response.",
            }
        )
    op: dict[str, Any] = {
        "operationId": route.handler.__name__ + "_" + route.method.lower(),
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": params,
        "responses": {
            str(route.status): {
                "description": route.summary,
                "content": {"application/json": {"schema": _envelope(route.response)}},
            }
        },
    }
    if route.path == "/openapi.json":
        op["responses"] = {
            "200": {
                "description": "This document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        }
    if route.body:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{route.body}"}}
            },
        }
    errors = set(route.errors) | ({401} if route.auth else set())
    if route.body:
        errors.add(400)
    for status in sorted(errors):
        op["responses"][str(status)] = {
            "description": _ERROR_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    if route.auth:
        op["security"] = [{"bearer": []}, {"apiKey": []}]
    else:
        op["security"] = []
    return op


def build(
    routes: list[ApiRoute],
    schemas: dict[str, dict[str, Any]],
    server_url: str,
    operations: dict[str, dict[str, Any]] | None = None,
    security_schemes: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The document for ``routes`` with component ``schemas``.

    ``operations`` (keyed ``"GET /path"``) replace parts of an operation the route
    declaration cannot express (a non-JSON answer, another credential);
    ``security_schemes`` add credentials such operations name.
    """
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = _PATH_PARAM.sub(r"{\1}", route.path)
        operation = _operation(route)
        operation.update((operations or {}).get(f"{route.method} {route.path}", {}))
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wattbridge API",
            "version": __version__,
            "description": "One API to energy devices and a solar + battery sizing solver. "
            "The API key selects the environment: sk_test_/zs_test_ keys reach the sandbox, "
            "sk_live_/zs_live_ keys reach live. Every response says which served it in "
            "meta.environment.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {**COMMON_SCHEMAS, **schemas},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer sk_test_…",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                **(security_schemes or {}),
            },
        },
    }


def document(request: Request | None = None) -> dict[str, Any]:
    """The document of this server (the server URL taken from the request)."""
    from wattbridge.api.app import RESOURCE_MODULES, api_routes

    schemas: dict[str, dict[str, Any]] = {}
    operations: dict[str, dict[str, Any]] = {}
    security_schemes: dict[str, dict[str, Any]] = {}
    for module in RESOURCE_MODULES:
        schemas.update(getattr(module, "SCHEMAS", {}))
        operations.update(getattr(module, "OPERATIONS", {}))
        security_schemes.update(getattr(module, "SECURITY_SCHEMES", {}))
    url = str(request.base_url).rstrip("/") if request is not None else "http://127.0.0.1:8000"
    return build(api_routes(), schemas, url, operations, security_schemes)
