"""A real webhook receiver on loopback for the webhook tests: records, answers as told."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import ServerThread


@attrs.frozen
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header."""
        return self.headers["webhook-id"]


@attrs.frozen
class Answer:
    """How to answer: status, headers, body, and how long to wait first."""

    status: int = 200
    headers: dict[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    body: bytes = b'{"ok": true}'


Responder = Callable[[Received], Answer]


class Receiver:
    """Records every request; answers with ``responder`` (200 by default).

    ``received`` lists every request; ``acknowledged`` only those answered 2xx
    (a request still held when the sender dies is not acknowledged).
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.acknowledged: list[Received] = []
        self.responder: Responder = lambda _: Answer()
        self._lock = threading.Lock()
        self._server = ServerThread(Starlette(routes=[Route("/{path:path}", self._receive,
                                                            methods=["POST"])]))
        self.url = self._server.url + "/hook"

    async def _receive(self, request: Request) -> Response:
        item = Received(request.url.path, dict(request.headers), await request.body())
        with self._lock:
            self.received.append(item)
        answer = self.responder(item)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if 200 <= answer.status < 300:
            with self._lock:
                self.acknowledged.append(item)
        return Response(answer.body, answer.status, answer.headers)

    def answer(
        self, status: int = 200, delay: float = 0.0, body: bytes = b'{"ok": true}', **headers: str
    ) -> None:
        """Answer every following request this way (``retry_after=`` → ``retry-after:``)."""
        fixed = Answer(status, {k.replace("_", "-"): v for k, v in headers.items()}, delay, body)
        self.responder = lambda _: fixed

    def bodies(self) -> list[bytes]:
        """The bodies received so far."""
        with self._lock:
            return [r.body for r in self.received]

    def start(self) -> Receiver:
        """Start listening."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._server.stop()


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A started receiver for the block."""
    receiver = Receiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def json_of(item: Received) -> Any:
    """The received body as JSON."""
    import json

    return json.loads(item.body)
