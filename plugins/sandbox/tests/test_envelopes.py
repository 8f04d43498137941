"""Every device keeps inside the envelopes of the contract, every hour of every month."""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import pairwise

import pytest

from wattbridge_sandbox import SandboxProvider
from wattbridge_sandbox.seeding import draws


def _windows(h, day, read, device, step=30):
    """Samples of one cycle (06:00 → next 06:00), grouped by contract window."""
    groups: dict[str, list[dict]] = {"06-09": [], "09-17": [], "17-21": [], "21-06": []}
    for at in h.instants(day, step, start_hour=6, hours=24):
        h = (at.hour + at.minute / 60) % 24
        key = (
            "06-09"
            if 6 <= h < 9
            else "09-17"
            if 9 <= h < 17
            else "17-21"
            if 17 <= h < 21
            else "21-06"
        )
        groups[key].append(read(device, at))
    return groups


def _monotone(values, rising: bool) -> bool:
    pairs = pairwise(values)
    return all(b >= a for a, b in pairs) if rising else all(b <= a for a, b in pairs)


def test_vehicle_envelopes(h, fleet, read):
    plugged_mornings = unplugged_noons = samples = 0
    for device in fleet("vehicle"):
        limit = device.attributes["chargeLimit"]
        for day in h.sample_days():
            w = _windows(h, day, read, device)
            for s in [s for group in w.values() for s in group]:
                assert s["fullyCharged"] == (s["batteryLevel"] >= limit)
                expected_range = (
                    s["batteryLevel"] / 100 * s["batteryCapacity"] * device.attributes["kmPerKwh"]
                )
                assert abs(s["range"] - expected_range) <= 1.5
                assert not (s["charging"] and not s["plugged"])
                assert (s["chargeRate"] > 0) == s["charging"]
            for s in w["06-09"]:
                assert 80 <= s["batteryLevel"] <= 95
                if s["plugged"]:
                    assert s["charging"] or s["fullyCharged"]
            levels = [s["batteryLevel"] for s in w["09-17"]]
            assert all(69 <= v <= 95 for v in levels) and _monotone(levels, rising=False)
            levels = [s["batteryLevel"] for s in w["17-21"]]
            assert all(47 <= v <= 73 for v in levels) and _monotone(levels, rising=False)
            assert all(s["plugged"] and s["charging"] for s in w["21-06"])
            levels = [s["batteryLevel"] for s in w["21-06"]]
            assert all(47 <= v <= 85 for v in levels) and _monotone(levels, rising=True)
            samples += 1
            plugged_mornings += w["06-09"][2]["plugged"]
            unplugged_noons += not w["09-17"][1]["plugged"]  # 09:30
    # "likely" events happen on most days, but not on all of them.
    assert 0.75 * samples < plugged_mornings < samples
    assert 0.8 * samples < unplugged_noons < samples


def test_battery_envelopes(h, fleet, read):
    night_idle = night_charging = 0
    for device in fleet("battery"):
        for day in h.sample_days():
            w = _windows(h, day, read, device)
            levels = [s["level"] for s in w["06-09"]]
            assert all(s["status"] == "discharging" and s["chargeRate"] < 0 for s in w["06-09"])
            assert all(44 <= v <= 74 for v in levels) and _monotone(levels, rising=False)
            levels = [s["level"] for s in w["09-17"][:12]]  # 09:00-14:30
            assert all(s["status"] == "charging" for s in w["09-17"][1:12])
            assert all(44 <= v <= 95 for v in levels) and _monotone(levels, rising=True)
            evening = w["09-17"][12:] + w["17-21"]  # 15:00-20:30
            levels = [s["level"] for s in evening]
            assert all(s["status"] == "discharging" for s in evening)
            assert all(26 <= v <= 95 for v in levels) and _monotone(levels, rising=False)
            for s in w["21-06"]:
                assert s["status"] in ("idle", "charging")
                assert 0 <= s["chargeRate"] <= 0.2 * s["capacity"]  # slow: at most 20 %/h
                night_idle += s["status"] == "idle"
                night_charging += s["status"] == "charging"
            levels = [s["level"] for s in w["21-06"]]
            assert _monotone(levels, rising=True)
            assert all(
                s["currentMode"] == "auto.balanced"
                for s in [s for group in w.values() for s in group]
            )
    assert night_idle > 0 and night_charging > 0


def test_solar_envelopes(h, fleet, read):
    for device in fleet("solar_inverter"):
        for day in h.sample_days():
            samples = [(at, read(device, at)) for at in h.instants(day, 15)]
            power = {a.hour + a.minute / 60: s["currentPower"] for a, s in samples}
            for at, s in samples:
                hour = at.hour + at.minute / 60
                if hour >= 18 or hour < 6:
                    assert s["status"] == "night" and s["currentPower"] == 0 and not s["producing"]
                else:
                    assert s["status"] in ("producing", "idle")
                    assert s["producing"] == (s["currentPower"] > 0)
                assert 0 <= s["currentPower"] <= s["ratedPower"]
            ramp = [power[x] for x in sorted(power) if 6 <= x <= 9]
            decline = [power[x] for x in sorted(power) if 15 <= x <= 18]
            peak_hour = max(power, key=power.get)
            assert all(b >= a for a, b in pairwise(ramp))
            assert all(b <= a for a, b in pairwise(decline))
            assert 9 <= peak_hour <= 15
            assert all(s["status"] == "producing" for at, s in samples if 9 <= at.hour < 15)
            today = [s["energyToday"] for _, s in samples]
            assert today[0] == 0 and all(b >= a for a, b in pairwise(today))


def test_ev_charger_envelopes(h, fleet, read):
    for device in fleet("ev_charger"):
        max_kw = device.attributes["phases"] * 230 * device.attributes["maxCurrentA"] / 1000
        for day in h.sample_days():
            w = _windows(h, day, read, device)
            for s in [s for group in w.values() for s in group]:
                assert s["isCharging"] == (s["currentPower"] > 0)
                assert s["status"] == (
                    "charging"
                    if s["isCharging"]
                    else "connected"
                    if s["isConnected"]
                    else "available"
                )
                assert s["currentPower"] <= max_kw + 1e-9
                assert not (s["isCharging"] and not s["isConnected"])
                assert s["maxCurrent"] == device.attributes["maxCurrentA"]
            assert all(s["isConnected"] for s in w["21-06"])
            assert w["21-06"][0]["isCharging"]  # the overnight session starts at 21:00
            assert not any(s["isCharging"] for s in w["09-17"])


@pytest.mark.parametrize("device_type", ["vehicle", "battery", "solar_inverter", "ev_charger"])
def test_reads_are_deterministic(h, provider, fleet, read, device_type):
    from wattbridge_sandbox.seeding import draws

    devices = fleet(device_type)[:10]
    moments = [
        at + timedelta(minutes=7) for day in h.sample_days()[:4] for at in h.instants(day, 180)
    ]
    first = [read(d, at) for d in devices for at in moments]
    draws.cache_clear()  # a cold process must agree with a warm one
    assert [read(d, at) for d in devices for at in moments] == first
    assert [read(d, at) for d in reversed(devices) for at in reversed(moments)] == first[::-1]


def test_devices_differ(h, fleet, read):
    at = h.sample_days()[5] + timedelta(hours=12, minutes=10)
    for device_type in ("vehicle", "battery", "solar_inverter"):
        states = [tuple(sorted(read(d, at).items())) for d in fleet(device_type)]
        assert len(set(states)) > len(states) // 2


# The "about" levels of the contract (SPEC §4) at the window edges, with a tolerance.
_ABOUT = {
    "vehicle": ("batteryLevel", ((17, 71), (17, 70), (21, 50), (30, 82))),
    "battery": ("level", ((6, 70), (9, 46), (9, 50), (15, 92), (15, 90), (21, 30))),
}


@pytest.mark.parametrize("device_type", list(_ABOUT))
def test_levels_travel_between_the_contract_values(h, fleet, read, device_type):
    field, marks = _ABOUT[device_type]
    tops = []
    for device in fleet(device_type):
        for day in h.sample_days():
            for hour, about in marks:
                value = read(device, day + timedelta(hours=hour))[field]
                assert abs(value - about) <= 5, (device.id, day, hour, value)
            if device_type == "vehicle":
                nine = read(device, day + timedelta(hours=9))
                if read(device, day + timedelta(hours=8, minutes=30))["plugged"]:
                    tops.append(nine[field])  # charged in the morning: "from about 95 %"
    if device_type == "vehicle":
        assert tops and sum(tops) / len(tops) >= 90 and min(tops) >= 85


@pytest.mark.parametrize("device_type", ["vehicle", "battery", "solar_inverter", "ev_charger"])
def test_the_same_instant_gives_identical_json(h, provider, fleet, device_type):
    moments = [day + timedelta(hours=hour, minutes=13) for day in h.sample_days()
               for hour in range(0, 24, 5)]
    devices = fleet(device_type)[:8]

    def dump(p):
        return [json.dumps(dict(p.read_state(d, at, ()).state)) for d in devices for at in moments]

    first = dump(provider)
    draws.cache_clear()
    assert dump(SandboxProvider()) == first  # a new process (cold caches) answers the same bytes
    assert "-0.0" not in "".join(first)
