"""The device API through a real server: create, list, read, time travel, disconnect."""

from __future__ import annotations

from typing import Any

from tests.device_support import (  # noqa: F401  (fixtures)
    api,
    client,
    clock,
    create,
    document,
    plat,
    srv,
)
from tests.openapi_check import validate
from tests.support import Api, ServerThread, data, error
from wattbridge.platform import Platform


def test_create_read_and_list_devices(api: Api, document: dict[str, Any]) -> None:
    response = api.post("/v1/sandbox/devices", json={"type": "battery", "vendor": "helion",
                                                      "userId": "u1"})
    validate(document, "POST", "/v1/sandbox/devices", 201, response.json())
    battery = data(response, 201)
    assert battery["id"].startswith("dev_") and battery["vendor"] == "helion"
    assert battery["userId"] == "u1" and battery["metadata"] == {"source": "projection"}
    assert set(battery["state"]) == {"status", "level", "capacity", "chargeRate", "currentMode"}
    assert set(battery["commands"]) == {"charge", "discharge", "idle", "auto.balanced",
                                        "auto.reserve", "auto.export"}
    assert battery["commands"]["charge"]["parameters"]["power"]["unit"] == "kw"
    assert battery["settings"]["discharge_floor"]["unit"] == "percent"
    assert battery["lastAction"] is None and battery["sync"]["available"] is True
    solar = create(api, type="solar_inverter")
    assert solar["commands"] == {} and solar["userId"] == "sandbox-user"
    create(api, type="vehicle", userId="u2")

    read = api.get(f"/v1/devices/{battery['id']}")
    validate(document, "GET", "/v1/devices/{id}", 200, read.json())
    assert data(read, 200) == battery  # same instant, same state

    listing = api.get("/v1/devices", params={"limit": 2})
    validate(document, "GET", "/v1/devices", 200, listing.json())
    page = data(listing, 200)
    assert [d["id"] for d in page["items"]] == [battery["id"], solar["id"]]
    assert page["pagination"] == {"limit": 2, "offset": 0, "total": 3, "hasMore": True}
    assert data(api.get("/v1/devices", params={"type": "vehicle"}), 200)["pagination"]["total"] == 1
    by_user = data(api.get("/v1/devices", params={"userId": "u1"}), 200)["items"]
    assert [d["id"] for d in by_user] == [battery["id"]]
    events = data(api.get("/v1/events", params={"type": "device.connected"}), 200)
    assert events["pagination"]["total"] == 3


def test_time_travel_reads_the_simulation_at_any_instant(api: Api) -> None:
    solar = create(api, type="solar_inverter")
    night = data(api.get(f"/v1/devices/{solar['id']}", params={"at": "2026-06-01T23:30:00Z"}), 200)
    assert night["state"]["status"] == "night" and night["state"]["currentPower"] == 0
    assert night["sync"]["lastPulledAt"] == "2026-06-01T23:30:00.000Z"
    noon = data(api.get(f"/v1/devices/{solar['id']}", params={"at": "2026-06-01T12:00:00+00:00"}),
                200)
    assert noon["state"]["producing"] is True
    assert data(api.get(f"/v1/devices/{solar['id']}", params={"expedite": "true"}), 200)


def test_bad_device_requests_say_how_to_fix_them(api: Api) -> None:
    device = create(api, type="vehicle")
    assert "vehicle" in error(api.get("/v1/devices", params={"type": "boat"}), 400,
                              "VALIDATION_FAILED")["message"]
    bad_at = error(api.get(f"/v1/devices/{device['id']}", params={"at": "yesterday"}), 400,
                   "VALIDATION_FAILED")
    assert "2026-06-01T07:30:00Z" in bad_at["message"]
    error(api.get(f"/v1/devices/{device['id']}", params={"at": "2026-06-01T07:30:00"}), 400,
          "VALIDATION_FAILED")
    error(api.get(f"/v1/devices/{device['id']}", params={"expedite": "maybe"}), 400,
          "VALIDATION_FAILED")
    error(api.get("/v1/devices/dev_doesnotexist"), 404, "NOT_FOUND")
    unknown_vendor = error(api.post("/v1/sandbox/devices", json={"type": "vehicle",
                                                                  "vendor": "acme"}),
                           400, "VALIDATION_FAILED")
    assert "voltra" in unknown_vendor["message"]
    error(api.post("/v1/sandbox/devices", json={"type": "toaster"}), 400, "VALIDATION_FAILED")
    error(api.post("/v1/sandbox/devices", json={"type": "vehicle", "colour": "red"}), 400,
          "VALIDATION_FAILED")
    assert data(api.get("/v1/devices"), 200)["pagination"]["total"] == 1  # nothing written


def test_devices_are_isolated_by_project_and_environment(
    plat: Platform, srv: ServerThread, api: Api
) -> None:
    device = create(api, type="battery")
    other = client(plat, srv, "other", "sandbox")
    live = client(plat, srv, "acme", "live")
    try:
        for c in (other, live):
            error(c.get(f"/v1/devices/{device['id']}"), 404, "NOT_FOUND")
            error(c.request("DELETE", f"/v1/devices/{device['id']}"), 404, "NOT_FOUND")
            assert data(c.get("/v1/devices"), 200)["pagination"]["total"] == 0
    finally:
        other.close()
        live.close()


def test_live_refuses_sandbox_only_features(plat: Platform, srv: ServerThread) -> None:
    live = client(plat, srv, "acme", "live")
    try:
        error(live.post("/v1/sandbox/devices", json={"type": "vehicle"}), 400, "SANDBOX_ONLY")
        error(live.get("/v1/devices/dev_x", params={"at": "2026-06-01T07:30:00Z"}), 400,
              "SANDBOX_ONLY")
        body = {"command": "charge", "sandbox": {"outcome": "failed"}}
        error(live.post("/v1/devices/dev_x/actions", json=body), 400, "SANDBOX_ONLY")
    finally:
        live.close()


def test_disconnect_fires_an_event_and_then_the_device_is_gone(
    api: Api, document: dict[str, Any]
) -> None:
    device = create(api, type="ev_charger", userId="u9")
    response = api.request("DELETE", f"/v1/devices/{device['id']}")
    validate(document, "DELETE", "/v1/devices/{id}", 200, response.json())
    assert data(response, 200)["disconnected"] is True
    error(api.get(f"/v1/devices/{device['id']}"), 404, "NOT_FOUND")
    error(api.request("DELETE", f"/v1/devices/{device['id']}"), 404, "NOT_FOUND")
    assert data(api.get("/v1/devices"), 200)["pagination"]["total"] == 0
    [event] = data(api.get("/v1/events", params={"type": "device.disconnected"}), 200)["items"]
    assert event["data"]["id"] == device["id"] and event["data"]["userId"] == "u9"


def test_vendors_of_the_environment(api: Api, document: dict[str, Any]) -> None:
    response = api.get("/v1/vendors", params={"type": "ev_charger", "limit": 100})
    validate(document, "GET", "/v1/vendors", 200, response.json())
    vendors = data(response, 200)["items"]
    assert {v["id"] for v in vendors} == {"ampwise", "chargenest", "plugora"}
    assert all(v["provider"] == "sandbox" for v in vendors)
    assert {v["authScheme"] for v in vendors} == {"password", "local_host", "api_key"}
    error(api.get("/v1/vendors", params={"type": "boat"}), 400, "VALIDATION_FAILED")
