"""Reads on the event loop: what may run there, what must not, and the fallback to a thread."""

from __future__ import annotations

import math
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.device_support import api, clock, plat, srv  # noqa: F401 (fixtures)
from tests.support import SCAN_BODY, Api, ServerThread, data, new_platform, running
from wattbridge.api.app import api_routes
from wattbridge.clock import FrozenClock
from wattbridge.loopsafe import WouldBlock, may_block, on_loop, running_on_loop
from wattbridge.serialization import dumps
from wattbridge.store.sqlite import Database


def test_may_block_raises_only_inside_on_loop() -> None:
    may_block("anything")  # off the loop: a no-op
    assert not running_on_loop()
    with on_loop():
        assert running_on_loop()
        with pytest.raises(WouldBlock, match="a vendor call may block"):
            may_block("a vendor call")
    assert not running_on_loop()


def test_the_database_reads_on_the_loop_but_never_writes_or_waits_there(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = Database(path)
    db.execute("CREATE TABLE t (v INTEGER)")
    with on_loop():
        assert db.query("SELECT count(*) AS n FROM t") == [{"n": 0}]
        with pytest.raises(WouldBlock, match="write transaction"), db.transaction():
            pass
        with pytest.raises(WouldBlock, match="a write"):
            db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(WouldBlock, match="a write"):
            db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert db.query("SELECT * FROM t") == []  # nothing was written
    with db.transaction():
        db.execute("INSERT INTO t VALUES (1)")
    db.close()

    # Another process holds the database exclusively: off the loop a read would
    # wait up to the busy timeout; on the loop it gives up at once.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (2)")
    db = Database(path)
    try:
        with on_loop():
            for _ in range(2):  # opening the loop's connection, then using it
                started = time.monotonic()
                with pytest.raises(WouldBlock, match="SQLITE_BUSY"):
                    db.query_one("SELECT count(*) AS n FROM t")
                assert time.monotonic() - started < 1.0
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert db.query_one("SELECT count(*) AS n FROM t") == {"n": 2}
    db.close()


def test_sandbox_reads_are_answered_on_the_loop(api: Api, srv: ServerThread) -> None:
    fallbacks = srv.app.state.executor.loop_fallbacks
    created = data(api.post("/v1/sandbox/devices", json={"type": "battery"}), 201)
    device = created["id"]
    for path, params in (
        (f"/v1/devices/{device}", {}),
        (f"/v1/devices/{device}", {"at": "2026-12-24T18:00:00Z"}),
        ("/v1/devices", {"type": "battery"}),
        (f"/v1/devices/{device}/actions", {}),
        ("/v1/me", {}),
    ):
        data(api.get(path, params=params), 200)
    assert sum(fallbacks.values()) == 0, fallbacks
    # Errors found on the loop are rendered there too.
    assert api.get("/v1/devices/dev_missing").status_code == 404
    assert api.get(f"/v1/devices/{device}", params={"at": "noon"}).status_code == 400
    assert sum(fallbacks.values()) == 0, fallbacks


def test_json_bytes_are_compact_utf8_and_strict() -> None:
    assert dumps({"a": [1, 2.5, None], "ü": "€"}) == '{"a":[1,2.5,null],"ü":"€"}'.encode()
    assert dumps({"x": math.nan}) == b'{"x":null}'  # NaN is not JSON
    with pytest.raises(TypeError, match="datetime"):  # unstructure it first
        dumps({"at": datetime(2026, 1, 1, tzinfo=UTC)})


def test_every_loop_first_route_answers_on_the_loop(tmp_path: Path) -> None:
    """A guard for later changes: with one of everything in the sandbox, every GET route
    that tries the loop first answers there, without moving to a thread. A route that
    starts writing, or calls something that may block, shows up here."""
    clock = FrozenClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    platform = new_platform(tmp_path / "data", clock=clock,
                            **{"sandbox.private_webhook_targets": True})
    issued = platform.bootstrap()
    assert issued is not None
    try:
        with running(platform) as server:
            api = Api(server.url, issued.plaintext)
            device = data(api.post("/v1/sandbox/devices", json={"type": "battery"}), 201)
            action = data(
                api.post(f"/v1/devices/{device['id']}/actions", json={"command": "idle"}), 202
            )
            scan = data(api.post("/v1/scans", json=SCAN_BODY), 201)
            endpoint = data(api.post("/v1/webhook-endpoints",
                                     json={"url": "http://127.0.0.1:9/hook"}), 201)
            clock.advance(timedelta(seconds=11))  # the scan is completed by now
            event = data(api.get("/v1/events"), 200)["items"][0]
            ids = {
                "/v1/devices/": device["id"], "/v1/actions/": action["id"],
                "/v1/scans/": scan["id"], "/v1/webhook-endpoints/": endpoint["id"],
                "/v1/events/": event["id"],
            }
            fallbacks = server.app.state.executor.loop_fallbacks
            checked = []
            for route in api_routes():
                if route.method != "GET" or not route.tries_loop_first:
                    continue
                path = route.path
                for prefix, value in ids.items():
                    path = path.replace(prefix + "{id}", prefix + value)
                assert "{" not in path, f"no id for {route.path}"
                response = api.get(path)
                assert response.status_code < 400, (path, response.text)
                checked.append(route.path)
            assert len(checked) >= 15, checked
            assert sum(fallbacks.values()) == 0, fallbacks
            api.close()
    finally:
        platform.close()
