"""The API's core behaviour through a real uvicorn server on loopback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Api, ServerThread, key_of
from wattbridge import keys
from wattbridge.platform import Platform


def body_without_meta(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    body.pop("meta")
    return dict(body)


def test_me_reports_the_environment_of_the_key(sandbox_api: Api, live_api: Api) -> None:
    sandbox = sandbox_api.get("/v1/me").json()
    live = live_api.get("/v1/me").json()
    assert sandbox["meta"]["environment"] == "sandbox" == sandbox["data"]["environment"]
    assert live["meta"]["environment"] == "live" == live["data"]["environment"]
    assert sandbox["data"]["project"] == live["data"]["project"]
    assert sandbox["data"]["keyId"].startswith("key_")


def test_envelope_meta_and_request_id_header(sandbox_api: Api) -> None:
    response = sandbox_api.get("/v1/me")
    body = response.json()
    assert body["success"] is True
    meta = body["meta"]
    assert response.headers["Request-Id"] == meta["requestId"]
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", meta["requestId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", meta["timestamp"])
    assert isinstance(meta["latencyMs"], int) and meta["latencyMs"] >= 0


def test_x_api_key_header_works(platform: Platform, server: ServerThread) -> None:
    key = platform.access.issue_key(platform.access.project("default").id, "sandbox").plaintext
    response = httpx.get(f"{server.url}/v1/me", headers={"x-api-key": key})
    assert response.status_code == 200
    assert response.json()["meta"]["environment"] == "sandbox"


def test_every_bad_key_gets_the_same_401(platform: Platform, server: ServerThread) -> None:
    project = platform.access.project("default")
    revoked = platform.access.issue_key(project.id, "sandbox")
    platform.access.revoke_key(revoked.record.id)
    unknown = keys.generate("sk", "sandbox")  # well-formed, valid checksum, never issued
    wrong_checksum = unknown[:-1] + ("x" if unknown[-1] != "x" else "y")
    variants = {
        "missing": {},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "unknown": {"Authorization": f"Bearer {unknown}"},
        "wrong checksum": {"Authorization": f"Bearer {wrong_checksum}"},
        "revoked": {"Authorization": f"Bearer {revoked.plaintext}"},
        "basic scheme": {"Authorization": f"Basic {revoked.plaintext}"},
        "unknown prefix": {"x-api-key": "pk_test_" + unknown[8:]},
        # Any Latin-1 text can arrive in a header; it is hashed before it is parsed.
        "not ascii": {"x-api-key": ("sk_test_" + "\u00e9" * 38).encode("latin-1")},
    }
    bodies = []
    for headers in variants.values():
        response = httpx.get(f"{server.url}/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert response.json()["meta"]["environment"] is None
        bodies.append(body_without_meta(response))
    assert all(b == bodies[0] for b in bodies), "401 bodies must not hint at the reason"
    assert "Traceback" not in str(bodies[0])


def test_key_in_query_string_is_refused(platform: Platform, server: ServerThread) -> None:
    key = platform.access.issue_key(platform.access.project("default").id, "sandbox").plaintext
    response = httpx.get(f"{server.url}/v1/me", params={"api_key": key})
    assert response.status_code == 401
    assert "query string" in response.json()["message"]
    # Even alongside a valid header the query-string copy is refused (it is already leaked).
    response = httpx.get(
        f"{server.url}/v1/me", params={"key": key}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 401


def test_live_key_on_project_without_live_access(platform: Platform, server: ServerThread) -> None:
    project = platform.access.project("default")
    key = platform.access.issue_key(project.id, "live").plaintext
    response = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    body = response.json()
    assert body["error"]["code"] == "LIVE_ACCESS_DISABLED"
    assert body["statusCode"] == 403
    # Enabling live access takes effect on the next request.
    platform.access.store.set_live_enabled(project.id, True)
    response = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_revocation_takes_effect_on_the_next_request(
    platform: Platform, server: ServerThread
) -> None:
    issued = platform.access.issue_key(platform.access.project("default").id, "sandbox")
    api = Api(server.url, issued.plaintext)
    assert api.get("/v1/me").status_code == 200
    platform.access.revoke_key(issued.record.id)
    assert api.get("/v1/me").status_code == 401
    api.close()


def test_rows_are_isolated_by_environment_and_project(
    platform: Platform, server: ServerThread, sandbox_api: Api, live_api: Api
) -> None:
    livecorp = platform.access.project("livecorp")
    sandbox_env = platform.environment("sandbox")
    with sandbox_env.db.transaction():
        event_id = sandbox_env.event_service.record(livecorp.id, "webhook.test", {"hello": 1})

    seen = sandbox_api.get(f"/v1/events/{event_id}")
    assert seen.status_code == 200
    assert seen.json()["data"]["environment"] == "sandbox"

    from_live = live_api.get(f"/v1/events/{event_id}")
    other = Api(server.url, platform.access.issue_key(
        platform.access.project("default").id, "sandbox").plaintext)
    from_other_project = other.get(f"/v1/events/{event_id}")
    never = sandbox_api.get("/v1/events/evt_doesnotexist000000000000")
    for response in (from_live, from_other_project, never):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert from_live.json()["meta"]["environment"] == "live"
    assert live_api.get("/v1/events").json()["data"]["pagination"]["total"] == 0
    assert other.get("/v1/events").json()["data"]["pagination"]["total"] == 0
    assert sandbox_api.get("/v1/events").json()["data"]["pagination"]["total"] == 1
    other.close()


def test_unknown_route_and_method(sandbox_api: Api, server: ServerThread) -> None:
    response = sandbox_api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert response.json()["meta"]["environment"] == "sandbox"
    assert response.headers["Request-Id"] == response.json()["meta"]["requestId"]
    anonymous = httpx.get(f"{server.url}/nowhere")
    assert anonymous.status_code == 404 and anonymous.json()["meta"]["environment"] is None
    response = sandbox_api.request("DELETE", "/v1/me")
    assert response.status_code == 405
    assert response.json()["success"] is False


@pytest.mark.parametrize(
    ("query", "path"),
    [("limit=0", "$.query.limit"), ("limit=101", "$.query.limit"), ("limit=abc", "$.query.limit"),
     ("offset=-1", "$.query.offset"), ("type=scan.exploded", "$.query.type")],
)
def test_bad_list_parameters(sandbox_api: Api, query: str, path: str) -> None:
    response = sandbox_api.get(f"/v1/events?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_FAILED"
    assert body["error"]["details"]["errors"][0]["path"] == path
    assert path in body["message"]


def test_health_needs_no_key_and_survives_bad_requests(server: ServerThread) -> None:
    for _ in range(3):
        httpx.get(f"{server.url}/v1/me", headers={"Authorization": "Bearer \x7f"})
        httpx.post(f"{server.url}/v1/events", content=b"\xff\xfe{")
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "ok"


def test_plaintext_keys_never_reach_the_data_dir(platform: Platform, sandbox_api: Api) -> None:
    issued = [
        platform.access.issue_key(platform.access.project("livecorp").id, env).plaintext
        for env in ("sandbox", "live")
    ]
    for key in issued:
        Api(sandbox_api.http.base_url.__str__(), key).get("/v1/me")
    files = [p for p in Path(platform.data_dir).rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        for key in issued:
            assert key.encode() not in content, f"plaintext key found in {path.name}"
            assert key[8:-6].encode() not in content


def test_operations_served_directly_still_carry_their_request_id(
    sandbox_api: Api, server: ServerThread
) -> None:
    # API operations skip Starlette's middleware (WattbridgeApp); answers that are
    # not envelopes (the OpenAPI document) must still get the header the middleware
    # would have added, and HEAD must still work on GET operations.
    document = httpx.get(f"{server.url}/openapi.json")
    assert document.status_code == 200
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", document.headers["Request-Id"])
    head = sandbox_api.request("HEAD", "/v1/me")
    assert head.status_code == 200 and head.content == b""
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", head.headers["Request-Id"])


def test_an_error_that_escapes_an_operation_is_a_logged_500_envelope(
    sandbox_api: Api, server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    # A write runs in the app's worker threads; with those shut down, the
    # operation itself fails outside its own error handling.
    server.app.state.executor.shutdown()
    response = sandbox_api.post("/v1/sandbox/devices", json={"type": "battery"})
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "INTERNAL_ERROR"
    assert body["meta"]["requestId"] in body["message"]
    assert response.headers["Request-Id"] == body["meta"]["requestId"]
    assert body["meta"]["environment"] == "sandbox"
    assert any(body["meta"]["requestId"] in r.getMessage() and r.exc_info
               for r in caplog.records)
    # Reads, served on the event loop, go on working.
    assert sandbox_api.get("/v1/me").status_code == 200


def test_middleware_an_embedder_adds_sees_the_api_operations(platform: Platform) -> None:
    key = key_of(platform, "default", "sandbox")
    app = platform.asgi_app()
    seen: list[str] = []

    class Recorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await self.inner(scope, receive, send)

    app.add_middleware(Recorder)
    server = ServerThread(app).start()
    try:
        api = Api(server.url, key)
        response = api.get("/v1/me")
        assert response.status_code == 200
        assert response.headers["Request-Id"] == response.json()["meta"]["requestId"]
        api.close()
    finally:
        server.stop()
    assert "/v1/me" in seen
