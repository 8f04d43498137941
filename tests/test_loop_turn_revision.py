"""On the event loop, a database's revision is read once per turn of the loop.

A request served in a turn was received before the turn began, so reusing the
revision read first in the turn still shows it every commit completed before it
arrived; the next turn reads it again.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from wattbridge.loopsafe import on_loop
from wattbridge.store.sqlite import Database


def _commit_elsewhere(db: Database, value: int) -> None:
    with sqlite3.connect(db.path) as other:
        other.execute("INSERT INTO t VALUES (?)", (value,))


def _database(tmp_path: Path) -> Database:
    db = Database(tmp_path / "x.db")
    db.execute("CREATE TABLE t (v INTEGER)")
    return db


def test_one_read_per_turn_and_a_fresh_one_in_the_next(tmp_path: Path) -> None:
    db = _database(tmp_path)

    async def turns() -> None:
        with on_loop():
            first = db.revision()
            _commit_elsewhere(db, 1)
            assert db.revision() == first  # the same turn
        await asyncio.sleep(0)  # the loop turns
        with on_loop():
            second = db.revision()
            assert second is not None and second != first
        await asyncio.sleep(0)
        with on_loop():
            assert db.revision() == second  # nothing committed since

    asyncio.run(turns())
    db.close()


def test_off_the_loop_and_without_a_running_loop_every_read_is_fresh(tmp_path: Path) -> None:
    db = _database(tmp_path)
    first = db.revision()
    _commit_elsewhere(db, 1)
    assert db.revision() != first
    with on_loop():  # marked, but no loop is running: nothing would forget the value
        marked = db.revision()
        _commit_elsewhere(db, 2)
        assert db.revision() != marked
    db.close()


def test_inside_a_transaction_there_is_no_revision(tmp_path: Path) -> None:
    db = _database(tmp_path)

    async def in_transaction() -> None:
        with on_loop():
            assert db.revision() is not None  # remembered for this turn
            conn = db.connection()
            conn.execute("BEGIN")
            try:
                assert db.revision() is None  # not the value remembered before
            finally:
                conn.execute("ROLLBACK")

    asyncio.run(in_transaction())
    db.close()


def test_a_value_left_by_a_loop_that_stopped_is_not_used_by_the_next_loop(
    tmp_path: Path,
) -> None:
    db = _database(tmp_path)

    async def read_and_stop() -> object:
        with on_loop():
            value = db.revision()
        # Stop the loop before it turns again: the callback that would forget
        # the value never runs.
        asyncio.get_running_loop().stop()
        return value

    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(read_and_stop())
        loop.run_forever()
        first = task.result()
    finally:
        loop.close()
    _commit_elsewhere(db, 1)

    async def read_again() -> object:
        with on_loop():
            return db.revision()

    assert asyncio.run(read_again()) != first  # another loop, in the same thread
    db.close()
