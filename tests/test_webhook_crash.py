"""Webhook delivery across processes: a server killed with SIGKILL mid-delivery loses
no webhook, and two worker processes on one data dir never send the same attempt.

The real ``wattbridge serve`` runs as a subprocess on its own data dir (``--dev``
so the sandbox may deliver to a receiver on loopback, no sandbox delay). The
receiver holds every request without answering; once deliveries are in flight,
the server is killed, the receiver starts answering at once, and a new server
on the same data dir must deliver every event: duplicates are allowed (that is
at-least-once) and carry the same ``webhook-id`` as the lost attempt.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx

from tests.support import (
    SCAN_BODY,
    WATTBRIDGE,
    cli_env,
    free_port,
    new_platform,
    serving,
    wait_until,
)
from tests.webhook_receiver import Answer, Received, receiving
from wattbridge.services.webhooks import WebhookEndpointService
from wattbridge.webhooks.signing import verify


def serve(
    data_dir: Path, port: int, log_path: Path
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """Run ``wattbridge serve --dev`` (no sandbox webhook delay) until the block ends (or
    the test kills it)."""
    return serving(data_dir, port, log_path, "--dev",
                   env={"WATTBRIDGE_SANDBOX_WEBHOOK_DELAY": "0s"})


def test_sigkill_mid_delivery_loses_no_event(tmp_path: Path) -> None:
    data, log_path, port = tmp_path / "data", tmp_path / "server.log", free_port()
    killed = False
    with receiving() as receiver:
        # Hold every request far longer than the test takes to kill the server;
        # those held requests then end with a failure, so only deliveries made
        # after the restart count as acknowledged.
        receiver.responder = lambda _: Answer() if killed else Answer(503, delay=8)
        with serve(data, port, log_path) as first:
            key = re.search(r"sk_test_[0-9A-Za-z]{38}", log_path.read_text())
            assert key, log_path.read_text()
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {key.group()}"},
            )
            endpoint = api.post("/v1/webhook-endpoints", json={"url": receiver.url}).json()
            secret = endpoint["data"]["secret"]
            for _ in range(2):
                assert api.post("/v1/scans", json=SCAN_BODY).status_code == 201
            for _ in range(8):
                sent = api.post(f"/v1/webhook-endpoints/{endpoint['data']['id']}/test")
                assert sent.status_code == 202
            events = {e["id"] for e in api.get("/v1/events", params={"limit": 100}).json()
                      ["data"]["items"]}
            assert len(events) >= 10
            # Wait until every event is in flight (received, not answered), then kill.
            wait_until(lambda: _event_ids(receiver.received) >= events, 10,
                       lambda: receiver.received)
            first.send_signal(signal.SIGKILL)
            first.wait(5)
            killed = True
            before = list(receiver.received)
            api.close()

        assert not receiver.acknowledged, "nothing was answered before the kill"
        with serve(data, port, log_path):
            # The lost attempts' leases run out (seconds), then they are sent again.
            wait_until(lambda: _event_ids(receiver.acknowledged) >= events, 25,
                       lambda: (events - _event_ids(receiver.acknowledged), log_path.read_text()))
    assert len(receiver.received) > len(before)
    first_ids = {_event_id(r): r.webhook_id for r in before}
    for item in receiver.acknowledged:
        verify(secret, item.headers, item.body, time.time())
        if _event_id(item) in first_ids:
            assert item.webhook_id == first_ids[_event_id(item)]  # a redelivery, same id


def _event_id(item: Received) -> str:
    return str(json.loads(item.body)["id"])


def _event_ids(items: list[Received]) -> set[str]:
    return {_event_id(r) for r in list(items)}


def test_two_worker_processes_never_send_the_same_attempt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = cli_env(WATTBRIDGE_SANDBOX_PRIVATE_WEBHOOK_TARGETS="true",
                  WATTBRIDGE_SANDBOX_WEBHOOK_DELAY="0s")
    with receiving() as receiver:
        platform = new_platform(data, None, **{"sandbox.private_webhook_targets": True})
        try:
            project = platform.access.create_project("acme").id
            sandbox = platform.environment("sandbox")
            WebhookEndpointService(sandbox).create(project, {"url": receiver.url})
            with sandbox.db.transaction():
                for i in range(400):
                    sandbox.event_service.record(project, "scan.completed", {"i": i})
        finally:
            platform.close()
        # Slow enough answers that both workers are busy at the same time.
        receiver.answer(200, delay=0.01)
        logs = [(tmp_path / f"worker{i}.log").open("w") for i in range(2)]
        workers = [
            subprocess.Popen([WATTBRIDGE, "worker", "--data-dir", str(data)],
                             stdout=log, stderr=subprocess.STDOUT, env=env)
            for log in logs
        ]
        try:
            wait_until(lambda: len(receiver.acknowledged) >= 400, 30,
                       lambda: len(receiver.acknowledged))
            time.sleep(0.5)  # would a second copy of any attempt still arrive?
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker, log in zip(workers, logs, strict=True):
                worker.wait(15)
                log.close()
    ids = [r.webhook_id for r in receiver.received]
    assert len(ids) == 400 and len(set(ids)) == 400
    by_worker = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert all("Traceback" not in text for text in by_worker), by_worker
