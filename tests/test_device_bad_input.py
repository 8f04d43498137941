"""Bad device and action requests through a real server: each gets a documented 4xx that
says what to fix, and none of them writes anything."""

from __future__ import annotations

from typing import Any

import httpx

from tests.device_support import (  # noqa: F401  (fixtures)
    api,
    at,
    client,
    clock,
    create,
    document,
    plat,
    srv,
)
from tests.openapi_check import validate
from tests.support import Api, ServerThread, data, error
from wattbridge.drivers.devices import DEVICE_TYPES
from wattbridge.platform import Platform


def checked(
    document: dict[str, Any], method: str, path: str, response: httpx.Response, status: int,
    code: str,
) -> dict[str, Any]:
    """The error body, after checking status, code and the documented shape."""
    body = error(response, status, code)
    validate(document, method, path, status, body)
    return body


def counts(plat: Platform) -> dict[str, int]:
    """Rows of the sandbox database that a request could have written."""
    db = plat.environment("sandbox").db
    return {
        table: int((db.query_one(f"SELECT count(*) AS n FROM {table}") or {"n": 0})["n"])
        for table in ("devices", "actions", "events")
    }


def test_ids_of_other_projects_and_environments_are_not_found(
    plat: Platform, srv: ServerThread, api: Api, document: dict[str, Any]
) -> None:
    device = create(api, type="battery", vendor="helion")
    action = data(api.post(f"/v1/devices/{device['id']}/actions",
                           json={"command": "idle", "start": at(1)}), 202)
    before = counts(plat)
    other, live = client(plat, srv, "other", "sandbox"), client(plat, srv, "acme", "live")
    try:
        for c in (other, live, api):
            dev = device["id"] if c is not api else "dev_neverexisted"
            act = action["id"] if c is not api else "act_neverexisted"
            for method, path, template, body in (
                ("GET", f"/v1/devices/{dev}", "/v1/devices/{id}", None),
                ("DELETE", f"/v1/devices/{dev}", "/v1/devices/{id}", None),
                ("GET", f"/v1/devices/{dev}/actions", "/v1/devices/{id}/actions", None),
                ("POST", f"/v1/devices/{dev}/actions", "/v1/devices/{id}/actions",
                 {"command": "idle"}),
                ("GET", f"/v1/actions/{act}", "/v1/actions/{id}", None),
                ("POST", f"/v1/actions/{act}/cancel", "/v1/actions/{id}/cancel", None),
            ):
                response = c.request(method, path, json=body)
                found = checked(document, method, template, response, 404, "NOT_FOUND")
                # Exactly as an id that never existed: nothing hints that it does elsewhere.
                assert found["message"].endswith("in this project and environment."), found
    finally:
        other.close()
        live.close()
    assert counts(plat) == before
    assert data(api.get(f"/v1/actions/{action['id']}"), 200)["state"] == "scheduled"


def test_unknown_type_filters_list_the_types(api: Api, document: dict[str, Any]) -> None:
    for path in ("/v1/devices", "/v1/vendors"):
        body = checked(document, "GET", path, api.get(path, params={"type": "boat"}), 400,
                       "VALIDATION_FAILED")
        assert all(t in body["message"] for t in DEVICE_TYPES), body
        assert body["error"]["details"]["errors"][0]["path"] == "$.query.type"


def test_malformed_and_live_time_travel(
    plat: Platform, srv: ServerThread, api: Api, document: dict[str, Any]
) -> None:
    device = create(api, type="solar_inverter")
    path = f"/v1/devices/{device['id']}"
    for bad in ("yesterday", "2026-06-01T07:30:00", "2026-13-01T00:00:00Z", "1780000000", ""):
        body = checked(document, "GET", "/v1/devices/{id}", api.get(path, params={"at": bad}),
                       400, "VALIDATION_FAILED")
        assert body["error"]["details"]["errors"][0]["path"] == "$.query.at"
        assert "2026-06-01T07:30:00Z" in body["message"], body  # shows a valid form
    live = client(plat, srv, "acme", "live")
    try:
        body = checked(document, "GET", "/v1/devices/{id}",
                       live.get(path, params={"at": "2026-06-01T07:30:00Z"}), 400, "SANDBOX_ONLY")
        assert "sandbox key" in body["message"]
        body = checked(document, "POST", "/v1/sandbox/devices",
                       live.post("/v1/sandbox/devices", json={"type": "boat"}), 400,
                       "SANDBOX_ONLY")  # the feature is refused before the body is read
    finally:
        live.close()


REJECTED: list[tuple[str, dict[str, Any], int, str, tuple[str, ...]]] = [
    # (device, body, status, code, hints the message must contain)
    ("car", {"command": "boost"}, 422, "UNSUPPORTED_MODE", ("'boost'", "charge, idle")),
    ("battery", {"command": "discharge"}, 422, "UNSUPPORTED_MODE",
     ("'discharge'", "auto.balanced, auto.export, charge, idle")),
    ("solar", {"command": "idle"}, 422, "UNSUPPORTED_MODE", ("accepts no commands",)),
    ("car", {"command": "charge", "parameters": {"reserve": {"value": 30, "unit": "percent"}}},
     422, "UNSUPPORTED_PARAMETER", ("'reserve'", "accepted: power, target")),
    ("battery", {"command": "idle", "parameters": {"power": {"value": 1, "unit": "kw"}}},
     422, "UNSUPPORTED_PARAMETER", ("takes no parameters",)),
    ("car", {"command": "charge", "parameters": {"power": {"value": 7, "unit": "kwh"}}},
     422, "UNSUPPORTED_UNIT", ("'kwh'", "use one of: kw, w")),
    ("car", {"command": "charge", "parameters": {"target": {"value": 0.8, "unit": "ratio"}}},
     422, "UNSUPPORTED_UNIT", ("use one of: percent",)),
    ("car", {"command": "charge", "parameters": {"power": {"value": 50, "unit": "kw"}}},
     422, "PARAMETER_OUT_OF_RANGE", ("between 1.4 and 11 kw", "got 50 kw")),
    ("car", {"command": "charge", "parameters": {"power": {"value": 500, "unit": "w"}}},
     422, "PARAMETER_OUT_OF_RANGE", ("between 1.4 and 11 kw", "got 0.5 kw")),
    ("battery", {"command": "charge", "parameters": {"target": {"value": 5, "unit": "percent"}}},
     422, "PARAMETER_OUT_OF_RANGE", ("between 10 and 100 percent",)),
    ("car", {"command": "charge", "parameters": {"target": {"value": "80", "unit": "percent"}}},
     400, "VALIDATION_FAILED", ("$.parameters['target'].value", "expected a number")),
    ("car", {"command": "charge", "parameters": {"target": {"value": True, "unit": "percent"}}},
     400, "VALIDATION_FAILED", ("expected a number",)),
    ("car", {"command": "charge", "parameters": {"target": {"value": 80}}}, 400,
     "VALIDATION_FAILED", ("$.parameters['target'].unit",)),
    ("car", {"command": "charge", "parameters": {"target": 80}}, 400, "VALIDATION_FAILED",
     ("expected an object",)),
    ("car", {"command": "charge", "parameters": {"target": {"value": 80, "unit": "percent",
                                                            "min": 1}}},
     400, "VALIDATION_FAILED", ("min",)),
    ("car", {}, 400, "VALIDATION_FAILED", ("$.command",)),
    ("car", {"command": ""}, 400, "VALIDATION_FAILED", ("$.command",)),
    ("car", {"command": "charge", "start": at(-0.5)}, 400, "VALIDATION_FAILED",
     ("$.start", "in the past")),
    ("car", {"command": "charge", "start": at(24 * 30 + 1)}, 400, "VALIDATION_FAILED",
     ("$.start", "at most 30 days ahead")),
    ("car", {"command": "charge", "start": at(1), "end": at(24 * 30 + 1)}, 400,
     "VALIDATION_FAILED", ("$.end", "at most 30 days ahead")),
    ("car", {"command": "charge", "start": at(2), "end": at(1)}, 400, "VALIDATION_FAILED",
     ("$.end", "must be after start")),
    ("car", {"command": "charge", "end": at(-1)}, 400, "VALIDATION_FAILED",
     ("must be after start",)),
    ("car", {"command": "charge", "start": "2026-06-01T22:00:00"}, 400, "VALIDATION_FAILED",
     ("no time zone",)),
    ("car", {"command": "charge", "onConflict": "merge"}, 400, "VALIDATION_FAILED",
     ("cancel_and_replace", "queue_after")),
    ("car", {"command": "charge", "sandbox": {"outcome": "maybe"}}, 400, "VALIDATION_FAILED",
     ("$.sandbox.outcome",)),
    ("car", {"command": "charge", "sandbox": {"latency": "11m"}}, 400, "VALIDATION_FAILED",
     ("at most 10m",)),
    ("car", {"command": "charge", "sandbox": {"outcome": "completed", "errorCode": "X"}}, 400,
     "VALIDATION_FAILED", ("set outcome to 'failed'",)),
    ("car", {"command": "charge", "colour": "red"}, 400, "VALIDATION_FAILED", ("colour",)),
]


def test_rejected_pushes_explain_the_fix_and_write_nothing(
    plat: Platform, api: Api, document: dict[str, Any]
) -> None:
    devices = {
        "car": create(api, type="vehicle", vendor="nordvik"),
        "battery": create(api, type="battery", vendor="sundial"),
        "solar": create(api, type="solar_inverter"),
    }
    before = counts(plat)
    for index, (name, body, status, code, hints) in enumerate(REJECTED):
        path = f"/v1/devices/{devices[name]['id']}/actions"
        # With an Idempotency-Key too: a request that failed validation is not stored
        # (422s are, as the contract says, so each case has its own key).
        response = api.post(path, json=body, headers={"Idempotency-Key": f"k-{index}"})
        found = checked(document, "POST", "/v1/devices/{id}/actions", response, status, code)
        text = found["message"] + str(found["error"])
        assert all(hint in text for hint in hints), (body, found)
        assert found["message"] == found["error"]["message"]
    assert counts(plat) == before  # no action, no event
    for device in devices.values():
        assert data(api.get(f"/v1/devices/{device['id']}/actions"), 200)["items"] == []
        assert data(api.get(f"/v1/devices/{device['id']}"), 200)["lastAction"] is None
    # The request, fixed, goes through with the key of the 400 it got before.
    first_400 = next(i for i, case in enumerate(REJECTED) if case[2] == 400)
    fixed = api.post(f"/v1/devices/{devices['car']['id']}/actions",
                     json={"command": "charge", "start": at(1), "end": at(24 * 30)},
                     headers={"Idempotency-Key": f"k-{first_400}"})
    assert data(fixed, 202)["state"] == "scheduled"


def test_malformed_bodies_are_refused(api: Api, document: dict[str, Any]) -> None:
    car = create(api, type="vehicle")
    path = f"/v1/devices/{car['id']}/actions"
    for raw, hint in ((b"{", "not valid JSON"), (b"[1]", "JSON object"), (b"", "empty"),
                      (b'{"command": "charge", "parameters": {"target": {"value": NaN, '
                       b'"unit": "percent"}}}', "finite")):
        response = api.post(path, content=raw, headers={"content-type": "application/json"})
        found = checked(document, "POST", "/v1/devices/{id}/actions", response, 400,
                        "VALIDATION_FAILED")
        assert hint in found["message"], found
    for raw in (b"{", b'{"type": "toaster"}', b'{"type": "vehicle", "model": "Model Q"}'):
        response = api.post("/v1/sandbox/devices", content=raw,
                            headers={"content-type": "application/json"})
        checked(document, "POST", "/v1/sandbox/devices", response, 400, "VALIDATION_FAILED")
    assert data(api.get("/v1/devices"), 200)["pagination"]["total"] == 1
