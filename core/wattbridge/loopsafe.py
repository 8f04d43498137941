"""Running work on the event loop when it cannot block, and noticing when it would.

Handing a request to a worker thread and back costs more CPU than most reads
do themselves (two wake-ups and two contested handovers of the interpreter
lock). So routes marked ``loop_first`` run their handler *on the event loop*
inside :func:`on_loop`. Every place that may wait (a write transaction, a
provider that talks to hardware, a database lock) calls :func:`may_block`
first; on the loop that raises :class:`WouldBlock`, and the route runs the
whole request again in a worker thread. Because the checks come before the
waiting, nothing has been written when :class:`WouldBlock` is raised, and the
second run sees the same request. (Home Assistant's split between
``@callback`` functions and executor jobs is the same idea, kept honest here by
checks instead of by convention.)

Writes are the one exception, for routes marked ``writes_on_loop``: inside
:func:`loop_writes` for one database, that database's writes do not block
(:mod:`wattbridge.store.loop_batch` has taken its write lock for a whole batch
of requests and rolls back a request that meets anything else that may wait).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_ON_LOOP: ContextVar[bool] = ContextVar("wattbridge_on_loop", default=False)
_LOOP_WRITES: ContextVar[object | None] = ContextVar("wattbridge_loop_writes", default=None)


class WouldBlock(Exception):
    """Work on the event loop reached something that may wait; run it in a thread instead."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} may block; it cannot run on the event loop")
        self.what = what


def running_on_loop() -> bool:
    """Whether the current code runs inside :func:`on_loop` (or :func:`loop_writes`)."""
    return _ON_LOOP.get()


def may_block(what: str) -> None:
    """Declare that the next step may wait on I/O or a lock.

    :raises WouldBlock: when called inside :func:`on_loop`.
    """
    if _ON_LOOP.get():
        raise WouldBlock(what)


class on_loop:  # lower case: used like the function-style context managers beside it
    """Mark the block as running on the event loop: :func:`may_block` raises in it.

    A class rather than a ``@contextmanager`` generator: it wraps every read the
    loop serves, and a generator-based context manager costs several frames more.
    """

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _ON_LOOP.set(True)

    def __exit__(self, *exc_info: object) -> None:
        _ON_LOOP.reset(self._token)


def may_write(target: object, what: str) -> None:
    """:func:`may_block` for a write to ``target`` (a database): allowed on the
    loop inside :func:`loop_writes` for that same target.

    :raises WouldBlock: on the loop, for any other target.
    """
    if _ON_LOOP.get() and _LOOP_WRITES.get() is not target:
        raise WouldBlock(what)


def writing_on_loop(target: object) -> bool:
    """Whether the current code runs on the loop inside :func:`loop_writes` for ``target``."""
    return _ON_LOOP.get() and _LOOP_WRITES.get() is target


@contextmanager
def loop_writes(target: object) -> Iterator[None]:
    """Run the block on the event loop with writes to ``target`` allowed (only its
    write-lock holder, :class:`~wattbridge.store.loop_batch.LoopBatch`, may say so)."""
    on = _ON_LOOP.set(True)
    writes = _LOOP_WRITES.set(target)
    try:
        yield
    finally:
        _LOOP_WRITES.reset(writes)
        _ON_LOOP.reset(on)


def settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Hand work finished elsewhere (a thread, a batch) to the coroutine awaiting
    ``future``: its result, or ``error`` when not None; nothing if it stopped waiting."""
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
