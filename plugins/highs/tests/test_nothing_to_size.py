"""A valid scan with nothing to size (no new PV, no battery) gets the house as it is.

Its LP has no columns, which HiGHS reports as an "empty" model without an
objective; the answer is still well defined and must not end as a failed scan.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from wattbridge.drivers.scans import SolveContext
from wattbridge.validation.scans import validate_scan_input
from wattbridge_highs.solver import HighsSolver

BASE: dict[str, Any] = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "location": {"lat": 52.09, "lon": 5.12},
}


@pytest.mark.parametrize("goal", ["cost-savings", "self-sufficiency"])
def test_no_pv_and_no_battery_is_the_status_quo(goal: str) -> None:
    scan = validate_scan_input({**BASE, "goal": goal})
    result = HighsSolver().solve(scan, SolveContext("scan_t", timedelta(seconds=30)))
    assert result.recommendation.new_pv is None and result.recommendation.battery is None
    energy = result.energy
    assert energy.consumption_kwh == pytest.approx(3500, abs=0.1)
    assert energy.grid_import_kwh == pytest.approx(3500, abs=0.1)
    assert energy.pv_production_kwh == energy.grid_export_kwh == 0
    assert result.financial.investment == 0 and result.financial.return_period is None
    assert len(result.monthly) == 12


@pytest.mark.parametrize("goal", ["cost-savings", "self-sufficiency"])
def test_existing_pv_alone_is_reported_as_it_is(goal: str) -> None:
    scan = validate_scan_input(
        {
            **BASE,
            "goal": goal,
            "existingPv": [{"kWp": 3.2, "tilt": 35, "azimuth": 180}],
            "export": {"allowed": True},
        }
    )
    result = HighsSolver().solve(scan, SolveContext("scan_t", timedelta(seconds=30)))
    energy = result.energy
    assert 2800 < energy.pv_production_kwh < 3400  # ~960 kWh/kWp, all of it delivered
    assert energy.self_consumed_kwh + energy.grid_export_kwh == pytest.approx(
        energy.pv_production_kwh, abs=0.2
    )
    assert result.financial.investment == 0 and result.financial.yearly_savings == 0
