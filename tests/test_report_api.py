"""``GET /v1/scans/{id}/report`` through a real server: access, links, errors, the document.

The platform runs on a :class:`FrozenClock`, so a sandbox scan completes when
the test moves the clock past 10 s, and report links expire when it moves
past their lifetime.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from tests.openapi_check import validate
from tests.support import SCAN_BODY as BODY
from tests.support import Api, ServerThread, data, key_of, new_platform, running
from tests.support import error as envelope_error
from wattbridge.clock import FrozenClock
from wattbridge.drivers.base import EnvironmentName
from wattbridge.platform import Platform
from wattbridge.reports.links import LINK_TTL
from wattbridge.services.solver_queue import SolverQueue

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)



@attrs.frozen
class Setup:
    """A served platform on a frozen clock, with clients of two projects."""

    platform: Platform
    clock: FrozenClock
    server: ServerThread
    sandbox: Api  # livecorp, sandbox key
    live: Api  # livecorp, live key
    other: Api  # another project's sandbox key
    document: dict[str, Any]

    def key(self, project: str, env: EnvironmentName) -> str:
        """A fresh key."""
        return key_of(self.platform, project, env)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    clock = FrozenClock(START)
    platform = new_platform(tmp_path / "data", clock=clock)
    platform.access.create_project("default")
    platform.access.create_project("livecorp", live_enabled=True)
    with running(platform) as server:
        keys = (("livecorp", "sandbox"), ("livecorp", "live"), ("default", "sandbox"))
        clients = [Api(server.url, key_of(platform, project, env)) for project, env in keys]
        document = httpx.get(f"{server.url}/openapi.json").json()
        yield Setup(platform, clock, server, *clients, document)
        for client in clients:
            client.close()
    platform.close()


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error envelope, after checking it is one (the report route also serves HTML)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return envelope_error(response, status, code)


def completed_scan(setup: Setup) -> str:
    scan_id: str = data(setup.sandbox.post("/v1/scans", json=BODY), 201)["id"]
    setup.clock.advance(11)
    return scan_id


def report_url(setup: Setup, api: Api, scan_id: str) -> str:
    response = api.get(f"/v1/scans/{scan_id}/result")
    validate(setup.document, "GET", "/v1/scans/{id}/result", 200, response.json())
    url: str = data(response, 200)["reportUrl"]
    return url


def test_the_report_of_a_completed_scan_opens_from_its_link(setup: Setup) -> None:
    scan_id = data(setup.sandbox.post("/v1/scans", json=BODY), 201)["id"]
    early = error(setup.sandbox.get(f"/v1/scans/{scan_id}/report"), 409, "SCAN_NOT_COMPLETED")
    assert early["meta"]["environment"] == "sandbox"
    validate(setup.document, "GET", "/v1/scans/{id}/report", 409, early)

    setup.clock.advance(11)
    result = data(setup.sandbox.get(f"/v1/scans/{scan_id}/result"), 200)
    url = result["reportUrl"]
    assert url.startswith(f"{setup.server.url}/v1/scans/{scan_id}/report?token=")
    assert "sk_" not in url and "zs_" not in url

    page = httpx.get(url)  # no API key: the link is the credential
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "private, no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["request-id"].startswith("req_")
    pv = result["recommendation"]["newPv"]
    assert f"Install {pv['panelCount']} solar panels" in page.text
    assert scan_id in page.text and "Example report." in page.text

    with_key = setup.sandbox.get(f"/v1/scans/{scan_id}/report")  # a header key works too
    assert with_key.status_code == 200 and with_key.text == page.text


def test_reports_are_scoped_to_their_project_and_environment(setup: Setup) -> None:
    scan_id = completed_scan(setup)
    url = report_url(setup, setup.sandbox, scan_id)
    for api in (setup.other, setup.live):
        body = error(api.get(f"/v1/scans/{scan_id}/report"), 404, "NOT_FOUND")
        validate(setup.document, "GET", "/v1/scans/{id}/report", 404, body)
    error(setup.sandbox.get("/v1/scans/scan_doesnotexist/report"), 404, "NOT_FOUND")
    # A link opens the scan it was made for, nothing else.
    other_scan = completed_scan(setup)
    moved = url.replace(scan_id, other_scan)
    assert error(httpx.get(moved), 401, "UNAUTHORIZED")["meta"]["environment"] is None


def test_links_expire_and_die_with_their_key(setup: Setup) -> None:
    scan_id = completed_scan(setup)
    url = report_url(setup, setup.sandbox, scan_id)
    setup.clock.advance(LINK_TTL)
    expired = error(httpx.get(url), 401, "UNAUTHORIZED")
    assert "expired" in expired["message"] and "reportUrl" in expired["message"]
    fresh = report_url(setup, setup.sandbox, scan_id)
    assert httpx.get(fresh).status_code == 200

    key = setup.key("livecorp", "sandbox")
    api = Api(setup.server.url, key)
    try:
        own = report_url(setup, api, scan_id)
        assert httpx.get(own).status_code == 200
        principal, _ = setup.platform.authenticate(key)
        setup.platform.access.revoke_key(principal.key_id)
        error(httpx.get(own), 401, "UNAUTHORIZED")
    finally:
        api.close()


def test_api_keys_in_the_query_string_stay_refused(setup: Setup) -> None:
    scan_id = completed_scan(setup)
    key = setup.key("livecorp", "sandbox")
    path = f"{setup.server.url}/v1/scans/{scan_id}/report"
    for params in ({"api_key": key}, {"key": key}, {"access_token": key}):
        body = error(httpx.get(path, params=params), 401, "UNAUTHORIZED")
        assert key not in str(body)
    body = error(httpx.get(path, params={"token": key}), 401, "UNAUTHORIZED")
    assert key not in str(body) and "not valid" in body["message"]
    url = report_url(setup, setup.sandbox, scan_id)
    error(httpx.get(url, params={"api_key": key}), 401, "UNAUTHORIZED")
    error(httpx.get(path), 401, "UNAUTHORIZED")


def test_a_failed_scan_has_no_report(setup: Setup) -> None:
    studio = {"inputMethod": "studio", "customProfileId": "cp_missing", "goal": "cost-savings",
              "location": {"lat": 52.09, "lon": 5.12}}
    scan_id = data(setup.live.post("/v1/scans", json=studio), 201)["id"]
    assert SolverQueue(setup.platform.environment("live")).run_once() == 1
    body = error(setup.live.get(f"/v1/scans/{scan_id}/report"), 409, "SCAN_NOT_COMPLETED")
    assert "failed" in body["message"] and body["meta"]["environment"] == "live"


@pytest.mark.slow
def test_a_live_report_shows_the_solver_typical_days(setup: Setup) -> None:
    scan_id = data(setup.live.post("/v1/scans", json=BODY), 201)["id"]
    assert SolverQueue(setup.platform.environment("live")).run_once() == 1
    url = report_url(setup, setup.live, scan_id)
    page = httpx.get(url)
    assert page.status_code == 200, page.text
    assert 'class="chart chart-day chart-summer"' in page.text
    assert 'class="chart chart-day chart-winter"' in page.text
    assert "Example report." not in page.text
    # Live access withdrawn: the project's live links stop working.
    project = setup.platform.access.project("livecorp")
    setup.platform.access.store.set_live_enabled(project.id, False)
    refused = error(httpx.get(url), 403, "LIVE_ACCESS_DISABLED")
    assert "live reports cannot be opened" in refused["message"]


def test_the_document_describes_an_html_answer_and_the_link_credential(setup: Setup) -> None:
    operation = setup.document["paths"]["/v1/scans/{id}/report"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/html"]
    assert {"reportToken": []} in operation["security"]
    assert {"bearer": []} in operation["security"]
    assert [p["name"] for p in operation["parameters"]] == ["id", "token"]
    for status in ("401", "403", "404", "409"):
        assert "application/json" in operation["responses"][status]["content"]
    scheme = setup.document["components"]["securitySchemes"]["reportToken"]
    assert (scheme["in"], scheme["name"]) == ("query", "token")
    result = setup.document["components"]["schemas"]["ScanResult"]
    assert "reportUrl" in result["required"]
