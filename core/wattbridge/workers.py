"""Background workers: the loops that move due work forward.

A worker does one pass with :meth:`Worker.run_once` (claim what is due, handle
it, return how many items it handled) and the :class:`WorkerRunner` calls it
every ``interval`` seconds in its own thread; a pass that found work is
followed immediately by another, so a backlog drains at full speed. Workers
claim rows with leases in the store, so several runners (``wattbridge serve``
and any number of ``wattbridge worker`` processes) can share a data dir.

Tests call ``run_once`` directly with a frozen clock instead of running threads.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.platform import Platform

log = logging.getLogger("wattbridge.workers")


@runtime_checkable
class Worker(Protocol):
    """One kind of background work in one environment.

    A worker whose pass can be long may also have a ``request_stop()`` method,
    called from another thread by :meth:`WorkerRunner.stop`: it should end the
    pass early, leaving unfinished work due for the next worker (the webhook
    dispatcher does).
    """

    name: str
    interval: float

    def run_once(self) -> int | Awaitable[int]:
        """Handle what is due now; return how many items were handled."""
        ...


WorkerFactory = Callable[["Environment"], Sequence[Worker]]


def worker_factories() -> list[WorkerFactory]:
    """The features' worker factories (one line each); each is called per environment."""
    # Imported here, not at module level: services import the store and the
    # environment, which must stay importable without the workers.
    from wattbridge.services.action_lifecycle import action_workers
    from wattbridge.services.billing import billing_workers
    from wattbridge.services.dispatcher import dispatcher_workers
    from wattbridge.services.housekeeping import housekeeping_workers
    from wattbridge.services.scan_syncer import scan_workers

    return [
        scan_workers, dispatcher_workers, action_workers, billing_workers, housekeeping_workers
    ]


def workers_for(platform: Platform) -> list[Worker]:
    """Every worker of every environment of ``platform``."""
    return [
        worker
        for env in platform.environments.values()
        for factory in worker_factories()
        for worker in factory(env)
    ]


class WorkerRunner:
    """Runs workers in daemon threads until :meth:`stop`."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = list(workers)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one thread per worker."""
        for worker in self.workers:
            thread = threading.Thread(
                target=self._loop, args=(worker,), name=f"worker-{worker.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, worker: Worker) -> None:
        # Async workers (the webhook dispatcher) get an event loop of their own.
        loop = asyncio.new_event_loop() if inspect.iscoroutinefunction(worker.run_once) else None
        try:
            while not self._stop.is_set():
                handled = self._pass(worker, loop)
                if not handled:
                    self._stop.wait(worker.interval)
        finally:
            if loop is not None:
                loop.close()

    def _pass(self, worker: Worker, loop: asyncio.AbstractEventLoop | None) -> int:
        try:
            result = worker.run_once()
            if loop is not None and inspect.isawaitable(result):
                return int(loop.run_until_complete(result))
            return int(result)  # type: ignore[arg-type]
        except Exception:
            # A failing pass must not kill the loop: the work stays due (its
            # lease runs out) and is tried again on a later pass.
            log.exception("worker %s failed; retrying in %.1fs", worker.name, worker.interval)
            self._stop.wait(worker.interval)
            return 0

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every loop to finish its pass and wait for them."""
        self._stop.set()
        for worker in self.workers:
            # A worker whose pass can be long (the webhook dispatcher draining a
            # backlog) ends it early when asked; the others finish their pass.
            request_stop = getattr(worker, "request_stop", None)
            if request_stop is not None:
                request_stop()
        for thread in self._threads:
            thread.join(timeout)
