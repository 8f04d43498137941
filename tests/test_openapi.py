"""/openapi.json describes exactly the routes the server has, and responses match it."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from tests.openapi_check import validate
from tests.support import Api, ServerThread
from wattbridge.platform import Platform


def test_document_lists_exactly_the_app_routes(platform: Platform, server: ServerThread) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    app = platform.asgi_app()
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and not route.path.startswith("/link")
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert documented == served


def test_every_operation_is_described(server: ServerThread) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    ids = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["summary"], (method, path)
            assert op["responses"], (method, path)
            ids.append(op["operationId"])
            for ref in _refs(op):
                name = ref.rsplit("/", 1)[-1]
                assert name in document["components"]["schemas"], ref
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_responses_match_the_document(server: ServerThread, sandbox_api: Api) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    validate(document, "GET", "/v1/me", 200, sandbox_api.get("/v1/me").json())
    validate(document, "GET", "/healthz", 200, httpx.get(f"{server.url}/healthz").json())
    validate(document, "GET", "/v1/events", 200, sandbox_api.get("/v1/events").json())
    unauthorized = httpx.get(f"{server.url}/v1/me")
    validate(document, "GET", "/v1/me", 401, unauthorized.json())
