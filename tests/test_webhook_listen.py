"""``webhooks listen``: real signed requests over loopback HTTP, checked and printed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from wattbridge.clock import FrozenClock
from wattbridge.webhooks.listen import make_listen_app, summarize
from wattbridge.webhooks.signing import generate_secret, signed_headers

NOW = datetime(2026, 6, 1, 10, 30, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
SECRET = generate_secret()


def event(event_type: str, data: dict[str, Any], event_id: str = "evt_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "createdAt": "2026-06-01T10:29:59.000Z",
            "environment": "sandbox",
            "data": data,
        }
    ).encode()


class Listener:
    """The listen app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Listener:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the listener did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def listener(lines: list[str]) -> Iterator[Listener]:
    app = make_listen_app(SECRET, lines.append, clock=FrozenClock(NOW))
    with Listener(app) as running:
        yield running


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=5, trust_env=False)


def test_valid_deliveries_get_200_and_one_line_each(listener: Listener, lines: list[str]) -> None:
    deliveries = [
        event("scan.completed", {"id": "scan_9", "status": "completed"}, "evt_a"),
        event("device.connected", {"id": "dev_3", "type": "battery", "vendor": "acme"}, "evt_b"),
        event(
            "action.failed",
            {"id": "act_7", "deviceId": "dev_3", "state": "failed", "errorCode": "DEVICE_OFFLINE"},
            "evt_c",
        ),
    ]
    for n, body in enumerate(deliveries):
        headers = signed_headers(f"msg_{n}", NOW_TS, body, [SECRET])
        response = post(f"{listener.url}/hooks", body, headers)
        assert response.status_code == 200, response.text
    assert lines == [
        "2026-06-01T10:30:00.000Z  scan.completed  evt_a  scan_9 status=completed",
        "2026-06-01T10:30:00.000Z  device.connected  evt_b  dev_3 type=battery vendor=acme",
        "2026-06-01T10:30:00.000Z  action.failed  evt_c  "
        "act_7 deviceId=dev_3 state=failed errorCode=DEVICE_OFFLINE",
    ]


def test_either_secret_of_a_rotation_is_accepted(lines: list[str]) -> None:
    old, new = generate_secret(), generate_secret()
    body = event("webhook.test", {})
    with Listener(make_listen_app(old, lines.append, clock=FrozenClock(NOW))) as running:
        headers = signed_headers("msg_r", NOW_TS, body, [new, old])
        assert post(running.url, body, headers).status_code == 200
    assert lines == ["2026-06-01T10:30:00.000Z  webhook.test  evt_1"]


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda h, b: (h, b.replace(b"scan_9", b"scan_0")), "no v1 signature matches"),
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "no v1 signature matches"),
        (lambda h, b: ({**h, "webhook-timestamp": str(NOW_TS - 10)}, b), "no v1 signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing"),
    ],
)
def test_invalid_deliveries_get_400_with_the_reason(
    listener: Listener, lines: list[str], mangle: Any, reason: str
) -> None:
    body = event("scan.completed", {"id": "scan_9", "status": "completed"})
    headers, body = mangle(signed_headers("msg_1", NOW_TS, body, [SECRET]), body)
    response = post(listener.url, body, headers)
    assert response.status_code == 400
    assert reason in response.json()["reason"]
    [line] = lines
    assert line.startswith("2026-06-01T10:30:00.000Z  REJECTED  ") and reason in line


def test_stale_and_wrongly_signed_deliveries_are_rejected(
    listener: Listener, lines: list[str]
) -> None:
    body = event("scan.completed", {"id": "scan_9"})
    stale = signed_headers("msg_1", NOW_TS - 301, body, [SECRET])
    assert post(listener.url, body, stale).status_code == 400
    other = signed_headers("msg_1", NOW_TS, body, [generate_secret()])
    assert post(listener.url, body, other).status_code == 400
    assert "301 s old" in lines[0] and "no v1 signature matches" in lines[1]


def test_a_redelivery_is_labelled(listener: Listener, lines: list[str]) -> None:
    body = event("scan.failed", {"id": "scan_2", "status": "error"})
    for attempt in range(2):
        headers = signed_headers("msg_same", NOW_TS + attempt, body, [SECRET])
        assert post(listener.url, body, headers).status_code == 200
    assert not lines[0].endswith("(redelivery)")
    assert lines[1].endswith("scan_2 status=error  (redelivery)")


def test_without_a_secret_deliveries_are_shown_but_marked_unchecked(lines: list[str]) -> None:
    with Listener(make_listen_app(None, lines.append, clock=FrozenClock(NOW))) as running:
        body = event("device.disconnected", {"id": "dev_1"})
        assert post(running.url, body, {"content-type": "application/json"}).status_code == 200
        assert post(running.url, b"not json", {}).status_code == 400
    assert lines[0] == (
        "2026-06-01T10:30:00.000Z  device.disconnected  evt_1  dev_1  (signature not checked)"
    )
    assert "not JSON" in lines[1]


def test_a_malformed_secret_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        make_listen_app("not-a-secret", print)


@pytest.mark.parametrize(
    ("data", "summary"),
    [
        ({"id": "scan_1", "status": "completed", "cost": 1}, "scan_1 status=completed"),
        ({"scan": {"id": "scan_1", "status": "pending"}}, "scan_1 status=pending"),
        (
            {"id": "act_1", "deviceId": "dev_1", "state": "completed", "x": {"y": 1}},
            "act_1 deviceId=dev_1 state=completed",
        ),
        ({}, ""),
        (None, ""),
        ([1, 2], "[1, 2]"),
        ({"id": "x" * 400}, "x" * 159 + "…"),
    ],
)
def test_summaries(data: Any, summary: str) -> None:
    assert summarize(data) == summary
