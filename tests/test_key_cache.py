"""Authentication caches key records, yet every change to a key counts on the next request.

The cache lives per worker thread and is checked against the control database's
revision on every lookup; these tests change keys and projects from the same
connection, from another connection and from another process.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from tests.support import Api, ServerThread, run_cli
from wattbridge.api.routing import ApiExecutor
from wattbridge.errors import LiveAccessDisabled, Unauthorized
from wattbridge.platform import Platform


def test_revocation_through_the_same_connection_is_seen(platform: Platform) -> None:
    access = platform.access
    issued = access.issue_key(access.project("default").id, "sandbox")
    assert access.authenticate(issued.plaintext).key_id == issued.record.id
    assert access.authenticate(issued.plaintext).key_id == issued.record.id  # from the cache
    access.revoke_key(issued.record.id)  # same thread, so the same connection
    with pytest.raises(Unauthorized):
        access.authenticate(issued.plaintext)


def test_live_access_switched_off_by_another_connection_is_seen(platform: Platform) -> None:
    access = platform.access
    project = access.project("livecorp")
    key = access.issue_key(project.id, "live").plaintext
    assert access.authenticate(key).environment == "live"
    with sqlite3.connect(platform.data_dir / "control.db") as other:
        other.execute("UPDATE projects SET live_enabled = 0 WHERE id = ?", (project.id,))
    with pytest.raises(LiveAccessDisabled):
        access.authenticate(key)


def test_revocation_by_another_process_counts_on_the_next_request(
    platform: Platform, server: ServerThread
) -> None:
    issued = platform.access.issue_key(platform.access.project("default").id, "sandbox")
    api = Api(server.url, issued.plaintext)
    # Warm every core worker thread's cache with this key.
    for _ in range(6):
        assert api.get("/v1/me").status_code == 200
    revoked = run_cli("keys", "revoke", issued.record.id, "--data-dir", str(platform.data_dir))
    assert revoked.returncode == 0, revoked.stderr
    for _ in range(6):
        response = api.get("/v1/me")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    api.close()


def test_the_executor_adds_a_thread_when_its_workers_are_blocked() -> None:
    import threading

    executor = ApiExecutor(threads=4, core=1)
    release = threading.Event()

    async def scenario() -> list[object]:
        blocked = asyncio.ensure_future(executor.run(lambda: release.wait(5) and "slow"))
        # The only core thread is blocked: a second request must still be served.
        quick = await asyncio.wait_for(executor.run(lambda: "quick"), timeout=2)
        release.set()
        return [quick, await blocked]

    assert asyncio.run(scenario()) == ["quick", "slow"]
    assert 2 <= executor.live_threads <= 4
    executor.shutdown()


def test_the_executor_hands_back_exceptions() -> None:
    executor = ApiExecutor(threads=2)

    def fail() -> None:
        raise ValueError("boom")

    async def scenario() -> None:
        with pytest.raises(ValueError, match="boom"):
            await executor.run(fail)

    asyncio.run(scenario())
    executor.shutdown()
