"""Shared fixtures: a platform on a temporary data dir, served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Api, ServerThread, key_of, new_platform, running
from wattbridge.platform import Platform


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A fresh platform with a 'default' sandbox-only project and a 'livecorp' live project."""
    plat = new_platform(tmp_path / "data")
    plat.access.create_project("default")
    plat.access.create_project("livecorp", live_enabled=True)
    yield plat
    plat.close()


@pytest.fixture
def server(platform: Platform) -> Iterator[ServerThread]:
    """The platform served by uvicorn on 127.0.0.1."""
    with running(platform) as srv:
        yield srv


@pytest.fixture
def sandbox_api(platform: Platform, server: ServerThread) -> Iterator[Api]:
    """A client with a sandbox key of the live-enabled project."""
    api = Api(server.url, key_of(platform, "livecorp", "sandbox"))
    yield api
    api.close()


@pytest.fixture
def live_api(platform: Platform, server: ServerThread) -> Iterator[Api]:
    """A client with a live key of the live-enabled project."""
    api = Api(server.url, key_of(platform, "livecorp", "live"))
    yield api
    api.close()
