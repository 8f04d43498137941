"""The webhook endpoint and event API, black-box through a real server on loopback.

The server runs the platform's own webhook dispatchers (as ``wattbridge serve``
does) and delivers to a real receiver on loopback; every answer is checked
against the served OpenAPI document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.openapi_check import validate
from tests.support import Api, ServerThread, new_platform, running
from tests.webhook_receiver import Received, Receiver, json_of, receiving
from wattbridge.clock import isoformat
from wattbridge.platform import Platform
from wattbridge.services.dispatcher import WebhookDispatcher
from wattbridge.services.events import EVENT_TYPES
from wattbridge.webhooks.signing import InvalidSignature, verify
from wattbridge.workers import WorkerRunner

ENDPOINTS = "/v1/webhook-endpoints"
ONE = ENDPOINTS + "/{id}"
PUBLIC_URL = "https://93.184.216.34/hooks"  # numeric and global: no DNS lookup needed


class Client:
    """A key's view of the API: requests that check status and the documented shape."""

    def __init__(self, base_url: str, key: str, document: dict[str, Any]) -> None:
        self.api = Api(base_url, key)
        self.document = document

    def call(
        self, method: str, template: str, status: int, *, id: str = "", **kwargs: Any
    ) -> Any:
        """Send, assert ``status``, validate against the document, return the body."""
        response = self.api.request(method, template.replace("{id}", id), **kwargs)
        assert response.status_code == status, response.text
        body = response.json()
        validate(self.document, method, template, status, body)
        return body

    def ok(self, method: str, template: str, status: int = 200, **kwargs: Any) -> Any:
        """The ``data`` of a successful call."""
        return self.call(method, template, status, **kwargs)["data"]

    def refused(
        self, method: str, template: str, status: int = 400, **kwargs: Any
    ) -> dict[str, Any]:
        """The error of a refused call, checked to be a well-formed error envelope."""
        body = self.call(method, template, status, **kwargs)
        assert body["success"] is False and body["statusCode"] == status
        assert "Traceback" not in body["message"]
        error: dict[str, Any] = body["error"]
        return error


class World:
    """A served platform with running dispatchers, a receiver, and a key per environment."""

    def __init__(self, platform: Platform, server: ServerThread, receiver: Receiver) -> None:
        self.platform = platform
        self.receiver = receiver
        document = httpx.get(f"{server.url}/openapi.json").json()
        project = platform.access.create_project("acme", live_enabled=True).id
        self.sandbox = Client(
            server.url, platform.access.issue_key(project, "sandbox").plaintext, document
        )
        live_key = platform.access.issue_key(project, "live").plaintext
        self.live = Client(server.url, live_key, document)

    def create(self, client: Client | None = None, **body: Any) -> dict[str, Any]:
        """Register an endpoint (the receiver's URL unless told otherwise)."""
        client = client or self.sandbox
        created: dict[str, Any] = client.ok(
            "POST", ENDPOINTS, 201, json={"url": self.receiver.url, **body}
        )
        return created

    def wait_for(self, predicate: Callable[[list[Received]], bool], seconds: float = 10) -> None:
        """Poll the receiver until ``predicate`` holds for what it received."""
        deadline = time.monotonic() + seconds
        while not predicate(list(self.receiver.received)):
            assert time.monotonic() < deadline, f"not received in time: {self.receiver.received}"
            time.sleep(0.02)

    def wait_for_log(
        self, endpoint_id: str, predicate: Callable[[list[dict[str, Any]]], bool]
    ) -> list[dict[str, Any]]:
        """Poll the endpoint's delivery log until ``predicate`` holds."""
        deadline = time.monotonic() + 10
        while True:
            items: list[dict[str, Any]] = self.sandbox.ok(
                "GET", ONE + "/deliveries", id=endpoint_id
            )["items"]
            if predicate(items):
                return items
            assert time.monotonic() < deadline, f"delivery log never matched: {items}"
            time.sleep(0.05)


@contextmanager
def served(data_dir: Path, **config: Any) -> Iterator[World]:
    """A served platform whose sandbox may target loopback and sends action events at once.

    Only environments that allow private targets get a running dispatcher: this
    machine must never send a delivery to a public address.
    """
    settings = {"sandbox.private_webhook_targets": True, "sandbox.webhook_delay": "0s", **config}
    platform = new_platform(data_dir, **settings)
    dispatchers = [
        WebhookDispatcher(platform.environment(name), interval=0.02)
        for name in ("sandbox", "live")
        if settings.get(f"{name}.private_webhook_targets")
    ]
    runner = WorkerRunner(dispatchers)
    runner.start()
    try:
        with receiving() as receiver, running(platform) as server:
            yield World(platform, server, receiver)
    finally:
        runner.stop()
        for dispatcher in dispatchers:
            dispatcher.close()
        platform.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with served(tmp_path / "data") as created:
        yield created


# -- the endpoint resource ---------------------------------------------------


def test_create_shows_the_secret_once(world: World) -> None:
    created = world.create(events=["scan.completed", "webhook.test"], description="orders app")
    assert created["id"].startswith("we_")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["events"] == ["scan.completed", "webhook.test"]
    assert created["description"] == "orders app"
    assert created["enabled"] is True and created["disabledReason"] is None
    fetched = world.sandbox.ok("GET", ONE, id=created["id"])
    listed = world.sandbox.ok("GET", ENDPOINTS)
    assert "secret" not in fetched
    assert all("secret" not in item for item in listed["items"])
    assert fetched == {k: v for k, v in created.items() if k != "secret"}
    assert listed["items"] == [fetched] and listed["pagination"]["total"] == 1


def test_list_pages_oldest_first(world: World) -> None:
    ids = [world.create(description=f"n{i}")["id"] for i in range(3)]
    page = world.sandbox.ok("GET", ENDPOINTS, params={"limit": 2})
    assert [e["id"] for e in page["items"]] == ids[:2]
    assert page["pagination"] == {"limit": 2, "offset": 0, "total": 3, "hasMore": True}
    rest = world.sandbox.ok("GET", ENDPOINTS, params={"limit": 2, "offset": 2})
    assert [e["id"] for e in rest["items"]] == ids[2:]
    assert rest["pagination"]["hasMore"] is False
    world.sandbox.refused("GET", ENDPOINTS, params={"limit": 0})


def test_patch_changes_only_what_is_sent(world: World) -> None:
    created = world.create()
    other_url = world.receiver.url.replace("/hook", "/other")
    patched = world.sandbox.ok(
        "PATCH", ONE, id=created["id"], json={"url": other_url, "events": ["scan.failed"]}
    )
    assert patched["url"] == other_url and patched["events"] == ["scan.failed"]
    assert patched["description"] is None and patched["enabled"] is True
    unchanged = world.sandbox.ok("PATCH", ONE, id=created["id"], json={"description": None})
    assert unchanged["events"] == ["scan.failed"]  # absent: kept
    everything = world.sandbox.ok("PATCH", ONE, id=created["id"], json={"events": ["*"]})
    assert everything["events"] is None  # every type again
    world.sandbox.ok("PATCH", ONE, id=created["id"], json={"events": ["scan.failed"]})
    described = world.sandbox.ok("PATCH", ONE, id=created["id"], json={"description": "x"})
    assert described["url"] == other_url and described["description"] == "x"
    disabled = world.sandbox.ok("PATCH", ONE, id=created["id"], json={"enabled": False})
    assert disabled["enabled"] is False and disabled["disabledReason"]
    assert world.sandbox.ok("GET", ONE, id=created["id"])["enabled"] is False
    enabled = world.sandbox.ok("PATCH", ONE, id=created["id"], json={"enabled": True})
    assert enabled["enabled"] is True and enabled["disabledReason"] is None
    cleared = world.sandbox.ok("PATCH", ONE, id=created["id"], json={"description": ""})
    assert cleared["description"] is None


def test_delete_removes_the_endpoint(world: World) -> None:
    created = world.create()
    deleted = world.sandbox.ok("DELETE", ONE, id=created["id"])
    assert deleted == {"id": created["id"], "deleted": True}
    world.sandbox.refused("GET", ONE, 404, id=created["id"])
    world.sandbox.refused("DELETE", ONE, 404, id=created["id"])
    assert world.sandbox.ok("GET", ENDPOINTS)["pagination"]["total"] == 0


# -- deliveries through the API ----------------------------------------------


def test_test_event_is_delivered_signed_and_logged(world: World) -> None:
    standardwebhooks = pytest.importorskip("standardwebhooks.webhooks")
    created = world.create()
    world.receiver.answer(200, body=b"x" * 5000)
    sent = world.sandbox.ok("POST", ONE + "/test", 202, id=created["id"])
    assert sent["event"]["type"] == "webhook.test" and sent["webhookId"].startswith("msg_")
    world.wait_for(lambda got: len(got) == 1)
    [item] = world.receiver.received
    assert item.webhook_id == sent["webhookId"]
    assert json_of(item) == sent["event"]
    event = standardwebhooks.Webhook(created["secret"]).verify(item.body, item.headers)
    assert event["data"]["endpointId"] == created["id"]
    [entry] = world.wait_for_log(created["id"], lambda log: log[0]["status"] != "pending")
    assert entry["status"] == "succeeded" and entry["statusCode"] == 200
    assert entry["webhookId"] == sent["webhookId"] and entry["eventId"] == sent["event"]["id"]
    assert entry["eventType"] == "webhook.test" and entry["durationMs"] >= 0
    assert entry["responseBody"] == "x" * 1024  # the start of the answer, at most 1 KB
    assert entry["attemptedAt"] and entry["nextAttemptAt"] is None


def test_test_event_on_a_disabled_endpoint_is_a_conflict(world: World) -> None:
    created = world.create()
    world.sandbox.ok("PATCH", ONE, id=created["id"], json={"enabled": False})
    error = world.sandbox.refused("POST", ONE + "/test", 409, id=created["id"])
    assert error["code"] == "CONFLICT" and "enabled" in error["message"]


def test_rotation_signs_with_both_secrets_during_the_overlap(world: World) -> None:
    created = world.create()
    rotated = world.sandbox.ok(
        "POST", ONE + "/rotate-secret", id=created["id"], json={"expiresIn": 3600}
    )
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    expires = datetime.fromisoformat(rotated["previousSecretExpiresAt"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(seconds=30)
    assert "secret" not in world.sandbox.ok("GET", ONE, id=created["id"])
    world.sandbox.ok("POST", ONE + "/test", 202, id=created["id"])
    world.wait_for(lambda got: len(got) == 1)
    item = world.receiver.received[0]
    assert len(item.headers["webhook-signature"].split()) == 2
    for secret in (created["secret"], rotated["secret"]):
        verify(secret, item.headers, item.body, time.time())
    # Rotating again with no overlap: only the newest secret signs from now on.
    newest = world.sandbox.ok(
        "POST", ONE + "/rotate-secret", id=created["id"], json={"expiresIn": 0}
    )
    assert newest["previousSecretExpiresAt"] is None
    world.sandbox.ok("POST", ONE + "/test", 202, id=created["id"])
    world.wait_for(lambda got: len(got) == 2)
    second = world.receiver.received[1]
    assert len(second.headers["webhook-signature"].split()) == 1
    verify(newest["secret"], second.headers, second.body, time.time())
    for old in (created["secret"], rotated["secret"]):
        with pytest.raises(InvalidSignature):
            verify(old, second.headers, second.body, time.time())


def test_rotation_without_a_body_keeps_the_old_secret_for_a_day(world: World) -> None:
    created = world.create()
    rotated = world.sandbox.ok("POST", ONE + "/rotate-secret", id=created["id"])
    expires = datetime.fromisoformat(rotated["previousSecretExpiresAt"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(days=1))) < timedelta(seconds=30)


def test_recover_requeues_a_given_up_delivery(world: World) -> None:
    created = world.create()
    world.receiver.answer(410)
    world.sandbox.ok("POST", ONE + "/test", 202, id=created["id"])
    world.wait_for_log(created["id"], lambda log: log[0]["status"] == "failed")
    endpoint = world.sandbox.ok("GET", ONE, id=created["id"])
    assert endpoint["enabled"] is False and "410" in endpoint["disabledReason"]
    since = {"since": isoformat(datetime.now(UTC) - timedelta(minutes=5))}
    error = world.sandbox.refused("POST", ONE + "/recover", 409, id=created["id"], json=since)
    assert "enable" in error["message"]
    world.receiver.answer(200)
    world.sandbox.ok("PATCH", ONE, id=created["id"], json={"enabled": True})
    recovered = world.sandbox.ok("POST", ONE + "/recover", 202, id=created["id"], json=since)
    assert recovered["recovered"] == 1
    world.wait_for(lambda got: len(got) == 2)
    first, second = world.receiver.received
    assert first.webhook_id == second.webhook_id
    log = world.wait_for_log(created["id"], lambda log: log[0]["status"] == "succeeded")
    assert [(e["attempt"], e["status"]) for e in log] == [(2, "succeeded"), (1, "failed")]


def test_recover_since_must_be_within_fourteen_days(world: World) -> None:
    created = world.create()
    now = datetime.now(UTC)
    for since, words in (
        (now - timedelta(days=14, minutes=1), "14 days"),
        (now + timedelta(hours=1), "future"),
    ):
        error = world.sandbox.refused(
            "POST", ONE + "/recover", id=created["id"], json={"since": isoformat(since)}
        )
        assert error["details"]["errors"][0]["path"] == "$.since" and words in error["message"]
    for body in ({}, {"since": "yesterday"}):
        error = world.sandbox.refused("POST", ONE + "/recover", id=created["id"], json=body)
        assert "since" in error["message"]
    fine = {"since": isoformat(now - timedelta(days=13))}
    assert world.sandbox.ok("POST", ONE + "/recover", 202, id=created["id"], json=fine) == {
        "recovered": 0,
        "since": fine["since"],
    }


# -- events -------------------------------------------------------------------


def test_events_list_and_get(world: World) -> None:
    created = world.create()
    first = world.sandbox.ok("POST", ONE + "/test", 202, id=created["id"])["event"]
    second = world.sandbox.ok("POST", ONE + "/test", 202, id=created["id"])["event"]
    listed = world.sandbox.ok("GET", "/v1/events", params={"type": "webhook.test"})
    assert [e["id"] for e in listed["items"]] == [second["id"], first["id"]]  # newest first
    assert world.sandbox.ok("GET", "/v1/events/{id}", id=first["id"]) == first
    assert first["environment"] == "sandbox"
    assert set(first) == {"id", "type", "createdAt", "environment", "data"}
    world.live.refused("GET", "/v1/events/{id}", 404, id=first["id"])
    assert world.live.ok("GET", "/v1/events")["pagination"]["total"] == 0
    error = world.sandbox.refused("GET", "/v1/events", params={"type": "scan.done"})
    assert "scan.completed" in error["message"]


# -- environment isolation ------------------------------------------------------


def test_another_environments_endpoint_is_not_found(world: World) -> None:
    sandbox = world.create()
    missing = {"id": sandbox["id"]}
    since = {"since": isoformat(datetime.now(UTC) - timedelta(hours=1))}
    for method, template, kwargs in (
        ("GET", ONE, {}),
        ("PATCH", ONE, {"json": {"description": "mine now"}}),
        ("DELETE", ONE, {}),
        ("POST", ONE + "/rotate-secret", {"json": {}}),
        ("POST", ONE + "/test", {}),
        ("GET", ONE + "/deliveries", {}),
        ("POST", ONE + "/recover", {"json": since}),
    ):
        error = world.live.refused(method, template, 404, **missing, **kwargs)
        assert error["code"] == "NOT_FOUND", (method, template)
    assert world.live.ok("GET", ENDPOINTS)["items"] == []
    assert world.sandbox.ok("GET", ONE, id=sandbox["id"]) == {
        k: v for k, v in sandbox.items() if k != "secret"
    }


def test_each_environment_delivers_only_its_own_events(tmp_path: Path) -> None:
    with served(tmp_path / "data", **{"live.private_webhook_targets": True}) as world:
        sandbox = world.create()
        live = world.create(world.live)  # the same URL
        sandbox_test = world.sandbox.ok("POST", ONE + "/test", 202, id=sandbox["id"])
        live_test = world.live.ok("POST", ONE + "/test", 202, id=live["id"])
        world.wait_for(lambda got: len(got) == 2)
        by_env = {json_of(item)["environment"]: item for item in world.receiver.received}
        assert json_of(by_env["sandbox"])["id"] == sandbox_test["event"]["id"]
        assert json_of(by_env["live"])["id"] == live_test["event"]["id"]
        verify(sandbox["secret"], by_env["sandbox"].headers, by_env["sandbox"].body, time.time())
        verify(live["secret"], by_env["live"].headers, by_env["live"].body, time.time())
        with pytest.raises(InvalidSignature):
            verify(live["secret"], by_env["sandbox"].headers, by_env["sandbox"].body, time.time())
        assert world.sandbox.ok("GET", "/v1/events")["items"] == [sandbox_test["event"]]
        assert world.live.ok("GET", "/v1/events")["items"] == [live_test["event"]]


# -- bad input ----------------------------------------------------------------

SSRF_SPELLINGS = [
    ("http://127.1/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),
    ("http://0x7f000001/hook", "loopback"),
    # Octal: 127.0.0.1 to inet_aton; the URL parser the transport uses refuses it outright.
    ("http://0177.0.0.1/hook", "Invalid IPv4 address"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://100.64.0.1/hook", "carrier-grade NAT"),
    ("http://[fd00::1]/hook", "private"),
    ("http://localhost:8000/hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://[::1]/hook", "loopback"),
    ("http://10.0.0.1/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
]


@pytest.mark.parametrize(("url", "reason"), SSRF_SPELLINGS)
def test_live_refuses_every_private_spelling(world: World, url: str, reason: str) -> None:
    error = world.live.refused("POST", ENDPOINTS, json={"url": url})
    assert error["code"] == "VALIDATION_FAILED"
    [problem] = error["details"]["errors"]
    assert problem["path"] == "$.url"
    assert reason in problem["message"]
    assert url in error["message"]
    # The same URL is refused as a change too, and nothing is stored either way.
    endpoint = world.create(world.live, url=PUBLIC_URL)
    world.live.refused("PATCH", ONE, id=endpoint["id"], json={"url": url})
    listed = world.live.ok("GET", ENDPOINTS)
    assert [e["url"] for e in listed["items"]] == [PUBLIC_URL]


def test_sandbox_without_private_targets_refuses_them_too(tmp_path: Path) -> None:
    platform = new_platform(tmp_path / "strict")
    try:
        project = platform.access.create_project("p").id
        with running(platform) as server:
            api = Api(server.url, platform.access.issue_key(project, "sandbox").plaintext)
            response = api.post(ENDPOINTS, json={"url": "http://127.1/hook"})
            assert response.status_code == 400 and "loopback" in response.json()["message"]
            api.close()
    finally:
        platform.close()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.216.34/hook", "https:// or http://"),
        ("file:///etc/passwd", "https:// or http://"),
        ("93.184.216.34/hook", "https:// or http://"),
        ("https://93.184.216.34/" + "a" * 2050, "longer than 2048"),
        ("https://user:secret@93.184.216.34/hook", "credentials"),
        ("https://token@93.184.216.34/hook", "credentials"),
        ("https:///hook", "host"),
    ],
)
def test_malformed_urls_are_refused(world: World, url: str, reason: str) -> None:
    error = world.sandbox.refused("POST", ENDPOINTS, json={"url": url})
    [problem] = error["details"]["errors"]
    assert problem["path"] == "$.url" and reason in problem["message"]
    assert "secret@" not in error["message"]  # a password in the URL is not echoed
    assert world.sandbox.ok("GET", ENDPOINTS)["pagination"]["total"] == 0


def test_unknown_event_types_are_refused_with_the_valid_ones(world: World) -> None:
    error = world.sandbox.refused(
        "POST", ENDPOINTS, json={"url": world.receiver.url, "events": ["scan.done", "scan.failed"]}
    )
    [problem] = error["details"]["errors"]
    assert problem["path"] == "$.events[0]" and "'scan.done'" in problem["message"]
    assert all(name in problem["message"] for name in EVENT_TYPES)
    created = world.create(events=["scan.failed"])
    world.sandbox.refused("PATCH", ONE, id=created["id"], json={"events": ["device.linked"]})
    world.sandbox.refused("POST", ENDPOINTS, json={"url": world.receiver.url, "events": []})
    mixed = world.sandbox.refused(
        "POST", ENDPOINTS, json={"url": world.receiver.url, "events": ["*", "scan.failed"]}
    )
    assert mixed["details"]["errors"][0]["path"] == "$.events[0]"
    assert world.sandbox.ok("GET", ONE, id=created["id"])["events"] == ["scan.failed"]
    assert world.sandbox.ok("GET", ENDPOINTS)["pagination"]["total"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": 42},
        {"url": "https://93.184.216.34/", "colour": "blue"},
        {"url": "https://93.184.216.34/", "description": "d" * 501},
    ],
)
def test_malformed_bodies_are_refused(world: World, body: dict[str, Any]) -> None:
    error = world.sandbox.refused("POST", ENDPOINTS, json=body)
    assert error["code"] == "VALIDATION_FAILED" and error["details"]["errors"]
    assert world.sandbox.ok("GET", ENDPOINTS)["pagination"]["total"] == 0


@pytest.mark.parametrize("expires_in", [-1, 7 * 86400 + 1, "soon"])
def test_rotation_overlap_must_be_zero_to_seven_days(world: World, expires_in: Any) -> None:
    created = world.create()
    error = world.sandbox.refused(
        "POST", ONE + "/rotate-secret", id=created["id"], json={"expiresIn": expires_in}
    )
    assert error["details"]["errors"][0]["path"] == "$.expiresIn"
    # The secret was not changed: a delivery is still signed by the original alone.
    world.sandbox.ok("POST", ONE + "/test", 202, id=created["id"])
    world.wait_for(lambda got: len(got) == 1)
    item = world.receiver.received[0]
    assert len(item.headers["webhook-signature"].split()) == 1
    verify(created["secret"], item.headers, item.body, time.time())


def test_unknown_ids_are_not_found(world: World) -> None:
    error = world.sandbox.refused("GET", ONE, 404, id="we_doesnotexist")
    assert "we_doesnotexist" in error["message"]
    world.sandbox.refused("GET", "/v1/events/{id}", 404, id="evt_doesnotexist")
