"""One SQLite database file: per-thread connections, WAL, explicit transactions.

Python's ``sqlite3`` opens implicit transactions behind the caller's back; we
turn that off (``isolation_level=None``) and open them ourselves with
``BEGIN IMMEDIATE`` so that a state change and the events it causes commit
together, and so that two workers claiming rows never both win.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import sqlite_utils

from wattbridge.loopsafe import WouldBlock, may_block, may_write, running_on_loop, writing_on_loop

Row = dict[str, Any]
T = TypeVar("T")


BUSY_TIMEOUT_MS = 10_000
"""How long a statement off the event loop waits for another writer's lock."""


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` means another connection holds a lock we need (try again later)."""
    return exc.sqlite_errorname.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _busy_on_loop(exc: sqlite3.OperationalError) -> None:
    """A lock met on the event loop means "run this in a thread": raise WouldBlock then."""
    if running_on_loop() and is_busy(exc):
        raise WouldBlock(f"a read that met {exc.sqlite_errorname}") from exc


def _data_version(conn: sqlite3.Connection) -> tuple[int, int, int]:
    version: int = conn.execute("PRAGMA data_version").fetchone()[0]
    return id(conn), version, conn.total_changes


@attrs.frozen
class _Turn:
    """Values read in one turn of one event loop (see :meth:`Database.per_loop_turn`)."""

    loop: asyncio.AbstractEventLoop
    values: dict[str, Any]


def _forget_turn(local: threading.local, turn: _Turn) -> None:
    if getattr(local, "turn", None) is turn:
        local.turn = None


class Database:
    """A SQLite file shared by the threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use.

        On the event loop (see :mod:`wattbridge.loopsafe`) this is a second
        connection of the thread that never waits for a lock: a busy database
        makes the statement raise :class:`~wattbridge.loopsafe.WouldBlock`
        instead of stalling every request the loop serves.
        """
        local = self._local
        if running_on_loop():
            conn = getattr(local, "loop_conn", None)
            if conn is None:
                try:
                    conn = local.loop_conn = self._open(for_loop=True)
                except sqlite3.OperationalError as exc:
                    _busy_on_loop(exc)
                    raise
            return conn
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = self._open(for_loop=False)
            local.depth = 0
        return conn

    def _open(self, *, for_loop: bool) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError(f"database {self.path.name} is closed")
        # The event loop's connection never waits for a lock (see connection()).
        timeout = 0 if for_loop else BUSY_TIMEOUT_MS / 1000
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=timeout
        )
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            if for_loop:
                # The event loop's connection commits batches (store/loop_batch.py) but
                # never checkpoints: that writes and syncs the database file, which
                # would stall every request; threads checkpoint instead.
                conn.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error:
            conn.close()
            raise
        with self._lock:
            self._all.append(conn)
        return conn

    def utils(self) -> sqlite_utils.Database:
        """A sqlite-utils view of this thread's connection (schema work, migrations)."""
        return sqlite_utils.Database(self.connection())

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction; nested blocks join the outer one.

        Inside a :class:`~wattbridge.store.loop_batch.LoopBatch` job (on the event
        loop, with the batch's transaction open) the outermost block of the job
        is a savepoint instead: it commits with the batch, and an exception
        undoes it alone, as a transaction of its own would be undone.
        """
        may_write(self, "a write transaction")
        if writing_on_loop(self):
            with self._job_savepoint() as conn:
                yield conn
            return
        conn = self.connection()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            self._local.depth = 0

    @contextmanager
    def _job_savepoint(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        local = self._local
        if getattr(local, "loop_depth", 0):
            local.loop_depth += 1
            try:
                yield conn
            finally:
                local.loop_depth -= 1
            return
        conn.execute("SAVEPOINT wattbridge_transaction")
        local.loop_depth = 1
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO wattbridge_transaction")
            raise
        finally:
            conn.execute("RELEASE wattbridge_transaction")
            local.loop_depth = 0

    def checkpoint(self) -> None:
        """Copy every committed page from the write-ahead log into the database file
        and empty the log (``TRUNCATE``): it waits for current readers and holds off
        writers meanwhile, so that the log starts over instead of growing while
        writes never pause."""
        may_block("a checkpoint")
        self.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a SELECT and return its rows as dicts."""
        try:
            return [dict(row) for row in self.connection().execute(sql, params)]
        except sqlite3.OperationalError as exc:
            _busy_on_loop(exc)
            raise

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a SELECT and return its first row, or None."""
        try:
            row = self.connection().execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            _busy_on_loop(exc)
            raise
        return None if row is None else dict(row)

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a ``SELECT count(*) …`` and return the number (a page's total)."""
        row = self.query_one(sql, params)
        assert row is not None  # an aggregate without GROUP BY always yields one row
        [value] = row.values()
        return int(value)

    def revision(self) -> tuple[int, int, int] | None:
        """A value that changes whenever the database may have changed, as this
        thread's connection sees it; None inside a transaction (nothing read then
        may be remembered: it could still be rolled back).

        ``PRAGMA data_version`` changes when *another* connection (another thread
        of this process, another process) commits; the connection's
        ``total_changes`` counts its own writes. Together they tell a cache,
        cheaply and across processes, that what it holds may be stale. The value
        is per connection (a thread has one for the event loop and one for the
        rest), so it starts with the connection's identity. On the event loop it
        is read once per turn (:meth:`per_loop_turn`).
        """
        return self.per_loop_turn("revision", _data_version)

    def per_loop_turn(self, name: str, read: Callable[[sqlite3.Connection], T]) -> T | None:
        """``read(connection)``: a revision read on this thread's connection; None
        inside a transaction.

        On the event loop, the value read first in a turn of the loop is given
        again for the rest of that turn: every request the loop serves would
        otherwise pay one more statement (and its file-lock system calls) for
        the same answer. That is exact for what callers promise: a read sees
        every commit completed before its request arrived. A request served in
        this turn was received when the loop last polled its sockets, before
        the first read of the turn; the value is forgotten by a callback queued
        at that first read, which runs before anything queued after it, such as
        the requests the loop receives next.

        :raises WouldBlock: on the loop, when the database is busy.
        """
        conn = self.connection()
        if conn.in_transaction:
            return None
        remembered: dict[str, Any] | None = None
        if running_on_loop():
            remembered = self._this_turn()
            if remembered is not None and name in remembered:
                value: T = remembered[name]
                return value
        try:
            value = read(conn)
        except sqlite3.OperationalError as exc:
            _busy_on_loop(exc)  # a busy database: WouldBlock on the loop
            raise
        if remembered is not None:
            remembered[name] = value
        return value

    def _this_turn(self) -> dict[str, Any] | None:
        """The values remembered in this turn of the running loop (None without one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # on_loop() without a running loop (a script, a test)
            return None
        local = self._local
        turn: _Turn | None = getattr(local, "turn", None)
        # A loop that stopped before it turned again never forgot its values: they
        # belong to it alone, never to the next loop this thread runs.
        if turn is None or turn.loop is not loop:
            turn = local.turn = _Turn(loop, {})
            loop.call_soon(_forget_turn, local, turn)
        return turn.values

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (inside the current transaction if any); return rowcount."""
        may_write(self, "a write")
        return self.connection().execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows`` (inside the current transaction if any)."""
        may_write(self, "a write")
        self.connection().executemany(sql, rows)

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            self._closed = True
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
