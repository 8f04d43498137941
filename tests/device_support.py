"""Fixtures shared by the device and action API tests: a frozen clock, a served platform."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Api, ServerThread, data, key_of, new_platform, running
from wattbridge.clock import FrozenClock, isoformat
from wattbridge.drivers.base import EnvironmentName
from wattbridge.platform import Platform

NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """Midday UTC on 2026-06-01: vehicles are unplugged and not charging."""
    return FrozenClock(NOON)


@pytest.fixture
def plat(tmp_path: Path, clock: FrozenClock) -> Iterator[Platform]:
    """A platform on the frozen clock with a live-enabled project."""
    platform = new_platform(tmp_path / "data", clock=clock)
    platform.access.create_project("acme", live_enabled=True)
    platform.access.create_project("other", live_enabled=True)
    yield platform
    platform.close()


@pytest.fixture
def srv(plat: Platform) -> Iterator[ServerThread]:
    """The platform served on loopback."""
    with running(plat) as server:
        yield server


def client(plat: Platform, srv: ServerThread, project: str, env: EnvironmentName) -> Api:
    """An API client with a fresh key of ``project`` in ``env``."""
    return Api(srv.url, key_of(plat, project, env))


@pytest.fixture
def api(plat: Platform, srv: ServerThread) -> Iterator[Api]:
    """A sandbox client of project 'acme'."""
    c = client(plat, srv, "acme", "sandbox")
    yield c
    c.close()


@pytest.fixture
def document(srv: ServerThread) -> dict[str, Any]:
    """The served OpenAPI document."""
    return dict(httpx.get(f"{srv.url}/openapi.json").json())


def at(hours: float) -> str:
    """The instant ``hours`` after :data:`NOON`, as the API writes it."""
    return isoformat(NOON + timedelta(hours=hours))


def read(api: Api, device_id: str, **params: str) -> dict[str, Any]:
    """``GET /v1/devices/{id}`` (with query ``params``): the device, after checking 200."""
    return dict(data(api.get(f"/v1/devices/{device_id}", params=params), 200))


def create(api: Api, **body: Any) -> dict[str, Any]:
    """Create a sandbox device and return it."""
    return dict(data(api.post("/v1/sandbox/devices", json=body), 201))
