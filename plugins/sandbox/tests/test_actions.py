"""Accepted actions change the simulated state for their window, continuously."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

DAY = datetime(2026, 6, 10, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _at(hour: float) -> datetime:
    return DAY + timedelta(hours=hour)


def test_vehicle_charge_makes_it_charge(h, fleet, read):
    device = fleet("vehicle")[0]
    charge = h.action("charge", _at(12), _at(14), target=90)
    before = read(device, _at(12) - SECOND)
    start = read(device, _at(12) + SECOND, [charge])
    later = read(device, _at(12.5), [charge])
    assert not read(device, _at(12.5))["charging"]  # the pattern: driving
    assert later["plugged"] and later["charging"] and later["chargeRate"] > 0
    assert abs(start["batteryLevel"] - before["batteryLevel"]) <= 0.2  # no jump at the start
    gained = later["batteryLevel"] - start["batteryLevel"]
    expected = later["chargeRate"] / later["batteryCapacity"] * 100 * 0.5
    assert gained == pytest.approx(expected, abs=0.3)
    assert read(device, _at(13.99), [charge])["batteryLevel"] <= 90


def test_vehicle_idle_holds_the_level_and_stops_charging(h, fleet, read):
    device = fleet("vehicle")[1]
    idle = h.action("idle", _at(22), _at(26))
    held = [read(device, _at(22 + k / 2), [idle]) for k in range(8)]
    assert len({s["batteryLevel"] for s in held}) == 1
    assert not any(s["charging"] for s in held)
    assert read(device, _at(23))["charging"]  # the pattern charges overnight
    # After the window the car rejoins its pattern: charging again, no jump.
    end = read(device, _at(26) - SECOND, [idle])
    after = read(device, _at(26) + SECOND, [idle])
    assert after["charging"] and abs(after["batteryLevel"] - end["batteryLevel"]) <= 0.2
    assert read(device, _at(35), [idle]) == read(device, _at(35))  # rejoined by next morning


@pytest.mark.parametrize("state", ["scheduled", "cancelled", "failed"])
def test_actions_not_accepted_have_no_effect(h, fleet, read, state):
    for device_type, command in (
        ("vehicle", "idle"),
        ("battery", "idle"),
        ("ev_charger", "charge"),
    ):
        device = fleet(device_type)[2]
        ignored = h.action(command, _at(12), _at(16), state=state)
        assert read(device, _at(13), [ignored]) == read(device, _at(13))


def test_acknowledged_actions_already_count(h, fleet, read):
    device = fleet("battery")[3]
    idle = h.action("idle", _at(12), _at(16), state="acknowledged")
    assert read(device, _at(13), [idle])["status"] == "idle"


def test_battery_idle_holds_its_level(h, fleet, read):
    device = fleet("battery")[4]
    idle = h.action("idle", _at(16), _at(19))
    states = [read(device, _at(16 + k / 4), [idle]) for k in range(12)]
    assert len({s["level"] for s in states}) == 1
    assert all(s["status"] == "idle" and s["chargeRate"] == 0 for s in states)
    assert all(s["currentMode"] == "idle" for s in states)
    assert read(device, _at(17))["status"] == "discharging"


def test_battery_charge_reaches_its_target_then_returns_to_auto(h, fleet, read):
    device = fleet("battery")[5]
    charge = h.action("charge", _at(18), None, target=95, power=2)
    first = read(device, _at(18.25), [charge])
    assert first["status"] == "charging" and first["chargeRate"] == pytest.approx(2.0, abs=0.01)
    assert first["currentMode"] == "charge"
    hours_needed = (95 - read(device, _at(18))["level"]) / 100 * first["capacity"] / 2
    at_goal = read(device, _at(18 + hours_needed - 0.01), [charge])
    assert at_goal["level"] == pytest.approx(95, abs=0.3)
    after = read(device, _at(18 + hours_needed + 0.5), [charge])
    assert after["currentMode"] == "auto.balanced"
    assert after["level"] < 95 and after["status"] == "discharging"  # evening peak again


def test_battery_discharge_and_reserve_mode(h, fleet, read):
    device = fleet("battery")[6]
    discharge = h.action("discharge", _at(10), _at(11), power=3)
    s = read(device, _at(10.5), [discharge])
    assert s["status"] == "discharging" and s["chargeRate"] == pytest.approx(-3.0, abs=0.01)
    reserve = h.action("auto.reserve", _at(12), None, reserve=60)
    evening = [read(device, _at(19 + k / 2), [reserve]) for k in range(6)]
    assert all(s["currentMode"] == "auto.reserve" and s["level"] >= 59.9 for s in evening)
    assert read(device, _at(20.5))["level"] < 45  # the pattern would go lower
    assert evening[-1]["status"] == "idle"  # held at the reserve


def test_newer_action_replaces_older_and_mode_comes_back(h, fleet, read):
    device = fleet("battery")[7]
    export = h.action("auto.export", _at(8), None)
    idle = h.action("idle", _at(12), _at(13))
    assert read(device, _at(12.5), [export, idle])["currentMode"] == "idle"
    assert read(device, _at(14), [export, idle])["currentMode"] == "auto.export"
    assert read(device, _at(11), [idle, export])["currentMode"] == "auto.export"  # order-free


def test_charger_charge_and_idle(h, fleet, read):
    device = fleet("ev_charger")[8]
    charge = h.action("charge", _at(12), _at(14), power=3.7)
    s = read(device, _at(13), [charge])
    assert s["isConnected"] and s["isCharging"] and s["currentPower"] == 3.7
    assert s["status"] == "charging"
    open_ended = h.action("charge", _at(12), None, power=3.7)
    assert read(device, _at(15.9), [open_ended])["isCharging"]  # a 4-hour session
    assert not read(device, _at(16.1), [open_ended])["isCharging"]
    idle = h.action("idle", _at(21), _at(23))
    night = read(device, _at(22), [idle])
    assert night["isConnected"] and not night["isCharging"] and night["status"] == "connected"
    assert read(device, _at(22))["isCharging"]


def test_a_long_history_is_walked_forwards(h, fleet, read):
    """Thousands of actions: no recursion limit, and the newest still decides."""
    device = fleet("battery")[9]
    history = [
        h.action("charge" if k % 2 else "idle", _at(k / 4), _at(k / 4 + 0.2), power=1)
        for k in range(3000)
    ]
    history.append(h.action("idle", _at(800), None))
    # Distinct ids: the helper names actions by command and start time only.
    history = [attrs.evolve(a, id=f"act_{k}") for k, a in enumerate(history)]
    first = read(device, _at(801), history)
    assert first["status"] == "idle" and first["currentMode"] == "idle"
    assert read(device, _at(801), history) == first
