"""Change counters kept by the database itself: one per group of tables.

``PRAGMA data_version`` (:meth:`Database.revision
<wattbridge.store.sqlite.Database.revision>`) changes on *any* commit, so a
cache built on it is emptied by every scan created, event recorded or webhook
delivered in the environment. A *generation* counts only the changes to its
own tables: triggers add one to it in the same transaction as each inserted,
updated or deleted row, whichever connection or process writes. A cache of
device reads filed under the ``devices`` generation stays valid while scans
come and go, and is dropped as soon as any device or action changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from wattbridge.store.sqlite import Database


def add_generation(db: Any, name: str, tables: Sequence[str]) -> None:
    """In a migration: create the counter ``name`` and the triggers that advance
    it on every change to ``tables`` (``db``: the migration's sqlite-utils database)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS generations (name TEXT PRIMARY KEY, n INTEGER NOT NULL)"
        " WITHOUT ROWID"
    )
    db.execute("INSERT INTO generations (name, n) VALUES (?, 0)", [name])
    for table in tables:
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_advances_{name} AFTER {event} ON {table}"
                f" BEGIN UPDATE generations SET n = n + 1 WHERE name = '{name}'; END"
            )


class Generation:
    """Reads one counter: a revision for a
    :class:`~wattbridge.store.revision_cache.RevisionCache`."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self._key = f"generation {name}"

    def __call__(self) -> int | None:
        """The counter as this thread's connection sees it now (on the event loop:
        in this turn of the loop, see :meth:`Database.per_loop_turn`); None inside
        a transaction (what is read then could still be rolled back)."""
        return self.db.per_loop_turn(self._key, self._read)

    def _read(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT n FROM generations WHERE name = ?", (self.name,)).fetchone()
        if row is None:
            raise LookupError(f"no generation {self.name!r}: its migration has not run")
        n: int = row[0]
        return n
