"""Values derived from a database, remembered while the database has not changed.

Reads on the hot paths (a key's record on every request, a simulated device's
projection) would otherwise repeat the same queries and computation. A
:class:`RevisionCache` keeps such values per thread and drops them all as soon
as :meth:`Database.revision <wattbridge.store.sqlite.Database.revision>`
changes, so a commit by any thread or process counts on the very next lookup.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

from wattbridge.store.sqlite import Database

K = TypeVar("K")
V = TypeVar("V")


class RevisionCache(threading.local, Generic[K, V]):
    """One thread's values of one database revision, at most ``size`` of them.

    When it is full, the value stored first goes (first in, first out): the
    hot set is put back at once, and evicting one value at a time spreads the
    cost of freeing them (emptying a full cache of device objects at once
    stalled the event loop for milliseconds).
    """

    def __init__(self, db: Database, size: int) -> None:
        self.db = db
        self.size = size
        self._revision: tuple[int, int, int] | None = None
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value remembered for ``key`` if the database is unchanged since.

        Checks the revision (one ``PRAGMA`` on this thread's connection) on
        every call; call it once per request and keep the answer.
        """
        revision = self.db.revision()
        if revision != self._revision or revision is None:
            self._entries.clear()
            self._revision = revision
            return None
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for the revision the last :meth:`get` saw.

        Callers :meth:`get` first, then read and compute, then ``put``: a
        commit in between makes the next :meth:`get` miss, so a value older
        than the revision it is filed under is never served. Nothing is
        remembered inside a transaction (revision None).
        """
        if self._revision is None:
            return
        entries = self._entries
        if len(entries) >= self.size and key not in entries:  # a new key in a full cache
            entries.popitem(last=False)
        entries[key] = value
