"""Group commit on the event loop (``wattbridge.store.loop_batch``).

The first tests drive a :class:`LoopBatch` on a real SQLite file with a real
event loop; the last ones create scans through a real server, many at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from tests.support import SCAN_BODY, Api, ServerThread, data, key_of, make_config, running
from wattbridge import hookimpl
from wattbridge.api.routing import ApiExecutor, ApiRoute, Call, make_endpoint
from wattbridge.drivers.scans import SolveContext
from wattbridge.loopsafe import WouldBlock, may_block, on_loop, running_on_loop
from wattbridge.models.scans import ScanInput, ScanResult
from wattbridge.platform import Platform
from wattbridge.store import loop_batch
from wattbridge.store.loop_batch import LoopBatch
from wattbridge.store.sqlite import Database
from wattbridge_fixtures.solver import FixtureSolver


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "batch.db")
    database.execute("CREATE TABLE t (v INTEGER NOT NULL)")
    return database


def values(db: Database) -> list[int]:
    return sorted(row["v"] for row in db.query("SELECT v FROM t"))


def insert(db: Database, value: int) -> int:
    with db.transaction():
        db.execute("INSERT INTO t (v) VALUES (?)", (value,))
    return value


async def gather(batch: LoopBatch, *jobs: Any) -> list[Any]:
    return await asyncio.gather(*(batch.run(job) for job in jobs), return_exceptions=True)


@contextlib.asynccontextmanager
async def another_writer(db: Database, then: str) -> AsyncIterator[None]:
    """Another connection holds the write lock (having written a row 0) for the
    block, then ends its transaction with ``then`` (``COMMIT`` or ``ROLLBACK``)."""
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        conn = sqlite3.connect(db.path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (0)")
        holding.set()
        release.wait(5)
        conn.execute(then)
        conn.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    await asyncio.to_thread(holding.wait, 5)
    try:
        yield
    finally:
        release.set()
        await asyncio.to_thread(holder.join)


def test_the_jobs_of_one_loop_turn_commit_together(db: Database) -> None:
    batch = LoopBatch(db)
    results = asyncio.run(gather(batch, *(lambda n=n: insert(db, n) for n in range(5))))
    assert results == [0, 1, 2, 3, 4]
    assert values(db) == [0, 1, 2, 3, 4]
    assert (batch.batches, batch.jobs) == (1, 5)


def test_a_failing_job_leaves_nothing_and_the_others_commit(db: Database) -> None:
    def failing() -> None:
        db.execute("INSERT INTO t (v) VALUES (99)")  # outside any transaction block
        insert(db, 98)
        raise ValueError("refused")

    batch = LoopBatch(db)
    first, failed, last = asyncio.run(gather(batch, lambda: insert(db, 1), failing,
                                             lambda: insert(db, 2)))
    assert (first, last) == (1, 2)
    assert isinstance(failed, ValueError)
    assert values(db) == [1, 2]


def test_a_failed_transaction_inside_a_job_is_undone_alone(db: Database) -> None:
    def job() -> str:
        insert(db, 1)
        try:
            with db.transaction():
                db.execute("INSERT INTO t (v) VALUES (2)")
                with db.transaction():  # nested blocks join the outer one, as in a thread
                    db.execute("INSERT INTO t (v) VALUES (3)")
                raise RuntimeError("the service's own rollback")
        except RuntimeError:
            pass
        return "done"

    assert asyncio.run(gather(LoopBatch(db), job)) == ["done"]
    assert values(db) == [1]


def test_a_job_that_would_block_is_undone_and_its_caller_told(db: Database) -> None:
    def job() -> None:
        insert(db, 1)
        may_block("a provider's network call")

    [outcome] = asyncio.run(gather(LoopBatch(db), job))
    assert isinstance(outcome, WouldBlock)
    assert "network call" in str(outcome)
    assert values(db) == []


def test_writes_to_another_database_would_block(db: Database, tmp_path: Path) -> None:
    other = Database(tmp_path / "other.db")
    other.execute("CREATE TABLE t (v INTEGER)")
    [outcome] = asyncio.run(gather(LoopBatch(db), lambda: insert(other, 1)))
    assert isinstance(outcome, WouldBlock)
    assert values(other) == []
    other.close()


def test_writes_on_the_loop_outside_a_batch_would_block(db: Database) -> None:
    with on_loop(), pytest.raises(WouldBlock):
        db.execute("INSERT INTO t (v) VALUES (1)")
    with on_loop(), pytest.raises(WouldBlock):
        insert(db, 2)
    assert values(db) == []


def test_a_failed_commit_answers_every_job_with_its_error_and_stores_nothing(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "fk.db")
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE child (parent INTEGER REFERENCES parent (id)"
               " DEFERRABLE INITIALLY DEFERRED)")
    db.execute("INSERT INTO parent (id) VALUES (1)")

    def child(parent: int) -> int:
        db.execute("INSERT INTO child (parent) VALUES (?)", (parent,))
        return parent

    batch = LoopBatch(db)
    # The orphan passes its own statement; the deferred check fails the COMMIT.
    outcomes = asyncio.run(gather(batch, lambda: child(1), lambda: child(2)))
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
    assert db.query("SELECT * FROM child") == []
    assert batch.batches == 0
    # The loop's connection is usable again: a later batch commits.
    assert asyncio.run(gather(batch, lambda: child(1))) == [1]
    assert db.count("SELECT count(*) FROM child") == 1
    db.close()


def test_a_busy_write_lock_is_waited_for_without_blocking_the_loop(db: Database) -> None:
    async def scenario(batch: LoopBatch) -> int:
        async with another_writer(db, then="COMMIT"):
            job = asyncio.ensure_future(batch.run(lambda: insert(db, 1)))
            for _ in range(20):  # the loop keeps turning while the job waits for the lock
                await asyncio.sleep(0.01)
                assert not job.done()
        return await job

    batch = LoopBatch(db)
    assert asyncio.run(scenario(batch)) == 1
    assert batch.busy_retries > 0
    assert values(db) == [0, 1]


def test_a_burst_is_split_into_batches_of_at_most_max_batch(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop_batch, "MAX_BATCH", 3)
    batch = LoopBatch(db)
    results = asyncio.run(gather(batch, *(lambda n=n: insert(db, n) for n in range(7))))
    assert results == list(range(7))
    assert (batch.batches, batch.jobs) == (3, 7)  # 3 + 3 + 1


def test_a_lock_held_past_the_busy_timeout_fails_the_waiting_jobs(db: Database) -> None:
    async def scenario(batch: LoopBatch) -> tuple[Any, Any]:
        async with another_writer(db, then="ROLLBACK"):
            [refused] = await gather(batch, lambda: insert(db, 1))
        [accepted] = await gather(batch, lambda: insert(db, 2))
        return refused, accepted

    refused, accepted = asyncio.run(scenario(LoopBatch(db, busy_timeout=0.1)))
    assert isinstance(refused, sqlite3.OperationalError)
    assert "locked" in str(refused)
    assert accepted == 2
    assert values(db) == [2]


def test_a_worker_thread_checkpoints_and_empties_a_grown_log(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wal = db.path.with_name(db.path.name + "-wal")

    async def scenario(batch: LoopBatch) -> None:
        for n in range(3):
            await batch.run(lambda n=n: insert(db, n))
        monkeypatch.setattr(loop_batch, "CHECKPOINT_AT_BYTES", wal.stat().st_size)
        await batch.run(lambda: insert(db, 3))  # the log has reached the threshold now
        for _ in range(200):  # the checkpoint runs in a thread
            if not batch._checkpointing:
                break
            await asyncio.sleep(0.01)

    batch = LoopBatch(db)
    asyncio.run(scenario(batch))
    assert batch.checkpoints == 1
    assert wal.stat().st_size == 0  # emptied: the next write starts the log over
    # Every row is in the database file itself: a copy of the file alone has them.
    (tmp_path / "copy").mkdir()
    copy_path = tmp_path / "copy" / "batch.db"
    copy_path.write_bytes(db.path.read_bytes())
    copy = sqlite3.connect(copy_path)
    assert sorted(v for (v,) in copy.execute("SELECT v FROM t")) == [0, 1, 2, 3]
    copy.close()


# --- through the server ---------------------------------------------------------------


def test_many_creations_at_once_each_commit_once(
    platform: Platform, server: ServerThread, sandbox_api: Api
) -> None:
    api = sandbox_api
    bad = {**SCAN_BODY, "yearlyKwh": -1}

    def post(n: int) -> tuple[int, str]:
        keyed = 20 <= n < 30  # in pairs with the same key and body: 20/21, 22/23, …
        body = bad if n % 5 == 0 and not keyed else SCAN_BODY
        extra = {"Idempotency-Key": f"k{n // 2}"} if keyed else {}
        response = api.post("/v1/scans", json=body, headers=extra)
        return response.status_code, response.json().get("data", {}).get("id", "")

    before = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(post, range(60)))
    assert time.monotonic() - before < 30
    statuses = [status for status, _ in outcomes]
    assert statuses.count(400) == 10  # every fifth body outside the keyed ones is invalid
    # No 409 "still in progress": a pair's second request runs after the first has
    # committed (a later job of the same batch, or a later batch), and replays it.
    assert set(statuses) == {201, 400}
    assert all(outcomes[n][1] == outcomes[n + 1][1] for n in range(20, 30, 2))
    created = {scan_id for status, scan_id in outcomes if status == 201}
    expected = 60 - 10 - 5  # five pairs share a scan
    assert len(created) == expected
    env = platform.environment("sandbox")
    assert env.db.count("SELECT count(*) FROM scans") == expected
    assert env.db.count("SELECT count(*) FROM events WHERE type = 'scan.pending'") == expected
    assert env.loop_batch.jobs == 60  # every request ran in a batch (refusals, replays too)
    assert "/v1/scans" not in server.app.state.executor.loop_fallbacks
    listed = api.get("/v1/scans", params={"limit": 100})
    assert {s["id"] for s in data(listed, 200)["items"]} == created


def test_a_request_that_would_block_in_its_batch_runs_once_more_in_a_thread(
    platform: Platform,
) -> None:
    """Its first run's writes are undone: the thread's run is the only one stored."""
    env = platform.environment("sandbox")
    env.db.execute("CREATE TABLE notes (thread TEXT NOT NULL)")

    def note(call: Call) -> dict[str, str]:
        where = "loop" if running_on_loop() else "thread"
        with env.db.transaction():
            env.db.execute("INSERT INTO notes (thread) VALUES (?)", (where,))
        may_block("a call to a vendor")  # on the loop: WouldBlock, after the write
        return {"ran": where}

    route = ApiRoute("POST", "/notes", note, "test", "test", writes_on_loop=True)
    executor = ApiExecutor(threads=2)
    app = Starlette(routes=[Route("/notes", make_endpoint(platform, route, executor),
                                  methods=["POST"])])
    server = ServerThread(app).start()
    try:
        api = Api(server.url, key_of(platform, "default", "sandbox"))
        response = api.post("/notes")
        api.close()
    finally:
        server.stop()
        executor.shutdown()
    assert data(response, 200) == {"ran": "thread"}
    assert env.db.query("SELECT thread FROM notes") == [{"thread": "thread"}]
    assert executor.loop_fallbacks == {"/notes": 1}
    assert env.loop_batch.jobs == 1  # the loop's run, undone


@pytest.mark.parametrize("promises", [False, True])
def test_a_timeline_solver_runs_on_the_loop_only_if_it_solves_without_io(
    tmp_path: Path, promises: bool
) -> None:
    calls: list[bool] = []  # running_on_loop() in each call of solve

    class ThirdPartyTimelineSolver(FixtureSolver):
        name = "third-party"
        solves_without_io = promises

        def solve(self, scan: ScanInput, context: SolveContext) -> ScanResult:
            calls.append(running_on_loop())
            return super().solve(scan, context)

    class Plugin:
        @hookimpl
        def register_scan_solvers(self, register: Any) -> None:
            register(ThirdPartyTimelineSolver())

    platform = Platform(config=make_config(tmp_path, **{"sandbox.solver": "third-party"}),
                        extra_plugins=[("thirdparty", Plugin())])
    platform.access.create_project("default")
    try:
        with running(platform) as server:
            api = Api(server.url, key_of(platform, "default", "sandbox"))
            response = api.post("/v1/scans", json=SCAN_BODY)
            api.close()
            assert data(response, 201)["status"] == "pending"
            fallbacks = server.app.state.executor.loop_fallbacks
        assert calls == [promises]  # once, on the loop only when promised
        assert fallbacks.get("/v1/scans", 0) == (0 if promises else 1)
    finally:
        platform.close()
