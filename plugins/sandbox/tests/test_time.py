"""Smoothness within windows, a never-decreasing energy counter, and the seasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import attrs
import pytest

# Largest change from one minute to the next, per field: the fastest slope the
# simulation allows (a car's AC top-up, a battery's solar charge, the solar
# sine) plus one step of rounding.
_MAX_PER_MINUTE = {
    "vehicle": {"batteryLevel": 0.6, "range": 4},
    "battery": {"level": 0.35},
    "solar_inverter": {"currentPower": 0.06},
    "ev_charger": {"currentPower": 22.1 / 15 + 0.02},  # 22 kW tapering over 15 minutes
}
_EDGES = {6, 9, 17, 21}  # window edges, where the contract allows a step


@pytest.mark.parametrize("device_type", list(_MAX_PER_MINUTE))
def test_values_change_smoothly_within_windows(h, fleet, read, device_type):
    for device in fleet(device_type)[:12]:
        for day in (h.sample_days()[0], h.sample_days()[6]):
            previous = None
            for at in h.instants(day, 1):
                state = read(device, at)
                if previous is not None and not (at.minute == 0 and at.hour in _EDGES):
                    for field, bound in _MAX_PER_MINUTE[device_type].items():
                        assert abs(state[field] - previous[field]) <= bound, (device.id, at, field)
                previous = state


def test_energy_total_never_decreases(h, fleet, read):
    for device in fleet("solar_inverter")[:20]:
        # Every 20 minutes over two days around a month boundary, then daily for a year.
        start = datetime(2026, 2, 27, tzinfo=UTC)
        fine = [start + timedelta(minutes=20 * k) for k in range(3 * 72)]
        coarse = [datetime(2025, 1, 1, 12, tzinfo=UTC) + timedelta(days=k) for k in range(400)]
        for moments in (fine, coarse):
            totals = [read(device, at)["energyTotal"] for at in moments]
            assert all(b >= a for a, b in pairwise(totals))
            assert totals[-1] > totals[0]


def test_energy_total_grows_by_energy_today(h, fleet, read):
    for device in fleet("solar_inverter")[:20]:
        day = datetime(2026, 5, 10, tzinfo=UTC)
        night_before = read(device, day + timedelta(hours=2))
        evening = read(device, day + timedelta(hours=20))
        grown = evening["energyTotal"] - night_before["energyTotal"]
        assert grown == pytest.approx(evening["energyToday"], abs=0.02)
        assert night_before["energyToday"] == 0


def test_energy_total_is_fast_far_from_installation(fleet, read):
    device = fleet("solar_inverter")[0]
    # The counter is a closed-form sum: a date decades after installation costs the same.
    far = read(device, datetime(2060, 7, 1, 12, tzinfo=UTC))["energyTotal"]
    near = read(device, datetime(2026, 7, 1, 12, tzinfo=UTC))["energyTotal"]
    assert far > near * 2


def _noon_peak(read, device, month: int) -> float:
    return max(
        read(device, datetime(2026, month, 21, hour, minute, tzinfo=UTC))["currentPower"]
        for hour in (11, 12)
        for minute in (0, 30)
    )


def test_seasons_north(fleet, read):
    ratios = []
    for device in fleet("solar_inverter"):
        june, december = _noon_peak(read, device, 6), _noon_peak(read, device, 12)
        assert june > 1.3 * december
        ratios.append(june / december)
    assert sum(ratios) / len(ratios) > 2.0


def test_southern_latitude_mirrors_the_seasons(fleet, read):
    for device in fleet("solar_inverter"):
        south = attrs.evolve(
            device, attributes={**device.attributes, "latitude": -device.attributes["latitude"]}
        )
        assert _noon_peak(read, south, 12) > 1.3 * _noon_peak(read, south, 6)
        # Mirrored: southern December looks like northern June (same day-to-day weather).
        assert _noon_peak(read, south, 12) == pytest.approx(_noon_peak(read, device, 6), rel=0.25)


def test_monthly_production_follows_the_year(fleet, read):
    device = fleet("solar_inverter")[0]
    energy = {
        month: read(device, datetime(2026, month, 15, 23, tzinfo=UTC))["energyToday"]
        for month in range(1, 13)
    }
    assert max(energy, key=energy.get) in (5, 6, 7)
    assert min(energy, key=energy.get) in (11, 12, 1)
    assert energy[3] < energy[5] and energy[9] > energy[11]
