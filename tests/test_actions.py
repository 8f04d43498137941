"""Actions through a real server: lifecycle, conflicts, cancel, forced failure, effects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.device_support import (  # noqa: F401  (fixtures)
    api,
    at,
    clock,
    create,
    document,
    plat,
    srv,
)
from tests.openapi_check import validate
from tests.support import Api, data, error
from wattbridge.clock import FrozenClock, isoformat
from wattbridge.platform import Platform
from wattbridge.services.action_lifecycle import ActionWorker


def run_worker(plat: Platform) -> int:
    return ActionWorker(plat.environment("sandbox")).run_once()


def push(api: Api, device_id: str, **body: Any) -> Any:
    return api.post(f"/v1/devices/{device_id}/actions", json=body)


def test_a_charge_makes_the_vehicle_charge_then_completes(
    api: Api, plat: Platform, clock: FrozenClock, document: dict[str, Any]
) -> None:
    car = create(api, type="vehicle", vendor="nordvik")
    assert car["state"]["charging"] is False and car["state"]["plugged"] is False
    limit = car["state"]["chargeLimit"]  # 90 or 95: the car caps any charge there
    assert car["commands"]["charge"]["parameters"]["target"]["max"] == limit
    response = push(api, car["id"], command="charge",
                    parameters={"target": {"value": limit, "unit": "percent"},
                                "power": {"value": 7400, "unit": "w"}})
    validate(document, "POST", "/v1/devices/{id}/actions", 202, response.json())
    action = data(response, 202)
    assert action["state"] == "acknowledged" and action["start"] == at(0)
    assert action["parameters"]["power"] == {"value": 7.4, "unit": "kw"}
    charging = data(api.get(f"/v1/devices/{car['id']}"), 200)
    assert charging["state"]["charging"] is True and charging["state"]["plugged"] is True
    assert charging["lastAction"]["id"] == action["id"]

    assert run_worker(plat) == 0  # not due before its latency
    clock.advance(2)
    assert run_worker(plat) == 1
    done = api.get(f"/v1/actions/{action['id']}")
    validate(document, "GET", "/v1/actions/{id}", 200, done.json())
    assert data(done, 200)["state"] == "completed"
    # At 7.4 kW the car needs well over 5 minutes to its limit (it has driven
    # since 11:30 at the latest), so it is still charging then.
    clock.advance(timedelta(minutes=5))
    later = data(api.get(f"/v1/devices/{car['id']}"), 200)["state"]
    assert later["charging"] is True
    assert later["batteryLevel"] > charging["state"]["batteryLevel"]
    [event] = data(api.get("/v1/events", params={"type": "action.completed"}), 200)["items"]
    assert event["data"]["id"] == action["id"] and event["data"]["state"] == "completed"
    listing = api.get(f"/v1/devices/{car['id']}/actions")
    validate(document, "GET", "/v1/devices/{id}/actions", 200, listing.json())
    assert [a["id"] for a in data(listing, 200)["items"]] == [action["id"]]


def test_scheduled_action_starts_at_its_start(api: Api, plat: Platform, clock: FrozenClock) -> None:
    battery = create(api, type="battery", vendor="helion")
    action = data(push(api, battery["id"], command="idle", start=at(1), end=at(3)), 202)
    assert action["state"] == "scheduled"
    future = data(api.get(f"/v1/devices/{battery['id']}", params={"at": at(2)}), 200)
    assert future["state"]["currentMode"] == "idle"  # time travel projects the schedule
    assert data(api.get(f"/v1/devices/{battery['id']}"), 200)["state"]["currentMode"] != "idle"
    clock.advance(timedelta(hours=1))
    assert run_worker(plat) == 1
    assert data(api.get(f"/v1/actions/{action['id']}"), 200)["state"] == "acknowledged"
    state = data(api.get(f"/v1/devices/{battery['id']}"), 200)["state"]
    assert state["status"] == "idle" and state["currentMode"] == "idle"
    clock.advance(2)
    run_worker(plat)
    assert data(api.get(f"/v1/actions/{action['id']}"), 200)["state"] == "completed"


def test_conflicts_queue_after_cancel_and_replace_and_cancel(
    api: Api, plat: Platform, clock: FrozenClock, document: dict[str, Any]
) -> None:
    battery = create(api, type="battery", vendor="helion")
    first = data(push(api, battery["id"], command="charge", start=at(1), end=at(3)), 202)
    conflict = push(api, battery["id"], command="discharge", start=at(2), end=at(4))
    validate(document, "POST", "/v1/devices/{id}/actions", 409, conflict.json())
    details = error(conflict, 409, "CONFLICT")["error"]["details"]
    assert details == {"conflictingActionIds": [first["id"]],
                       "strategies": ["cancel_and_replace", "queue_after"]}

    queued = data(push(api, battery["id"], command="discharge", start=at(2), end=at(4),
                       onConflict="queue_after"), 202)
    assert (queued["start"], queued["end"]) == (at(3), at(5))  # moved, same duration

    replacing = data(push(api, battery["id"], command="idle", start=at(0.5), end=at(2),
                          onConflict="cancel_and_replace"), 202)
    assert data(api.get(f"/v1/actions/{first['id']}"), 200)["state"] == "cancelled"
    assert data(api.get(f"/v1/actions/{queued['id']}"), 200)["state"] == "scheduled"

    cancelled = api.post(f"/v1/actions/{replacing['id']}/cancel")
    validate(document, "POST", "/v1/actions/{id}/cancel", 200, cancelled.json())
    assert data(cancelled, 200)["state"] == "cancelled"
    again = error(api.post(f"/v1/actions/{replacing['id']}/cancel"), 409, "ACTION_NOT_CANCELLABLE")
    assert "only scheduled actions" in again["message"]
    events = data(api.get("/v1/events", params={"type": "action.cancelled"}), 200)
    assert {e["data"]["id"] for e in events["items"]} == {first["id"], replacing["id"]}

    clock.advance(timedelta(hours=3))
    run_worker(plat)
    assert data(api.get(f"/v1/actions/{queued['id']}"), 200)["state"] == "acknowledged"
    error(api.post(f"/v1/actions/{queued['id']}/cancel"), 409, "ACTION_NOT_CANCELLABLE")


def test_queue_after_an_open_ended_action_waits_for_it(
    api: Api, plat: Platform, clock: FrozenClock
) -> None:
    car = create(api, type="vehicle")
    first = data(push(api, car["id"], command="charge", sandbox={"latency": "30s"}), 202)
    second = data(push(api, car["id"], command="idle", onConflict="queue_after"), 202)
    assert second["state"] == "scheduled" and second["queuedAfter"] == first["id"]
    # Its start is unknown while it waits: reads of the future do not project it.
    later = data(api.get(f"/v1/devices/{car['id']}", params={"at": at(0.1)}), 200)["state"]
    assert later["charging"] is True
    clock.advance(10)
    assert run_worker(plat) == 0
    clock.advance(20)
    assert run_worker(plat) == 1  # the first completes; the second becomes due
    assert run_worker(plat) == 1
    state = data(api.get(f"/v1/actions/{second['id']}"), 200)
    assert state["state"] == "acknowledged" and state["start"] == at(30 / 3600)


def test_forced_failure_leaves_the_device_as_it_was(
    api: Api, plat: Platform, clock: FrozenClock
) -> None:
    car = create(api, type="vehicle")
    action = data(push(api, car["id"], command="charge",
                       sandbox={"outcome": "failed", "errorCode": "DEVICE_OFFLINE",
                                "latency": "5s"}), 202)
    assert action["state"] == "acknowledged"
    assert action["sandbox"] == {"outcome": "failed", "errorCode": "DEVICE_OFFLINE",
                                 "latency": "5s"}
    clock.advance(4)
    assert run_worker(plat) == 0
    clock.advance(1)
    assert run_worker(plat) == 1
    failed = data(api.get(f"/v1/actions/{action['id']}"), 200)
    assert failed["state"] == "failed" and failed["error"]["code"] == "DEVICE_OFFLINE"
    assert data(api.get(f"/v1/devices/{car['id']}"), 200)["state"]["charging"] is False
    [event] = data(api.get("/v1/events", params={"type": "action.failed"}), 200)["items"]
    assert event["data"]["error"]["code"] == "DEVICE_OFFLINE"


def test_rejected_pushes_say_how_to_fix_them_and_write_nothing(api: Api) -> None:
    car = create(api, type="vehicle", vendor="voltra")
    solar = create(api, type="solar_inverter")
    cases: list[tuple[str, dict[str, Any], int, str, str]] = [
        (solar["id"], {"command": "charge"}, 422, "UNSUPPORTED_MODE", "accepts no commands"),
        (car["id"], {"command": "discharge"}, 422, "UNSUPPORTED_MODE", "charge, idle"),
        (car["id"], {"command": "charge", "parameters": {"power": {"value": 7, "unit": "kw"}}},
         422, "UNSUPPORTED_PARAMETER", "accepted: target"),
        (car["id"], {"command": "charge", "parameters": {"target": {"value": 80, "unit": "kwh"}}},
         422, "UNSUPPORTED_UNIT", "use one of: percent"),
        (car["id"], {"command": "charge", "parameters": {"target": {"value": 120,
                                                                    "unit": "percent"}}},
         422, "PARAMETER_OUT_OF_RANGE", "must be between 50 and 9"),
        (car["id"], {"command": "charge", "parameters": {"target": 80}}, 400,
         "VALIDATION_FAILED", "expected an object"),
        (car["id"], {"command": "charge", "parameters": {"target": {"value": "80",
                                                                    "unit": "percent"}}},
         400, "VALIDATION_FAILED", "expected a number"),
        (car["id"], {"command": "charge", "start": at(-1)}, 400, "VALIDATION_FAILED",
         "in the past"),
        (car["id"], {"command": "charge", "start": at(24 * 31)}, 400, "VALIDATION_FAILED",
         "30 days"),
        (car["id"], {"command": "charge", "start": at(2), "end": at(1)}, 400,
         "VALIDATION_FAILED", "must be after start"),
        (car["id"], {"command": "charge", "start": "tonight"}, 400, "VALIDATION_FAILED",
         "ISO 8601"),
        (car["id"], {"command": "charge", "onConflict": "merge"}, 400, "VALIDATION_FAILED",
         "queue_after"),
        (car["id"], {"command": "charge", "sandbox": {"latency": "soon"}}, 400,
         "VALIDATION_FAILED", "$.sandbox.latency"),
        (car["id"], {"command": "charge", "sandbox": {"errorCode": "X"}}, 400,
         "VALIDATION_FAILED", "outcome"),
        ("dev_unknown", {"command": "charge"}, 404, "NOT_FOUND", "dev_unknown"),
    ]
    for device_id, body, status, code, hint in cases:
        body_out = error(push(api, device_id, **body), status, code)
        assert hint in str(body_out["message"]) + str(body_out["error"]), (body, body_out)
    for device in (car, solar):
        assert data(api.get(f"/v1/devices/{device['id']}/actions"), 200)["items"] == []
    error(api.get("/v1/actions/act_unknown"), 404, "NOT_FOUND")
    error(api.post("/v1/actions/act_unknown/cancel"), 404, "NOT_FOUND")


def test_a_long_history_costs_a_bounded_read(api: Api, plat: Platform, clock: FrozenClock) -> None:
    """Reads hand the provider only the newest MAX_PROJECTED_ACTIONS started actions."""
    from wattbridge.services.actions import MAX_PROJECTED_ACTIONS

    env = plat.environment("sandbox")
    battery = create(api, type="battery", vendor="helion")
    project = plat.access.project("acme").id
    pushed = env.devices.actions.push  # the service the route calls, for speed
    mode = pushed(project, battery["id"], {"command": "auto.export", "sandbox": {"latency": "0s"}})
    assert mode["state"] == "completed"
    clock.advance(timedelta(minutes=1))
    assert data(api.get(f"/v1/devices/{battery['id']}"), 200)["state"]["currentMode"] == (
        "auto.export"
    )
    last = mode
    for _ in range(MAX_PROJECTED_ACTIONS):
        end = isoformat(clock.now() + timedelta(seconds=30))
        last = pushed(project, battery["id"],
                      {"command": "idle", "end": end, "sandbox": {"latency": "0s"}})
        assert last["state"] == "completed"
        clock.advance(timedelta(minutes=1))
    device = data(api.get(f"/v1/devices/{battery['id']}"), 200)
    assert device["lastAction"]["id"] == last["id"]
    # The open-ended mode is now the 101st newest action: it no longer shapes the state.
    assert device["state"]["currentMode"] == "auto.balanced"
    # Time travel to between the first idle windows still sees the mode.
    back = data(api.get(f"/v1/devices/{battery['id']}", params={"at": at(105 / 3600)}), 200)
    assert back["state"]["currentMode"] == "auto.export"
