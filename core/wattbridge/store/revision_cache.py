"""Values derived from a database, remembered while the database has not changed.

Reads on the hot paths (a key's record on every request, a simulated device's
projection) would otherwise repeat the same queries and computation. A
:class:`RevisionCache` keeps such values per thread and stops giving them
back as soon as its *revision* changes: :meth:`Database.revision
<wattbridge.store.sqlite.Database.revision>` (any commit to the database) or a
:class:`~wattbridge.store.generations.Generation` (any change to some of its
tables). Either counts a commit by any thread or process on the next lookup (on
the event loop, from the next turn of the loop: see :meth:`Database.per_loop_turn
<wattbridge.store.sqlite.Database.per_loop_turn>`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class RevisionCache(threading.local, Generic[K, V]):
    """One thread's values, each filed under the revision it was computed at; at
    most ``size`` of them.

    A value is given back only while the revision is still the one it was filed
    under. Stale values are not dropped all at once when the revision changes:
    freeing thousands of device objects in one go stalled the event loop for
    milliseconds. They are replaced as keys are stored again, or go when the
    cache is full: then the key stored first goes (first in, first out; storing
    a new value for a key keeps its place), which spreads that cost too.
    """

    def __init__(self, revision: Callable[[], object | None], size: int) -> None:
        self.revision = revision
        self.size = size
        self._revision: object | None = None
        self._entries: OrderedDict[K, tuple[object, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value remembered for ``key`` if the revision is unchanged since.

        Checks the revision on every call (one statement on this thread's
        connection; on the event loop, one per turn of the loop); call it once
        per request and keep the answer. A revision of None (inside a
        transaction) never matches.
        """
        revision = self._revision = self.revision()
        if revision is None:
            return None
        found = self._entries.get(key)
        if found is None or found[0] != revision:
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` under the revision the last :meth:`get` saw.

        Callers :meth:`get` first, then read and compute, then ``put``: a
        commit in between makes the next :meth:`get` miss, so a value older
        than the revision it is filed under is never served. Nothing is
        remembered inside a transaction (revision None).
        """
        revision = self._revision
        if revision is None:
            return
        entries = self._entries
        if len(entries) >= self.size and key not in entries:  # a new key in a full cache
            entries.popitem(last=False)
        entries[key] = (revision, value)
