"""The indexed router picks exactly the route Starlette's complete scan would pick."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Match, Route

from wattbridge.api.app import IndexedRouter
from wattbridge.api.routing import is_api_endpoint
from wattbridge.platform import Platform


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _first_full(routes: list[Any], scope: dict[str, Any]) -> Any:
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def _resolved(router: IndexedRouter, scope: dict[str, Any]) -> Any:
    found = router.resolve(scope)
    return None if found is None else found[0].route


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
            found = router.resolve(scope)
            assert (None if found is None else found[0].route) is expected, (method, path)
            if found is not None:
                entry, child = found
                # The same child scope Starlette's own match gives, and only the
                # API's operations take the direct path.
                assert child == expected.matches(scope)[1], (method, path)
                assert entry.api is is_api_endpoint(expected.endpoint)
                checked += 1
    assert checked >= len([r for r in router.routes if isinstance(r, Route)])


def test_routes_added_later_are_indexed(platform: Platform) -> None:
    router = platform.asgi_app().router
    assert isinstance(router, IndexedRouter)
    assert _resolved(router, _scope("GET", "/v1/late/x")) is None

    async def late(_: Any) -> None:
        raise AssertionError("not called")

    added = Route("/v1/late/{id}", late, methods=["GET"])
    router.routes.append(added)
    assert _resolved(router, _scope("GET", "/v1/late/x")) is added
    assert not router.resolve(_scope("GET", "/v1/late/x"))[0].api  # type: ignore[index]
