"""Shared inputs: a real year for the Netherlands and a one-week slice of it."""

from __future__ import annotations

import numpy as np
import pytest

from wattbridge_highs.loads import load_profile
from wattbridge_highs.pvyield import yield_per_kwp

LAT, LON = 52.09, 5.12


@pytest.fixture(scope="session")
def year_yield() -> np.ndarray:
    """Hourly kWh per kWp, 35° tilt facing south, in the Netherlands."""
    return yield_per_kwp(LAT, LON, 35, 180)


@pytest.fixture(scope="session")
def year_load() -> np.ndarray:
    """The standard profile for 3500 kWh a year."""
    return load_profile("standard", 3500)


@pytest.fixture(scope="session")
def week(year_yield: np.ndarray, year_load: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A week in May (load, yield)."""
    start = 24 * 130
    return year_load[start : start + 168].copy(), year_yield[start : start + 168].copy()
