"""The typical summer and winter day the highs driver adds to its results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from wattbridge.drivers.scans import SolveContext
from wattbridge.models.scans import DispatchHour, ScanResult
from wattbridge.serialization import unstructure
from wattbridge.validation.scans import validate_scan_input
from wattbridge_highs.adapter import typical_days
from wattbridge_highs.loads import load_profile
from wattbridge_highs.problem import Dispatch
from wattbridge_highs.report import month_of_hour
from wattbridge_highs.solver import HighsSolver

SCAN: dict[str, Any] = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "goal": "cost-savings",
    "location": {"lat": 52.09, "lon": 5.12},
    "newPv": [{"maxPanelCount": 12, "tilt": 35, "azimuth": 180}],
    "electricBattery": {"minKwh": 5, "maxKwh": 15, "minimumChargeLevel": 20},
}

# Each value is rounded to 1 Wh, so a row's balance of six values closes within 3.5 Wh.
ROUNDING = 0.0035


def _closes(row: DispatchHour) -> float:
    supply = row.pv_kwh + row.grid_import_kwh + row.discharge_kwh
    return supply - (row.load_kwh + row.charge_kwh + row.grid_export_kwh)


@pytest.fixture(scope="module")
def solved() -> ScanResult:
    scan = validate_scan_input(SCAN)
    return HighsSolver().solve(scan, SolveContext("scan_t", timedelta(seconds=120)))


@pytest.mark.slow
def test_every_hour_of_both_days_balances(solved: ScanResult) -> None:
    days = solved.typical_days
    assert days is not None
    for season in (days.summer, days.winter):
        assert [row.hour for row in season] == list(range(24))
        for row in season:
            assert abs(_closes(row)) <= ROUNDING, row
            assert min(unstructure(row).values()) >= 0


@pytest.mark.slow
def test_load_is_the_profile_averaged_over_the_season(solved: ScanResult) -> None:
    # The rows derive the load from the dispatch; the profile itself is the check.
    load = load_profile("standard", 3500)
    months = month_of_hour(load.shape[0])
    days = solved.typical_days
    assert days is not None
    for season, chosen in ((days.summer, (6, 7, 8)), (days.winter, (12, 1, 2))):
        expected = load[np.isin(months, chosen)].reshape(-1, 24).mean(axis=0)
        assert [row.load_kwh for row in season] == pytest.approx(expected, abs=0.002)


@pytest.mark.slow
def test_summer_has_more_sun_and_the_battery_stays_within_its_size(solved: ScanResult) -> None:
    days = solved.typical_days
    battery = solved.recommendation.battery
    assert days is not None and battery is not None
    summer_pv = sum(row.pv_kwh for row in days.summer)
    winter_pv = sum(row.pv_kwh for row in days.winter)
    assert summer_pv > 2 * winter_pv > 0
    assert all(row.pv_kwh == 0 for row in days.summer if row.hour in (0, 1, 2, 23))
    # The content never drops below the 20 % reserve nor exceeds the capacity.
    for row in (*days.summer, *days.winter):
        assert 0.2 * battery.capacity_kwh - 0.01 <= row.stored_kwh <= battery.capacity_kwh + 0.01
    # Summer: the battery is used (charged from surplus PV by day, emptied at night).
    assert sum(row.charge_kwh for row in days.summer) > 1


@pytest.mark.slow
def test_the_document_carries_typical_days(solved: ScanResult) -> None:
    document = unstructure(solved)
    summer = document["typicalDays"]["summer"]
    assert len(summer) == 24 and len(document["typicalDays"]["winter"]) == 24
    assert set(summer[0]) == {
        "hour", "loadKwh", "pvKwh", "gridImportKwh", "gridExportKwh",
        "chargeKwh", "dischargeKwh", "storedKwh",
    }


def _dispatch(hours: int, pv: float = 1.0) -> Dispatch:
    flat = np.full(hours, pv)
    zero = np.zeros(hours)
    return Dispatch(
        pv_kwh=flat, grid_import=zero + 0.25, grid_export=flat * 0.5, curtailed=flat * 0.25,
        charge=zero, discharge=zero, stored=zero,
    )


def test_rows_average_whole_days_of_the_season() -> None:
    year = 8760
    dispatch = _dispatch(year)
    # Mark June-August apart so the average shows which hours were taken.
    dispatch.pv_kwh[np.isin(month_of_hour(year), (6, 7, 8))] = 3.0
    days = typical_days(dispatch, reserve_kwh=1.5)
    assert days is not None
    summer, winter = days.summer[12], days.winter[12]
    # PV used is generated minus curtailed; the load closes the balance.
    assert summer.pv_kwh == pytest.approx(2.75) and winter.pv_kwh == pytest.approx(0.75)
    assert winter.load_kwh == pytest.approx(0.75 + 0.25 - 0.5)
    assert winter.stored_kwh == 1.5


def test_a_period_without_both_seasons_has_no_typical_days() -> None:
    assert typical_days(_dispatch(24 * 7)) is None
