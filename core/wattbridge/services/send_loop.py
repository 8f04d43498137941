"""One event loop per webhook transport, in its own thread, for every dispatcher of a process.

A transport is async and keeps a connection pool, and pooled connections belong
to the event loop that opened them. The same transport instance serves both
environments (one plugin registers it once), and each environment's dispatcher
runs in its own worker thread; if each drove the transport from its own loop, a
connection opened by one would be reused from the other loop and fail. So all
sends through one transport run on one loop, owned here, and dispatchers hand
coroutines to it from their threads.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import sniffio

T = TypeVar("T")


class SendLoop:
    """An asyncio loop running forever in a daemon thread."""

    _registry: weakref.WeakKeyDictionary[object, SendLoop] = weakref.WeakKeyDictionary()
    _registry_lock = threading.Lock()

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        # httpcore and anyio ask sniffio which async library runs, many times per
        # request; unset, it is worked out afresh each time (about 0.6 µs against
        # 0.1 µs). This thread only ever runs this asyncio loop, so say so once.
        sniffio.thread_local.name = "asyncio"
        self.loop.run_forever()

    @classmethod
    def for_transport(cls, transport: object) -> SendLoop:
        """The loop that drives ``transport`` in this process (created on first use)."""
        with cls._registry_lock:
            found = cls._registry.get(transport)
            if found is None:
                found = cls(f"webhook-send-{getattr(transport, 'name', 'transport')}")
                cls._registry[transport] = found
                # When the transport goes away (a closed platform), so does its loop.
                weakref.finalize(transport, found.stop)
            return found

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coroutine`` on the loop; the future resolves in the caller's thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and wait for its result."""
        return self.submit(coroutine).result(timeout)

    def stop(self) -> None:
        """Stop the loop (pending sends are abandoned; their leases run out)."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
