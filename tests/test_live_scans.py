"""Live scans through a real server: the highs solver run by the solver queue worker.

The workers run in their threads exactly as ``wattbridge serve`` runs them
(:func:`~wattbridge.workers.workers_for` and a :class:`WorkerRunner`); each test
polls the API until the scan has finished. A full-year solve takes about a
second; crash safety (a dead worker's claim) is tested at service level in
tests/test_scan_lifecycle.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.openapi_check import validate
from tests.support import Api, new_platform, running
from wattbridge.platform import Platform
from wattbridge.workers import WorkerRunner, workers_for

pytestmark = pytest.mark.slow

BODY: dict[str, Any] = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "goal": "cost-savings",
    "location": {"lat": 52.09, "lon": 5.12},
    "existingPv": [{"kWp": 2.0, "tilt": 35, "azimuth": 180}],
    "newPv": [{"maxPanelCount": 12, "tilt": 35, "azimuth": 180}],
    "electricBattery": {"minKwh": 0, "maxKwh": 10},
    "export": {"allowed": True},
}
ORDER = {"pending": 0, "processing": 1, "completed": 2, "error": 2}
WAIT_S = 90.0  # far above a solve (about 1 s): a slow CI machine must not fail the test


class Live:
    """A served platform with its workers running, and a client holding a live key."""

    def __init__(self, platform: Platform, api: Api, document: dict[str, Any]) -> None:
        self.platform = platform
        self.api = api
        self.document = document

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST a scan; it is accepted as pending."""
        response = self.api.post("/v1/scans", json=body)
        validate(self.document, "POST", "/v1/scans", 201, response.json())
        assert response.status_code == 201, response.text
        scan: dict[str, Any] = response.json()["data"]
        assert scan["status"] == "pending"
        return scan

    def wait(self, scan_id: str) -> tuple[dict[str, Any], list[str]]:
        """Poll until the scan has finished; answer it and the statuses seen on the way."""
        seen: list[str] = []
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            status = self.api.get(f"/v1/scans/{scan_id}/status").json()["data"]["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in ("completed", "error"):
                response = self.api.get(f"/v1/scans/{scan_id}")
                validate(self.document, "GET", "/v1/scans/{id}", 200, response.json())
                return response.json()["data"], seen
            time.sleep(0.05)
        raise AssertionError(f"scan {scan_id} still {seen[-1]!r} after {WAIT_S:g} s")

    def event_types(self, scan_id: str) -> list[str]:
        """The scan's events, oldest first."""
        items = self.api.get("/v1/events", params={"limit": 100}).json()["data"]["items"]
        return [e["type"] for e in reversed(items) if e["data"]["id"] == scan_id]


def _live(tmp_path: Path, **config: Any) -> Iterator[Live]:
    platform = new_platform(tmp_path / "data", **config)
    project = platform.access.create_project("livecorp", live_enabled=True)
    key = platform.access.issue_key(project.id, "live").plaintext
    runner = WorkerRunner(workers_for(platform))
    try:
        with running(platform) as server:
            runner.start()
            api = Api(server.url, key)
            document = dict(httpx.get(f"{server.url}/openapi.json").json())
            try:
                yield Live(platform, api, document)
            finally:
                api.close()
                runner.stop()
    finally:
        platform.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """The platform with the default time limit (60 s)."""
    yield from _live(tmp_path)


@pytest.fixture
def hurried(tmp_path: Path) -> Iterator[Live]:
    """The platform with a live time limit no full-year solve can meet."""
    yield from _live(tmp_path, **{"live.solve_time_limit": "5ms"})


def test_a_live_scan_is_solved_by_the_worker(live: Live) -> None:
    scan = live.create(BODY)
    final, seen = live.wait(scan["id"])
    assert final["status"] == "completed" and final["hasError"] is False, final
    assert [ORDER[s] for s in seen] == sorted(ORDER[s] for s in seen), seen
    assert live.event_types(scan["id"]) == ["scan.pending", "scan.processing", "scan.completed"]

    response = live.api.get(f"/v1/scans/{scan['id']}/result")
    validate(live.document, "GET", "/v1/scans/{id}/result", 200, response.json())
    result = response.json()["data"]
    metadata = result["metadata"]
    assert metadata["source"] == "solver" and metadata["solver"] == "highs", metadata
    assert metadata["status"] == "optimal" and 0 < metadata["solveSeconds"] < WAIT_S
    energy = result["energy"]
    assert energy["selfConsumedKwh"] + energy["gridImportKwh"] == pytest.approx(
        energy["consumptionKwh"], abs=0.2
    )
    assert 1 <= result["recommendation"]["newPv"]["panelCount"] <= 12


def test_valid_input_the_solver_cannot_solve_ends_in_error(live: Live) -> None:
    # Valid for the API (each price within its range), but a feed-in price above
    # the import price has no bounded optimum: the scan fails with a fix-it message.
    body = {**BODY, "tariff": {"importPrice": 0.10, "exportPrice": 0.20}}
    scan = live.create(body)
    final, _ = live.wait(scan["id"])
    assert final["status"] == "error" and final["hasError"] is True, final
    assert "tariff.exportPrice" in final["errorMessage"], final
    assert live.event_types(scan["id"]) == ["scan.pending", "scan.processing", "scan.failed"]
    result = live.api.get(f"/v1/scans/{scan['id']}/result")
    assert result.status_code == 409, result.text
    # The queue is not stuck: the next scan is solved.
    after, _ = live.wait(live.create(BODY)["id"])
    assert after["status"] == "completed"


def test_the_time_limit_ends_a_scan_in_error(hurried: Live) -> None:
    scan = hurried.create(BODY)
    final, _ = hurried.wait(scan["id"])
    assert final["status"] == "error" and final["hasError"] is True, final
    message = final["errorMessage"]
    assert message.startswith("time limit of 0.005 s reached"), message
    assert "capacityKwh" in message  # says what to change
    assert hurried.event_types(scan["id"])[-1] == "scan.failed"
