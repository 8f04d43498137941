"""One SQLite database file: per-thread connections, WAL, explicit transactions.

Python's ``sqlite3`` opens implicit transactions behind the caller's back; we
turn that off (``isolation_level=None``) and open them ourselves with
``BEGIN IMMEDIATE`` so that a state change and the events it causes commit
together, and so that two workers claiming rows never both win.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

Row = dict[str, Any]


class Database:
    """A SQLite file shared by the threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError(f"database {self.path.name} is closed")
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            self._local.depth = 0
            with self._lock:
                self._all.append(conn)
        return conn

    def utils(self) -> sqlite_utils.Database:
        """A sqlite-utils view of this thread's connection (schema work, migrations)."""
        return sqlite_utils.Database(self.connection())

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction; nested blocks join the outer one."""
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

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a SELECT and return its rows as dicts."""
        return [dict(row) for row in self.connection().execute(sql, params)]

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a SELECT and return its first row, or None."""
        row = self.connection().execute(sql, params).fetchone()
        return None if row is None else dict(row)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (inside the current transaction if any); return rowcount."""
        return self.connection().execute(sql, params).rowcount

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            self._closed = True
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
