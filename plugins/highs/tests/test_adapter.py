"""The highs driver end to end: validated scan input → solver → the common result shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from wattbridge.drivers.scans import ScanSolver, SolveContext, SolverFailed
from wattbridge.plugins import PluginSet
from wattbridge.serialization import unstructure
from wattbridge.validation.scans import validate_scan_input
from wattbridge_highs.adapter import scan_to_problem
from wattbridge_highs.solver import HighsSolver

BASE: dict[str, Any] = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "goal": "cost-savings",
    "location": {"lat": 52.09, "lon": 5.12},
}


def test_registered_through_its_entry_point() -> None:
    plugins = PluginSet.discover(load=["highs"])
    solver = plugins.drivers["solver"]["highs"].driver
    assert isinstance(solver, ScanSolver)
    assert solver.environments == frozenset({"live"}) and solver.timeline is None


def test_units_are_converted() -> None:
    scan = validate_scan_input({
        **BASE,
        "newPv": [{"maxPanelCount": 10, "panelWp": 400, "tilt": 30, "azimuth": 180,
                   "pricePerPanel": 480}],
        "electricBattery": {"capacityKwh": 8, "roundtripEfficiency": 81,
                            "minimumChargeLevel": 20},
    })
    problem = scan_to_problem(scan)
    array = problem.pv[0]
    assert array.max_kwp == pytest.approx(4.0)
    assert array.price_per_kwp == pytest.approx(1200.0)
    assert problem.battery is not None and problem.battery.fixed
    assert problem.battery.roundtrip_efficiency == pytest.approx(0.81)
    assert problem.battery.minimum_charge_level == pytest.approx(0.2)
    assert problem.load_kwh.sum() == pytest.approx(3500)


@pytest.mark.slow
def test_full_year_result_has_the_common_shape_and_balances() -> None:
    scan = validate_scan_input({
        **BASE,
        "existingPv": [{"kWp": 2.0, "tilt": 35, "azimuth": 180}],
        "newPv": [{"maxPanelCount": 12, "tilt": 35, "azimuth": 180}],
        "electricBattery": {"minKwh": 0, "maxKwh": 10},
        "export": {"allowed": True},
    })
    result = unstructure(HighsSolver().solve(scan, SolveContext("scan_t", timedelta(seconds=120))))
    energy = result["energy"]
    assert energy["selfConsumedKwh"] + energy["gridExportKwh"] == pytest.approx(
        energy["pvProductionKwh"], abs=0.2)
    assert energy["selfConsumedKwh"] + energy["gridImportKwh"] == pytest.approx(
        energy["consumptionKwh"], abs=0.2)
    assert len(result["monthly"]) == 12
    assert result["metadata"]["source"] == "solver" and result["metadata"]["solver"] == "highs"
    assert result["recommendation"]["newPv"]["panelCount"] <= 12


def test_studio_scan_fails_with_a_reason() -> None:
    scan = validate_scan_input({
        "inputMethod": "studio", "customProfileId": "prof_1", "goal": "cost-savings",
        "location": {"lat": 52.0, "lon": 5.0},
    })
    with pytest.raises(SolverFailed, match="prof_1"):
        HighsSolver().solve(scan, SolveContext("scan_t", timedelta(seconds=5)))
