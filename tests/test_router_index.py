"""The indexed router picks exactly the route Starlette's complete scan would pick."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Match, Route

from wattbridge.api.app import IndexedRouter
from wattbridge.platform import Platform


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _first_full(routes: list[Any], scope: dict[str, Any]) -> Any:
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def test_every_route_and_some_misses_resolve_as_with_a_full_scan(platform: Platform) -> None:
    router = platform.asgi_app().router
    assert isinstance(router, IndexedRouter)
    paths = []
    for route in router.routes:
        if isinstance(route, Route):
            concrete = re.sub(r"\{[^}]+\}", "x_123", route.path)
            paths += [concrete, concrete + "/", concrete + "/extra"]
    paths += ["/", "/v1", "/v1/", "/nothing/here", "/v1/devices"]
    methods = ("GET", "POST", "DELETE", "PATCH")
    checked = 0
    for path in paths:
        for method in methods:
            scope = _scope(method, path)
            expected = _first_full(router.routes, scope)
            candidates = router._candidates(path)
            assert _first_full(candidates, scope) is expected, (method, path)
            checked += 1 if expected is not None else 0
    assert checked >= len([r for r in router.routes if isinstance(r, Route)])


def test_routes_added_later_are_indexed(platform: Platform) -> None:
    router = platform.asgi_app().router
    assert isinstance(router, IndexedRouter)
    assert _first_full(router._candidates("/v1/late/x"), _scope("GET", "/v1/late/x")) is None

    async def late(_: Any) -> None:
        raise AssertionError("not called")

    added = Route("/v1/late/{id}", late, methods=["GET"])
    router.routes.append(added)
    assert _first_full(router._candidates("/v1/late/x"), _scope("GET", "/v1/late/x")) is added
