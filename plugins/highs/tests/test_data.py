"""Load profiles and PV yields: shape, totals and the published ranges they are calibrated to."""

from __future__ import annotations

import numpy as np
import pytest

from wattbridge_highs.loads import PROFILES, dynamisation, load_profile, profile_descriptions
from wattbridge_highs.pvyield import yield_per_kwp


@pytest.mark.parametrize("name", list(PROFILES))
def test_profiles_scale_to_the_yearly_total(name) -> None:
    series = load_profile(name, 4200)
    assert series.shape == (8760,)
    assert series.sum() == pytest.approx(4200)
    assert series.min() > 0


def test_working_couple_uses_less_during_weekday_office_hours() -> None:
    standard = load_profile("standard", 3500).reshape(365, 24)
    couple = load_profile("coupleBothAtWork", 3500).reshape(365, 24)
    monday = 5  # 6 January 2025
    assert couple[monday, 10:16].sum() < standard[monday, 10:16].sum()


def test_dynamisation_is_bdew_polynomial() -> None:
    # Winter days weigh more than summer days.
    winter, summer = dynamisation(np.array([1.0, 180.0]))
    assert winter > 1.2 > 1 > summer


def test_profile_names_match_the_api() -> None:
    assert set(profile_descriptions()) == {
        "standard",
        "coupleBothAtWork",
        "couple1home1work",
        "3kidsbothwork",
    }


def test_yield_is_reproducible_and_orientation_matters() -> None:
    south = yield_per_kwp(52.09, 5.12, 35, 180)
    assert np.array_equal(south, yield_per_kwp(52.09, 5.12, 35, 180))
    east = yield_per_kwp(52.09, 5.12, 35, 90)
    assert 0.75 * south.sum() < east.sum() < 0.95 * south.sum()
    assert south.reshape(365, 24)[:, 0:3].sum() == 0  # nothing at night
    assert south[24 * 170 : 24 * 200].sum() > 4 * south[24 * 0 : 24 * 30].sum()
