"""The webhook dispatcher against a real receiver on loopback, with an injected clock."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import new_platform, wait_until
from tests.webhook_receiver import Answer, Receiver, json_of, receiving
from wattbridge.clock import FrozenClock, isoformat
from wattbridge.environments import Environment
from wattbridge.services.dispatcher import WebhookDispatcher
from wattbridge.services.housekeeping import EVENT_RETENTION, EventPurger
from wattbridge.services.retry_policy import RETRY_DELAYS, RetryPolicy
from wattbridge.services.webhooks import WebhookEndpointService
from wattbridge.webhooks.signing import InvalidSignature, verify
from wattbridge.workers import WorkerRunner

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
PRIVATE = {"sandbox.private_webhook_targets": True, "live.private_webhook_targets": True}


class World:
    """A platform with a frozen clock, a project, and a receiver."""

    def __init__(
        self, data_dir: Path, receiver: Receiver, project: str = "acme", **config: Any
    ) -> None:
        self.clock = FrozenClock(T0)
        self.platform = new_platform(data_dir, clock=self.clock, **{**PRIVATE, **config})
        self.project = self.platform.access.create_project(project, live_enabled=True).id
        self.receiver = receiver
        self.dispatchers: list[WebhookDispatcher] = []

    def env(self, name: str = "sandbox") -> Environment:
        return self.platform.environment(name)  # type: ignore[arg-type]

    def endpoint(self, env: str = "sandbox", **body: Any) -> dict[str, Any]:
        service = WebhookEndpointService(self.env(env))
        return service.create(self.project, {"url": self.receiver.url, **body})

    def record(self, event_type: str = "scan.completed", env: str = "sandbox") -> str:
        environment = self.env(env)
        with environment.db.transaction():
            return environment.event_service.record(self.project, event_type, {"id": "scan_1"})

    def dispatcher(self, env: str = "sandbox", **options: Any) -> WebhookDispatcher:
        options.setdefault("policy", RetryPolicy(rng=random.Random(7)))
        options.setdefault("interval", 0.05)
        dispatcher = WebhookDispatcher(self.env(env), **options)
        self.dispatchers.append(dispatcher)
        return dispatcher

    def log(self, endpoint_id: str, env: str = "sandbox") -> list[dict[str, Any]]:
        service = WebhookEndpointService(self.env(env))
        return service.deliveries(self.project, endpoint_id, 100, 0)[0]

    def close(self) -> None:
        for dispatcher in self.dispatchers:
            dispatcher.close()
        self.platform.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with receiving() as receiver:
        created = World(tmp_path / "data", receiver, **{"sandbox.webhook_delay": "0s"})
        yield created
        created.close()


def now_ts(world: World) -> float:
    return world.clock.now().timestamp()


def test_delivery_is_signed_and_verifies(world: World) -> None:
    endpoint = world.endpoint()
    event_id = world.record()
    assert world.dispatcher().run_once() == 2  # one event fanned out, one attempt completed
    [item] = world.receiver.received
    event = world.env().event_service.get(world.project, event_id)
    assert json_of(item) == event
    assert set(json_of(item)) == {"id", "type", "createdAt", "environment", "data"}
    assert item.headers["webhook-timestamp"] == str(int(now_ts(world)))
    assert item.headers["webhook-id"].startswith("msg_")
    assert item.headers["content-type"] == "application/json"
    verify(endpoint["secret"], item.headers, item.body, now_ts(world))
    [entry] = world.log(endpoint["id"])
    assert entry["status"] == "succeeded" and entry["statusCode"] == 200
    assert entry["webhookId"] == item.webhook_id and entry["eventType"] == "scan.completed"
    assert entry["attemptedAt"] == isoformat(T0) and entry["nextAttemptAt"] is None


@pytest.mark.parametrize("part", ["body", "webhook-id", "webhook-timestamp"])
def test_a_tampered_delivery_is_rejected(world: World, part: str) -> None:
    endpoint = world.endpoint()
    world.record()
    world.dispatcher().run_once()
    [item] = world.receiver.received
    headers, body = dict(item.headers), item.body
    if part == "body":
        body = body.replace(b"scan_1", b"scan_2")
    elif part == "webhook-id":
        # A different last character (an id ending in "x" must still change).
        last = headers["webhook-id"][-1]
        headers["webhook-id"] = headers["webhook-id"][:-1] + ("y" if last == "x" else "x")
    else:
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + 1)
    with pytest.raises(InvalidSignature):
        verify(endpoint["secret"], headers, body, now_ts(world))


def test_standardwebhooks_library_verifies_a_delivery(world: World) -> None:
    standardwebhooks = pytest.importorskip("standardwebhooks.webhooks")
    # The library checks the timestamp against the real clock.
    world.clock.set(datetime.now(UTC))
    endpoint = world.endpoint()
    world.record()
    world.dispatcher().run_once()
    [item] = world.receiver.received
    hook = standardwebhooks.Webhook(endpoint["secret"])
    assert hook.verify(item.body, item.headers)["id"] == json_of(item)["id"]
    tampered = item.body.replace(b"scan_1", b"scan_2")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        hook.verify(tampered, item.headers)


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(world: World) -> None:
    old = world.endpoint()
    rotated = WebhookEndpointService(world.env()).rotate_secret(
        world.project, old["id"], {"expiresIn": 3600}
    )
    assert rotated["secret"] != old["secret"] and rotated["secret"].startswith("whsec_")
    dispatcher = world.dispatcher()
    world.record()
    dispatcher.run_once()
    first = world.receiver.received[-1]
    assert len(first.headers["webhook-signature"].split()) == 2
    for secret in (old["secret"], rotated["secret"]):
        verify(secret, first.headers, first.body, now_ts(world))
    world.clock.advance(3601)
    world.record()
    dispatcher.run_once()
    second = world.receiver.received[-1]
    assert len(second.headers["webhook-signature"].split()) == 1
    verify(rotated["secret"], second.headers, second.body, now_ts(world))
    with pytest.raises(InvalidSignature):
        verify(old["secret"], second.headers, second.body, now_ts(world))


def test_a_500_is_retried_on_schedule_with_the_same_webhook_id(world: World) -> None:
    endpoint = world.endpoint()
    world.record()
    dispatcher = world.dispatcher()
    world.receiver.answer(500)
    dispatcher.run_once()
    [failed] = world.log(endpoint["id"])[1:] or world.log(endpoint["id"])
    log = world.log(endpoint["id"])
    assert [e["status"] for e in log] == ["pending", "failed"]
    failed, pending = log[1], log[0]
    assert failed["statusCode"] == 500 and "500" in failed["error"]
    due = datetime.fromisoformat(pending["nextAttemptAt"].replace("Z", "+00:00"))
    assert timedelta(seconds=4.5) <= due - T0 <= timedelta(seconds=5.5)
    assert failed["nextAttemptAt"] == pending["nextAttemptAt"]
    assert dispatcher.run_once() == 0  # not due yet: nothing is sent
    assert len(world.receiver.received) == 1
    world.clock.advance(6)
    world.receiver.answer(200)
    dispatcher.run_once()
    first, second = world.receiver.received
    assert first.webhook_id == second.webhook_id
    assert int(second.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 6
    verify(endpoint["secret"], second.headers, second.body, now_ts(world))
    assert [e["status"] for e in world.log(endpoint["id"])] == ["succeeded", "failed"]
    assert [e["attempt"] for e in world.log(endpoint["id"])] == [2, 1]


def test_a_timeout_is_a_failure_and_is_retried(world: World) -> None:
    endpoint = world.endpoint()
    world.record()
    world.receiver.answer(200, delay=1.0)
    world.dispatcher(timeout_seconds=0.2).run_once()
    failed = world.log(endpoint["id"])[1]
    assert failed["status"] == "failed" and failed["statusCode"] is None
    assert "timed out" in failed["error"]
    assert world.log(endpoint["id"])[0]["status"] == "pending"


def test_retry_after_is_honoured(world: World) -> None:
    endpoint = world.endpoint()
    world.record()
    world.receiver.answer(429, retry_after="120")
    dispatcher = world.dispatcher()
    dispatcher.run_once()
    pending = world.log(endpoint["id"])[0]
    assert pending["nextAttemptAt"] == isoformat(T0 + timedelta(seconds=120))
    world.clock.advance(119)
    assert dispatcher.run_once() == 0
    world.clock.advance(1)
    world.receiver.answer(200)
    dispatcher.run_once()
    assert world.log(endpoint["id"])[0]["status"] == "succeeded"


def test_410_disables_the_endpoint_without_retry(world: World) -> None:
    endpoint = world.endpoint()
    world.record()
    world.receiver.answer(410)
    dispatcher = world.dispatcher()
    dispatcher.run_once()
    [failed] = world.log(endpoint["id"])
    assert failed["status"] == "failed" and failed["nextAttemptAt"] is None
    current = WebhookEndpointService(world.env()).get(world.project, endpoint["id"])
    assert current["enabled"] is False and "410" in current["disabledReason"]
    world.record()
    dispatcher.run_once()
    assert len(world.receiver.received) == 1  # a disabled endpoint gets nothing new
    # ...but the new event's delivery is logged, unsent, for a later recover.
    newest = world.log(endpoint["id"])[0]
    assert newest["status"] == "failed" and newest["nextAttemptAt"] is None
    assert "not sent: the endpoint is disabled" in newest["error"]


def test_the_schedule_ends_after_ten_attempts(world: World) -> None:
    endpoint = world.endpoint()
    world.record()
    world.receiver.answer(503)
    dispatcher = world.dispatcher(policy=RetryPolicy(jitter=0.0))
    for delay in (timedelta(0), *RETRY_DELAYS):
        world.clock.advance(delay)
        dispatcher.run_once()
    log = world.log(endpoint["id"])
    assert len(log) == len(world.receiver.received) == 10
    assert all(e["status"] == "failed" for e in log)
    assert log[0]["nextAttemptAt"] is None and log[0]["attempt"] == 10
    assert len({r.webhook_id for r in world.receiver.received}) == 1
    world.clock.advance(timedelta(days=1))
    assert dispatcher.run_once() == 0


def test_five_days_of_failures_disable_the_endpoint(world: World) -> None:
    endpoint = world.endpoint()
    world.receiver.answer(500)
    dispatcher = world.dispatcher()
    world.record()
    dispatcher.run_once()
    world.clock.advance(timedelta(days=4, hours=23))
    world.record()
    dispatcher.run_once()
    service = WebhookEndpointService(world.env())
    assert service.get(world.project, endpoint["id"])["enabled"] is True
    world.clock.advance(timedelta(hours=1))
    world.record()
    dispatcher.run_once()
    disabled = service.get(world.project, endpoint["id"])
    assert disabled["enabled"] is False and "5 days" in disabled["disabledReason"]


def test_a_success_resets_the_failure_streak(world: World) -> None:
    endpoint = world.endpoint()
    dispatcher = world.dispatcher()
    world.receiver.answer(500)
    world.record()
    dispatcher.run_once()
    world.clock.advance(timedelta(days=3))
    world.receiver.answer(200)
    world.record()
    dispatcher.run_once()
    world.clock.advance(timedelta(days=3))
    world.receiver.answer(500)
    world.record()
    dispatcher.run_once()
    service = WebhookEndpointService(world.env())
    assert service.get(world.project, endpoint["id"])["enabled"] is True


def test_recover_requeues_given_up_deliveries_after_re_enabling(world: World) -> None:
    endpoint = world.endpoint()
    service = WebhookEndpointService(world.env())
    world.receiver.answer(410)
    dispatcher = world.dispatcher()
    world.record()
    dispatcher.run_once()
    with pytest.raises(Exception, match="disabled"):
        service.recover(world.project, endpoint["id"], {"since": isoformat(T0)})
    world.record()  # happens while the endpoint is disabled
    dispatcher.run_once()
    assert len(world.receiver.received) == 1
    service.update(world.project, endpoint["id"], {"enabled": True})
    world.clock.advance(60)
    result = service.recover(world.project, endpoint["id"], {"since": isoformat(T0)})
    assert result["recovered"] == 2  # the given-up delivery and the one never sent
    # A second call finds nothing more to recover: the delivery is pending again.
    again = service.recover(world.project, endpoint["id"], {"since": isoformat(T0)})
    assert again["recovered"] == 0
    world.receiver.answer(200)
    dispatcher.run_once()
    first, *recovered = world.receiver.received
    assert len(recovered) == 2 and first.webhook_id in {r.webhook_id for r in recovered}
    statuses = sorted(e["status"] for e in world.log(endpoint["id"]))
    assert statuses == ["failed", "failed", "succeeded", "succeeded"]


def test_environments_are_isolated_on_the_same_url(world: World) -> None:
    sandbox = world.endpoint("sandbox")
    live = world.endpoint("live")
    sandbox_event = world.record(env="sandbox")
    live_event = world.record(env="live")
    world.dispatcher("sandbox").run_once()
    world.dispatcher("live").run_once()
    received = {json_of(r)["id"]: r for r in world.receiver.received}
    assert set(received) == {sandbox_event, live_event}
    assert json_of(received[sandbox_event])["environment"] == "sandbox"
    assert json_of(received[live_event])["environment"] == "live"
    now = now_ts(world)
    verify(sandbox["secret"], received[sandbox_event].headers, received[sandbox_event].body, now)
    verify(live["secret"], received[live_event].headers, received[live_event].body, now)
    with pytest.raises(InvalidSignature):
        verify(live["secret"], received[sandbox_event].headers, received[sandbox_event].body, now)


def test_event_filters_and_test_events_reach_only_their_endpoint(world: World) -> None:
    scans = world.endpoint(events=["scan.completed"])
    devices = world.endpoint(events=["device.connected"])
    world.record("scan.completed")
    world.record("device.disconnected")
    service = WebhookEndpointService(world.env())
    test = service.send_test(world.project, devices["id"])
    world.dispatcher().run_once()
    by_type = {json_of(r)["type"]: r for r in world.receiver.received}
    assert set(by_type) == {"scan.completed", "webhook.test"}
    verify(scans["secret"], by_type["scan.completed"].headers, by_type["scan.completed"].body,
           now_ts(world))
    verify(devices["secret"], by_type["webhook.test"].headers, by_type["webhook.test"].body,
           now_ts(world))
    assert by_type["webhook.test"].webhook_id == test["webhookId"]


def test_an_endpoint_created_later_does_not_get_older_events(world: World) -> None:
    world.record()
    world.clock.advance(1)
    world.endpoint()
    world.dispatcher().run_once()
    assert world.receiver.received == []


def test_deleted_endpoints_get_nothing(world: World) -> None:
    endpoint = world.endpoint()
    world.record()
    WebhookEndpointService(world.env()).delete(world.project, endpoint["id"])
    world.dispatcher().run_once()
    assert world.receiver.received == []


@pytest.mark.parametrize(("delay", "wait"), [("3m", 180), ("0s", 0)])
def test_sandbox_action_delay(tmp_path: Path, delay: str, wait: int) -> None:
    with receiving() as receiver:
        world = World(tmp_path / "data", receiver, **{"sandbox.webhook_delay": delay})
        try:
            world.endpoint()
            dispatcher = world.dispatcher()
            world.record("action.completed")
            world.record("scan.completed")
            dispatcher.run_once()
            # Sends run concurrently: the arrival order of the two is not defined.
            assert sorted(json_of(r)["type"] for r in receiver.received) == (
                ["action.completed", "scan.completed"] if wait == 0 else ["scan.completed"]
            )
            if wait:
                world.clock.advance(wait - 1)
                dispatcher.run_once()
                assert len(receiver.received) == 1
                world.clock.advance(1)
                dispatcher.run_once()
                assert json_of(receiver.received[-1])["type"] == "action.completed"
            # live sends action events at once whatever the sandbox delay is
            world.endpoint("live")
            world.record("action.completed", env="live")
            world.dispatcher("live").run_once()
            assert json_of(receiver.received[-1])["environment"] == "live"
        finally:
            world.close()


def test_ssrf_is_checked_again_at_every_attempt(tmp_path: Path) -> None:
    with receiving() as receiver:
        first = World(tmp_path / "data", receiver)
        endpoint = first.endpoint()
        first.platform.close()
        # The operator turns private targets off: the stored loopback URL is refused.
        strict = World(
            tmp_path / "data", receiver, "other", **{"sandbox.private_webhook_targets": False}
        )
        strict.project = first.project
        try:
            strict.record()
            strict.dispatcher().run_once()
            assert receiver.received == []
            failed = strict.log(endpoint["id"])[1]
            assert "loopback" in failed["error"] and failed["error"].startswith("not sent")
        finally:
            strict.close()


def test_two_workers_never_send_the_same_attempt(tmp_path: Path) -> None:
    with receiving() as receiver:
        world = World(tmp_path / "data", receiver)
        other = new_platform(tmp_path / "data", clock=world.clock, **PRIVATE)
        try:
            world.endpoint()
            environment = world.env()
            with environment.db.transaction():
                for _ in range(300):
                    environment.event_service.record(world.project, "scan.completed", {})
            a = world.dispatcher(concurrency=16)
            b = WebhookDispatcher(other.environment("sandbox"), concurrency=16, interval=0.05)
            threads = [threading.Thread(target=d.run_once) for d in (a, b)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            ids = [r.webhook_id for r in receiver.received]
            assert len(ids) == 300 and len(set(ids)) == 300
            b.close()
        finally:
            world.close()
            other.close()


def test_payload_bytes_are_the_rendered_event(world: World) -> None:
    world.endpoint()
    event_id = world.record()
    world.dispatcher().run_once()
    rendered = world.env().event_service.get(world.project, event_id)
    assert world.receiver.bodies() == [json.dumps(rendered, separators=(",", ":")).encode()]


def test_a_slow_receiver_does_not_hold_up_others(world: World) -> None:
    slow = world.endpoint()
    fast_path = world.receiver.url.replace("/hook", "/fast")
    world.endpoint(url=fast_path)
    world.receiver.responder = lambda item: Answer(delay=0.6 if item.path == "/hook" else 0)
    world.record()
    world.dispatcher().run_once()
    paths = [r.path for r in world.receiver.acknowledged]
    assert paths == ["/fast", "/hook"]
    assert world.log(slow["id"])[0]["status"] == "succeeded"


def test_a_send_longer_than_the_lease_keeps_it(tmp_path: Path) -> None:
    """Leases are short (a dead worker's sends are retried soon), so a live worker renews them."""
    with receiving() as receiver:
        config: dict[str, Any] = {**PRIVATE, "sandbox.webhook_delay": "0s"}
        platform = new_platform(tmp_path / "data", None, **config)  # the real clock
        other = new_platform(tmp_path / "data", None, **config)
        lease = timedelta(seconds=0.4)
        a = WebhookDispatcher(platform.environment("sandbox"), lease=lease, interval=0.05)
        b = WebhookDispatcher(other.environment("sandbox"), lease=lease, interval=0.05)
        try:
            project = platform.access.create_project("p").id
            env = platform.environment("sandbox")
            WebhookEndpointService(env).create(project, {"url": receiver.url})
            with env.db.transaction():
                env.event_service.record(project, "scan.completed", {})
            receiver.answer(200, delay=1.2)
            sender = threading.Thread(target=a.run_once)
            sender.start()
            deadline = time.monotonic() + 5
            while not receiver.received:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            # Well past the first lease, the other worker still finds nothing to claim.
            until = time.monotonic() + 0.9
            while time.monotonic() < until:
                assert b.run_once() == 0
                time.sleep(0.05)
            sender.join(10)
            assert len(receiver.received) == 1 and len(receiver.acknowledged) == 1
        finally:
            a.close()
            b.close()
            platform.close()
            other.close()


def test_each_attempt_checks_the_url_again_and_connects_to_the_checked_address(
    world: World,
) -> None:
    """The host name below never resolves through DNS: the delivery reaches the receiver
    only because the transport connects to the address the check approved."""
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    url = world.receiver.url.replace("127.0.0.1", "hooks.invalid")
    service = WebhookEndpointService(world.env(), resolver=resolver)
    endpoint = service.create(world.project, {"url": url})
    world.record()
    world.receiver.answer(500)
    dispatcher = world.dispatcher(resolver=resolver)
    dispatcher.run_once()
    world.clock.advance(10)
    world.receiver.answer(200)
    dispatcher.run_once()
    assert lookups == ["hooks.invalid"] * 3  # registration, then each of the two attempts
    first, second = world.receiver.received
    assert first.headers["host"] == second.headers["host"] == url.split("/")[2]
    assert world.log(endpoint["id"])[0]["status"] == "succeeded"


def test_recover_brings_waiting_retries_forward(world: World) -> None:
    endpoint = world.endpoint()
    service = WebhookEndpointService(world.env())
    world.record()
    world.receiver.answer(503)
    dispatcher = world.dispatcher()
    dispatcher.run_once()
    world.clock.advance(6)
    dispatcher.run_once()  # the second attempt fails too: the next one is ~5 min away
    assert world.log(endpoint["id"])[0]["status"] == "pending"
    world.clock.advance(1)
    world.receiver.answer(200)
    assert dispatcher.run_once() == 0  # nothing is due before recovery
    result = service.recover(world.project, endpoint["id"], {"since": isoformat(T0)})
    assert result["recovered"] == 1
    dispatcher.run_once()
    log = world.log(endpoint["id"])
    assert [(e["attempt"], e["status"]) for e in log] == [
        (3, "succeeded"), (2, "failed"), (1, "failed")
    ]
    assert log[1]["nextAttemptAt"] == isoformat(T0 + timedelta(seconds=7))
    assert len({r.webhook_id for r in world.receiver.received}) == 1


def backlog(world: World, count: int) -> set[str]:
    """Record ``count`` events at once (one endpoint must exist); return their ids."""
    environment = world.env()
    with environment.db.transaction():
        return {
            environment.event_service.record(world.project, "scan.completed", {})
            for _ in range(count)
        }


def wait_until_received(world: World, count: int) -> None:
    """Wait (up to 10 s) until the receiver has seen ``count`` requests."""
    wait_until(lambda: len(world.receiver.received) >= count, 10,
               lambda: "the dispatcher never started sending")


def stop_mid_backlog(world: World, dispatcher: WebhookDispatcher, in_flight: int) -> float:
    """Run ``dispatcher`` in a thread, ask it to stop once ``in_flight`` sends have reached
    the receiver, and return how long it took to return after that."""
    sender = threading.Thread(target=dispatcher.run_once)
    sender.start()
    wait_until_received(world, in_flight)
    asked = time.monotonic()
    dispatcher.request_stop()
    sender.join(30)
    assert not sender.is_alive()
    return time.monotonic() - asked


def attempts(world: World) -> list[dict[str, Any]]:
    """Every attempt row of the sandbox, oldest first."""
    return [
        dict(row)
        for row in world.env().db.query(
            "SELECT webhook_id, event_id, status, locked_until FROM webhook_attempts ORDER BY id"
        )
    ]


def test_a_stop_ends_a_pass_mid_backlog_and_the_rest_is_delivered_later(world: World) -> None:
    """Sends in flight finish within the stop grace and are recorded; the backlog stays
    due, and the next dispatcher delivers every event exactly once."""
    world.endpoint()
    events = backlog(world, 500)
    world.receiver.answer(200, delay=0.3)
    # Draining 500 deliveries 16 at a time at 0.3 s each takes about 10 s.
    first = world.dispatcher(concurrency=16, stop_grace=5.0)
    assert stop_mid_backlog(world, first, in_flight=16) < 3.0
    rows = attempts(world)
    sent = [r for r in rows if r["status"] == "succeeded"]
    assert 16 <= len(sent) < 250
    assert {r["status"] for r in rows} == {"succeeded", "pending"}
    # What reached the receiver was answered within the grace and recorded.
    assert sorted(r.webhook_id for r in world.receiver.acknowledged) == sorted(
        r["webhook_id"] for r in sent
    )
    world.receiver.answer(200)
    world.dispatcher(concurrency=16).run_once()
    ids = [r.webhook_id for r in world.receiver.acknowledged]
    assert len(ids) == len(set(ids)) == len(world.receiver.received) == 500
    assert {json_of(r)["id"] for r in world.receiver.acknowledged} == events
    assert {r["status"] for r in attempts(world)} == {"succeeded"}


def test_a_stop_cancels_slow_sends_and_releases_them_to_the_next_worker(world: World) -> None:
    """Sends that outlast the stop grace are cancelled: their attempts stay pending (not
    failed), unleased, and the next dispatcher sends them again with the same webhook-id."""
    world.endpoint()
    events = backlog(world, 200)
    world.receiver.answer(200, delay=2.0)
    first = world.dispatcher(concurrency=16, stop_grace=0.2)
    assert stop_mid_backlog(world, first, in_flight=16) < 3.0
    rows = attempts(world)
    # One pending attempt per event; the frozen clock never reaches the 10 s lease's
    # end, so only a released lease lets the next dispatcher take these now.
    assert len(rows) == 200 and {r["status"] for r in rows} == {"pending"}
    assert all(r["locked_until"] is None or r["locked_until"] <= isoformat(T0) for r in rows)
    cut_off = {r.webhook_id for r in world.receiver.received}
    assert len(cut_off) == 16
    world.receiver.answer(200)
    world.dispatcher(concurrency=16).run_once()
    rows = attempts(world)
    assert len(rows) == 200 and {r["status"] for r in rows} == {"succeeded"}
    assert {r["event_id"] for r in rows} == events
    resent = [r.webhook_id for r in world.receiver.received[16:]]
    assert sorted(resent) == sorted(r["webhook_id"] for r in rows)  # each once more at most
    assert cut_off <= set(resent)  # the cut-off ones again, under the same webhook-id


def test_a_stopped_dispatcher_claims_nothing(world: World) -> None:
    world.endpoint()
    world.record()
    dispatcher = world.dispatcher()
    dispatcher.request_stop()
    assert dispatcher.run_once() == 0
    assert world.receiver.received == []
    assert world.dispatcher().run_once() == 2  # the event was left for another worker


def test_stopping_the_worker_runner_stops_a_dispatcher_mid_backlog(world: World) -> None:
    """``serve`` and ``wattbridge worker`` stop through WorkerRunner.stop(): it must not
    wait for a dispatcher to drain its whole backlog."""
    world.endpoint()
    backlog(world, 300)
    world.receiver.answer(200, delay=0.3)
    runner = WorkerRunner([world.dispatcher(concurrency=16, stop_grace=0.2)])
    runner.start()
    wait_until_received(world, 16)
    asked = time.monotonic()
    runner.stop(timeout=10)
    assert time.monotonic() - asked < 3.0  # draining 300 at 16 x 0.3 s would take ~6 s
    assert {r["status"] for r in attempts(world)} >= {"pending"}  # left for the next worker


def test_events_past_their_retention_go_with_their_delivery_log(world: World) -> None:
    """Dispatched events older than 30 days are deleted with their attempts; an event
    with a delivery still pending, and an event not dispatched yet, are kept."""
    endpoint = world.endpoint()
    delivered = world.record()
    world.receiver.answer(200)
    dispatcher = world.dispatcher()
    dispatcher.run_once()
    world.receiver.answer(503)
    retrying = world.record()
    dispatcher.run_once()  # fails: a retry is now pending
    waiting = world.record()  # never dispatched (no pass runs after it)
    world.clock.advance(EVENT_RETENTION + timedelta(days=1))
    recent = world.record()
    env = world.env()
    before = {a["eventId"] for a in world.log(endpoint["id"])}
    assert {delivered, retrying} <= before

    assert EventPurger(env).run_once() == 0  # not a full batch: nothing more due now
    kept = {e["id"] for e in env.event_service.list(world.project, 100, 0, None)[0]}
    assert kept == {retrying, waiting, recent}
    log = {a["eventId"] for a in world.log(endpoint["id"])}
    assert delivered not in log and retrying in log
    assert env.events.get(world.project, delivered) is None


def test_the_event_purger_works_through_a_backlog_in_batches(world: World) -> None:
    world.endpoint()
    world.receiver.answer(200)
    events = [world.record() for _ in range(5)]
    world.dispatcher().run_once()
    world.clock.advance(EVENT_RETENTION + timedelta(days=1))
    purger = EventPurger(world.env(), batch=2)
    assert [purger.run_once() for _ in range(4)] == [2, 2, 0, 0]  # a short batch ends it
    assert all(world.env().events.get(world.project, e) is None for e in events)


def test_old_events_with_pending_deliveries_do_not_hold_back_the_purge(world: World) -> None:
    """The oldest expired events, a whole batch of them, still have a retry pending:
    the settled events behind them are deleted all the same."""
    world.endpoint()
    world.receiver.answer(503)
    retrying = [world.record() for _ in range(2)]
    world.dispatcher().run_once()  # both fail: their retries are pending
    world.clock.advance(timedelta(seconds=1))
    world.receiver.answer(200)
    delivered = [world.record() for _ in range(3)]
    world.dispatcher().run_once()  # delivered (the retries are not due yet)
    world.clock.advance(EVENT_RETENTION + timedelta(days=1))
    env = world.env()
    purger = EventPurger(env, batch=2)
    assert [purger.run_once() for _ in range(3)] == [2, 0, 0]
    assert all(env.events.get(world.project, e) is None for e in delivered)
    assert all(env.events.get(world.project, e) is not None for e in retrying)
