"""Group commit on the event loop: the writes of many requests in one transaction.

A write request handled in a worker thread pays for the thread twice: every
SQLite statement lets go of the interpreter lock and must win it back from the
busy event loop, and every commit appends the same index pages to the
write-ahead log again. A :class:`LoopBatch` instead collects the write jobs
that arrive during one turn of the event loop and runs them on the loop, one
after another, inside a single ``BEGIN IMMEDIATE … COMMIT``:

- each job runs in a savepoint of its own: a job that raises leaves nothing
  behind and the others still commit; its caller gets its exception;
- within a job, :meth:`Database.transaction <wattbridge.store.sqlite.Database.transaction>`
  is a nested savepoint, so a service's transaction is as atomic as in a thread;
- a job that reaches anything else that may wait (another database's write, a
  provider's I/O: :func:`~wattbridge.loopsafe.may_block`) is rolled back and
  its caller gets :class:`~wattbridge.loopsafe.WouldBlock`, to run it again in
  a thread;
- no job's answer is released before the batch has committed; when the commit
  fails, every job of the batch gets that error and nothing of it is stored;
- when another connection holds the write lock (a background worker's batch),
  the loop does not wait: the batch is tried again :data:`RETRY_AFTER` later
  and, meanwhile, the loop serves other requests and collects more jobs; after
  as long as a thread would have waited (the database's busy timeout) its jobs
  fail with SQLite's "database is locked", as they would in a thread;
- a batch runs at most :data:`MAX_BATCH` jobs, so that a burst does not hold
  the loop for long; the rest form the next batch, right after;
- the loop's connection never checkpoints the log (that writes and syncs the
  database file, and would stall every request); when the log has grown past
  :data:`CHECKPOINT_AT_BYTES` (SQLite's own default threshold), a worker thread
  checkpoints and empties it, meanwhile batches wait for the lock as above. A
  passive checkpoint would not do: under steady writes it never catches up,
  and the log grew by about 3 KB per creation without end.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from wattbridge.loopsafe import loop_writes, settle
from wattbridge.store.sqlite import BUSY_TIMEOUT_MS, Database, is_busy

log = logging.getLogger("wattbridge.store")

T = TypeVar("T")

RETRY_AFTER = 0.002
"""Seconds before a batch that found the write lock taken tries again."""

CHECKPOINT_AT_BYTES = 1000 * 4096
"""Log size from which a worker thread checkpoints (1,000 pages, as SQLite's
``wal_autocheckpoint`` default)."""

MAX_BATCH = 64
"""Jobs in one transaction at most (about 20 ms of the loop's time for scans)."""

_Job = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class LoopBatch:
    """The write jobs of one database, run on the event loop in group transactions."""

    def __init__(self, db: Database, busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self.db = db
        self.busy_timeout = busy_timeout
        """Seconds a batch keeps trying for the write lock before its jobs fail."""
        self._pending: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._busy_since: dict[asyncio.AbstractEventLoop, float] = {}
        self.batches = 0
        """Batches committed so far."""
        self.jobs = 0
        """Jobs run in committed batches so far (with :attr:`batches`: the mean batch size)."""
        self.busy_retries = 0
        """Times a batch found the write lock taken and waited."""
        self.checkpoints = 0
        """Checkpoints started."""
        self._log = db.path.with_name(db.path.name + "-wal")
        self._checkpointing = False

    async def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on this loop inside the next batch's transaction; return its result
        once the batch has committed.

        ``job`` must be synchronous. Its writes to this database are allowed on
        the loop; anything else that may block raises
        :class:`~wattbridge.loopsafe.WouldBlock` out of this call, with the job's
        writes undone.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            self._pending[loop] = [(job, future)]
            loop.call_soon(self._flush, loop)
        else:
            pending.append((job, future))
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = [job for job in self._pending.pop(loop, []) if not job[1].cancelled()]
        if not pending:
            self._busy_since.pop(loop, None)
            return
        jobs, rest = pending[:MAX_BATCH], pending[MAX_BATCH:]
        with loop_writes(self.db):
            conn = self.db.connection()
            if not self._begin(loop, conn, pending):
                return
            try:
                outcomes = [self._run_job(conn, job) for job in jobs]
                conn.execute("COMMIT")
            except BaseException as exc:
                # Never leave the loop's connection inside a transaction.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if not isinstance(exc, Exception):
                    _fail(pending, RuntimeError(f"the batch was interrupted: {exc!r}"))
                    raise
                log.exception("a batch of %d writes to %s failed", len(jobs), self.db.path.name)
                _fail(jobs, exc)
                outcomes = None
        if rest:
            # The next batch, right after this turn; requests arriving meanwhile join it.
            self._pending[loop] = rest
            loop.call_soon(self._flush, loop)
        if outcomes is None:
            return
        self.batches += 1
        self.jobs += len(jobs)
        for (_, future), (result, error) in zip(jobs, outcomes, strict=True):
            settle(future, result, error)
        self._maybe_checkpoint(loop)

    def _begin(
        self, loop: asyncio.AbstractEventLoop, conn: sqlite3.Connection, pending: list[_Job]
    ) -> bool:
        """Open the batch's transaction; False when ``pending`` was re-queued or failed."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            now = time.monotonic()
            if is_busy(exc) and now - self._busy_since.setdefault(loop, now) < self.busy_timeout:
                # Another writer's turn; nothing has run yet. Jobs that arrive
                # meanwhile join this batch.
                self.busy_retries += 1
                self._pending[loop] = pending
                loop.call_later(RETRY_AFTER, self._flush, loop)
                return False
            self._busy_since.pop(loop, None)
            _fail(pending, exc)
            return False
        self._busy_since.pop(loop, None)
        return True

    @staticmethod
    def _run_job(conn: sqlite3.Connection, job: _Job) -> tuple[Any, Exception | None]:
        conn.execute("SAVEPOINT wattbridge_job")
        try:
            result = job[0]()
        except Exception as exc:  # handed to the job's caller
            conn.execute("ROLLBACK TO wattbridge_job")
            conn.execute("RELEASE wattbridge_job")
            return None, exc
        conn.execute("RELEASE wattbridge_job")
        return result, None

    def _maybe_checkpoint(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._checkpointing:
            return
        try:
            size = self._log.stat().st_size
        except OSError:
            return
        if size < CHECKPOINT_AT_BYTES:
            return
        self._checkpointing = True
        self.checkpoints += 1
        loop.run_in_executor(None, self.db.checkpoint).add_done_callback(self._checkpointed)

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpointing = False
        if not done.cancelled() and done.exception() is not None:
            log.warning("checkpoint of %s failed: %s", self.db.path.name, done.exception())


def _fail(jobs: list[_Job], error: Exception) -> None:
    for _, future in jobs:
        settle(future, None, error)
