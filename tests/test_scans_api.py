"""The scan API through a real server: the sandbox timeline on the real clock, and bad input.

One test waits for a sandbox scan to complete (about 12 s) with the status
syncer running in its worker thread; every other test is fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.openapi_check import validate
from tests.support import SCAN_BODY as BODY
from tests.support import Api, ServerThread, data, error, key_of, scans_and_events
from wattbridge.platform import Platform
from wattbridge.services.scan_syncer import scan_workers
from wattbridge.workers import WorkerRunner

STUDIO_MESSAGE = (
    "Sandbox does not support studio scans. Remove customProfileId and set inputMethod to 'known'."
)


@pytest.fixture
def syncer(platform: Platform) -> Iterator[WorkerRunner]:
    """The sandbox scan workers, running in their threads as ``wattbridge serve`` runs them."""
    runner = WorkerRunner(scan_workers(platform.environment("sandbox")))
    runner.start()
    yield runner
    runner.stop()


@pytest.fixture
def document(server: ServerThread) -> dict[str, Any]:
    """The served OpenAPI document."""
    return dict(httpx.get(f"{server.url}/openapi.json").json())


def seconds_since(created_at: str) -> float:
    """Seconds from a response's ``createdAt`` to now, on the clock the server uses too."""
    return time.time() - datetime.fromisoformat(created_at).timestamp()


# --- the timeline on the real clock ------------------------------------------------------


@pytest.mark.slow
def test_sandbox_scan_goes_pending_processing_completed_on_the_real_clock(
    sandbox_api: Api, syncer: WorkerRunner, document: dict[str, Any]
) -> None:
    response = sandbox_api.post("/v1/scans", json=BODY)
    validate(document, "POST", "/v1/scans", 201, response.json())
    scan = data(response, 201)
    assert scan["status"] == "pending" and scan["cost"] is None
    assert scan["completedAt"] is None and scan["selfSufficiency"] is None
    scan_id, created_at = scan["id"], scan["createdAt"]
    order = {"pending": 0, "processing": 1, "completed": 2}

    seen: list[tuple[float, float, str]] = []  # (sent, received, status), seconds after creation
    completed_event_seen_at: float | None = None
    while completed_event_seen_at is None and seconds_since(created_at) < 16:
        sent = seconds_since(created_at)
        status = data(sandbox_api.get(f"/v1/scans/{scan_id}/status"), 200)
        result = sandbox_api.get(f"/v1/scans/{scan_id}/result")
        received = seconds_since(created_at)
        seen.append((sent, received, status["status"]))
        # The server's clock is this process's clock: a read's status is fixed by
        # when it happened, somewhere between sending and receiving.
        if received < 5:
            assert status["status"] == "pending", (sent, received)
        elif sent >= 5 and received < 10:
            assert status["status"] == "processing", (sent, received)
        elif sent >= 10:
            assert status["status"] == "completed", (sent, received)
        if result.status_code == 409:
            assert sent < 10, sent
            assert "completed" in error(result, 409, "SCAN_NOT_COMPLETED")["message"]
        else:
            assert received >= 10, received
            validate(document, "GET", "/v1/scans/{id}/result", 200, result.json())
            body = data(result, 200)
            assert body["scanId"] == scan_id
            assert body["metadata"] == {
                "source": "fixture",
                "fixtureId": "new-pv-battery/cost-savings",
            }
        # scan.completed is written by the status syncer (reads do not write): its
        # appearance shows the worker ran.
        completed = data(sandbox_api.get("/v1/events", params={"type": "scan.completed"}), 200)
        if completed["pagination"]["total"]:
            completed_event_seen_at = seconds_since(created_at)
        time.sleep(0.2)

    statuses = [s for _, _, s in seen]
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)  # never backwards
    assert {"pending", "processing", "completed"} <= set(statuses)
    # Written by a syncer pass at most one interval (2 s) after the 10 s step; the
    # extra second is slack for a busy test machine.
    assert completed_event_seen_at is not None and completed_event_seen_at <= 13.0

    read = sandbox_api.get(f"/v1/scans/{scan_id}")
    validate(document, "GET", "/v1/scans/{id}", 200, read.json())
    final = data(read, 200)
    assert final["status"] == "completed" and final["cost"] is None
    assert final["selfSufficiency"] is not None and final["completedAt"] == final["updatedAt"]
    events = data(sandbox_api.get("/v1/events"), 200)["items"]
    timeline = [(e["type"], e["data"]["status"], e["createdAt"]) for e in reversed(events)]
    assert [(t, s) for t, s, _ in timeline] == [
        ("scan.pending", "pending"),
        ("scan.processing", "processing"),
        ("scan.completed", "completed"),
    ]
    assert timeline[0][2] == created_at and timeline[2][2] == final["completedAt"]
    assert all(e["data"]["id"] == scan_id for e in events)


# --- reads, lists and isolation --------------------------------------------------------


def test_reads_lists_and_isolation(
    platform: Platform,
    server: ServerThread,
    sandbox_api: Api,
    live_api: Api,
    document: dict[str, Any],
) -> None:
    sandbox_ids = [data(sandbox_api.post("/v1/scans", json=BODY), 201)["id"] for _ in range(3)]
    live_response = live_api.post("/v1/scans", json=BODY)
    validate(document, "POST", "/v1/scans", 201, live_response.json())
    live_scan = data(live_response, 201)
    assert live_response.json()["meta"]["environment"] == "live"
    assert live_scan["status"] == "pending"

    # Newest first, page by page, only this environment's scans.
    listing = sandbox_api.get("/v1/scans", params={"page": 1, "limit": 2})
    validate(document, "GET", "/v1/scans", 200, listing.json())
    first = data(listing, 200)
    assert [s["id"] for s in first["items"]] == sandbox_ids[::-1][:2]
    assert {k: first[k] for k in ("total", "page", "limit", "totalPages")} == {
        "total": 3, "page": 1, "limit": 2, "totalPages": 2
    }
    second = data(sandbox_api.get("/v1/scans", params={"page": 2, "limit": 2}), 200)
    assert [s["id"] for s in second["items"]] == sandbox_ids[:1]
    beyond = data(sandbox_api.get("/v1/scans", params={"page": 9}), 200)
    assert beyond["items"] == [] and beyond["total"] == 3
    live_listing = data(live_api.get("/v1/scans"), 200)
    assert [s["id"] for s in live_listing["items"]] == [live_scan["id"]]
    assert live_scan["id"] not in {s["id"] for s in first["items"] + second["items"]}

    one = sandbox_api.get(f"/v1/scans/{sandbox_ids[0]}")
    validate(document, "GET", "/v1/scans/{id}", 200, one.json())
    status = sandbox_api.get(f"/v1/scans/{sandbox_ids[0]}/status")
    validate(document, "GET", "/v1/scans/{id}/status", 200, status.json())
    assert set(data(status, 200)) == {"id", "status", "updatedAt"}
    not_yet = sandbox_api.get(f"/v1/scans/{sandbox_ids[0]}/result")
    validate(document, "GET", "/v1/scans/{id}/result", 409, not_yet.json())
    assert sandbox_ids[0] in error(not_yet, 409, "SCAN_NOT_COMPLETED")["message"]

    # The other environment and another project see nothing: 404, as for an unknown id.
    other = Api(server.url, key_of(platform, "default", "sandbox"))
    try:
        for api, scan_id in [
            (live_api, sandbox_ids[0]),
            (sandbox_api, live_scan["id"]),
            (other, sandbox_ids[0]),
            (sandbox_api, "scan_doesnotexist0000000000"),
        ]:
            for suffix in ("", "/status", "/result"):
                response = api.get(f"/v1/scans/{scan_id}{suffix}")
                error(response, 404, "NOT_FOUND")
        validate(document, "GET", "/v1/scans/{id}", 404, response.json())
        assert data(other.get("/v1/scans"), 200)["total"] == 0
    finally:
        other.close()


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("page=0", "$.query.page"),
        ("page=-1", "$.query.page"),
        ("page=two", "$.query.page"),
        ("limit=0", "$.query.limit"),
        ("limit=101", "$.query.limit"),
        ("limit=1.5", "$.query.limit"),
    ],
)
def test_page_and_limit_out_of_range(
    sandbox_api: Api, document: dict[str, Any], query: str, path: str
) -> None:
    response = sandbox_api.get(f"/v1/scans?{query}")
    validate(document, "GET", "/v1/scans", 400, response.json())
    body = error(response, 400, "VALIDATION_FAILED")
    assert body["error"]["details"]["errors"][0]["path"] == path
    assert path in body["message"]


def test_load_profiles_and_sandbox_usage(sandbox_api: Api, document: dict[str, Any]) -> None:
    profiles = sandbox_api.get("/v1/load-profiles")
    validate(document, "GET", "/v1/load-profiles", 200, profiles.json())
    names = [p["name"] for p in data(profiles, 200)["items"]]
    assert names == ["standard", "coupleBothAtWork", "couple1home1work", "3kidsbothwork"]
    assert all(p["description"] for p in data(profiles, 200)["items"])

    for _ in range(2):
        data(sandbox_api.post("/v1/scans", json=BODY), 201)
    usage = sandbox_api.get("/v1/usage")
    validate(document, "GET", "/v1/usage", 200, usage.json())
    counted = data(usage, 200)
    assert counted["metered"] is False
    assert counted["scansThisMonth"] == 0 and counted["creditsUsed"] == 0
    assert counted["overage"] is False and counted["tierLimit"] is None


# --- bad input stores nothing ------------------------------------------------------------


def test_a_body_that_is_not_json_or_not_an_object(
    sandbox_api: Api, document: dict[str, Any]
) -> None:
    headers = {"Content-Type": "application/json"}
    for content in (b"{not json", b"", b"\xff\xfe{", b'{"inputMethod": "known",'):
        response = sandbox_api.post("/v1/scans", content=content, headers=headers)
        validate(document, "POST", "/v1/scans", 400, response.json())
        body = error(response, 400, "VALIDATION_FAILED")
        assert body["error"]["details"]["errors"][0]["path"] == "$"
        assert "JSON" in body["message"], body["message"]
    for value in ([BODY], "scan", 42, None, True):
        body = error(sandbox_api.post("/v1/scans", json=value), 400, "VALIDATION_FAILED")
        assert body["error"]["details"]["errors"][0]["path"] == "$"
        assert "object" in body["message"], body["message"]
    assert scans_and_events(sandbox_api) == (0, 0)


def test_validation_errors_name_every_field(sandbox_api: Api, document: dict[str, Any]) -> None:
    bad = {
        "inputMethod": "known",
        "goal": "cheapest",
        "location": {"lat": 91, "lon": 5.12, "alt": 3},
        "newPv": [],
        "electricBattery": {"minKwh": 15, "maxKwh": 5},
        "yearly_kwh": 3500,
    }
    response = sandbox_api.post("/v1/scans", json=bad)
    validate(document, "POST", "/v1/scans", 400, response.json())
    body = error(response, 400, "VALIDATION_FAILED")
    paths = {e["path"] for e in body["error"]["details"]["errors"]}
    assert {
        "$.yearlyKwh",
        "$.goal",
        "$.location.lat",
        "$.location.alt",
        "$.newPv",
        "$.yearly_kwh",
    } <= paths, paths
    assert any(p.startswith("$.electricBattery") for p in paths), paths
    assert all(e["message"] for e in body["error"]["details"]["errors"])
    assert body["message"].startswith(body["error"]["details"]["errors"][0]["path"])
    assert scans_and_events(sandbox_api) == (0, 0)


@pytest.mark.parametrize(
    "studio",
    [
        {"inputMethod": "studio", "customProfileId": "cp_1"},
        {"inputMethod": "studio"},
        {"customProfileId": "cp_1"},  # with inputMethod 'known'
        {"customProfileId": None, "goal": "cheapest", "location": "Utrecht"},  # wins over these
    ],
)
def test_sandbox_refuses_studio_scans_with_the_exact_message(
    sandbox_api: Api, document: dict[str, Any], studio: dict[str, Any]
) -> None:
    response = sandbox_api.post("/v1/scans", json={**BODY, **studio})
    validate(document, "POST", "/v1/scans", 400, response.json())
    body = error(response, 400, "SANDBOX_STUDIO_UNSUPPORTED")
    assert body["message"] == STUDIO_MESSAGE
    assert response.json()["meta"]["environment"] == "sandbox"
    assert scans_and_events(sandbox_api) == (0, 0)


def test_live_validates_studio_scans_instead(live_api: Api) -> None:
    body = error(live_api.post("/v1/scans", json={**BODY, "customProfileId": "cp_1"}), 400,
                 "VALIDATION_FAILED")
    assert "$.customProfileId" in {e["path"] for e in body["error"]["details"]["errors"]}
    assert scans_and_events(live_api) == (0, 0)


# --- Idempotency-Key ------------------------------------------------------------------------


def test_idempotency_key_replays_and_refuses_another_body(
    sandbox_api: Api, document: dict[str, Any]
) -> None:
    key = {"Idempotency-Key": "create-scan-0001"}
    first = sandbox_api.post("/v1/scans", json=BODY, headers=key)
    scan = data(first, 201)
    assert "Idempotent-Replayed" not in first.headers
    replay = sandbox_api.post("/v1/scans", json=BODY, headers=key)
    validate(document, "POST", "/v1/scans", 201, replay.json())
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()  # the stored response, request id included
    assert replay.headers["Request-Id"] == first.headers["Request-Id"]

    reused = sandbox_api.post("/v1/scans", json={**BODY, "goal": "self-sufficiency"}, headers=key)
    validate(document, "POST", "/v1/scans", 422, reused.json())
    assert "different request body" in error(reused, 422, "IDEMPOTENCY_KEY_REUSED")["message"]
    # One scan, one scan.pending event.
    listing = data(sandbox_api.get("/v1/scans"), 200)
    assert [s["id"] for s in listing["items"]] == [scan["id"]]
    assert scans_and_events(sandbox_api) == (1, 1)

    # The same key on another path or in the other scope is a different key.
    other = data(sandbox_api.post("/v1/scans", json=BODY, headers={"Idempotency-Key": "k2"}), 201)
    assert other["id"] != scan["id"]


def test_a_rejected_request_does_not_use_up_its_idempotency_key(sandbox_api: Api) -> None:
    key = {"Idempotency-Key": "fix-and-retry"}
    error(sandbox_api.post("/v1/scans", json={**BODY, "yearlyKwh": "lots"}, headers=key), 400,
          "VALIDATION_FAILED")
    error(sandbox_api.post("/v1/scans", json={**BODY, "customProfileId": "cp"}, headers=key), 400,
          "SANDBOX_STUDIO_UNSUPPORTED")
    error(sandbox_api.post("/v1/scans", content=b"{", headers=key), 400, "VALIDATION_FAILED")
    assert scans_and_events(sandbox_api) == (0, 0)
    # Not stored: the corrected body goes through with the same key.
    fixed = sandbox_api.post("/v1/scans", json=BODY, headers=key)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    too_long = sandbox_api.post("/v1/scans", json=BODY, headers={"Idempotency-Key": "k" * 256})
    assert "Idempotency-Key" in error(too_long, 400, "VALIDATION_FAILED")["message"]
    assert scans_and_events(sandbox_api) == (1, 1)
