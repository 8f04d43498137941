"""The solver's own input and output: a sizing problem in hourly series, and its answer.

These classes know nothing about the API's JSON or the validated scan model; a
thin adapter maps a scan onto a :class:`SizingProblem` and a
:class:`SizingResult` back onto the result shape. Every default price and
lifetime lives here, in one place, and is documented in docs/solver.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Goal = Literal["cost-savings", "self-sufficiency"]

# Documented defaults (docs/solver.md, "Defaults"). Prices are installed prices
# including VAT for a Dutch/German single-family home, 2025.
DEFAULT_PV_PRICE_PER_KWP = 1200.0  # € per kWp installed
DEFAULT_BATTERY_PRICE_PER_KWH = 600.0  # € per kWh installed
DEFAULT_PV_LIFETIME_YEARS = 25
DEFAULT_BATTERY_LIFETIME_YEARS = 15
DEFAULT_DISCOUNT_RATE = 0.04
DEFAULT_IMPORT_PRICE = 0.30  # € per kWh
DEFAULT_EXPORT_PRICE = 0.08  # € per kWh
DEFAULT_ROUNDTRIP_EFFICIENCY = 0.90
DEFAULT_MINIMUM_CHARGE_LEVEL = 0.10
DEFAULT_C_RATE = 0.5  # kW per kWh, used when no powerKw is given
DEFAULT_CO2_KG_PER_KWH = 0.32  # grid electricity displaced per kWh of PV used or fed in


@dataclass(frozen=True)
class PvArray:
    """One PV array: an hourly yield per kWp and either a fixed or a sizeable size.

    ``kwp_per_panel`` is set for new arrays (sizeable in whole panels up to
    ``max_panels``); existing arrays have ``existing_kwp`` and no panels.
    """

    yield_per_kwp: FloatArray
    existing_kwp: float = 0.0
    max_panels: int = 0
    kwp_per_panel: float = 0.0
    price_per_kwp: float = DEFAULT_PV_PRICE_PER_KWP

    @property
    def is_new(self) -> bool:
        """Whether the solver sizes this array (as opposed to an installed one)."""
        return self.max_panels > 0 and self.kwp_per_panel > 0

    @property
    def max_kwp(self) -> float:
        """Upper bound of the new capacity (``maxPanelCount x panelWp``)."""
        return self.max_panels * self.kwp_per_panel


@dataclass(frozen=True)
class BatteryOptions:
    """Battery to size between ``min_kwh`` and ``max_kwh`` (equal for a fixed battery).

    ``power_kw`` fixes the charge and discharge limit; without it the limit is
    ``c_rate x capacity``. ``minimum_charge_level`` is the share of the capacity
    that is never used; ``roundtrip_efficiency`` is split evenly between
    charging and discharging (each step gets its square root).
    """

    min_kwh: float
    max_kwh: float
    power_kw: float | None = None
    c_rate: float = DEFAULT_C_RATE
    roundtrip_efficiency: float = DEFAULT_ROUNDTRIP_EFFICIENCY
    minimum_charge_level: float = DEFAULT_MINIMUM_CHARGE_LEVEL
    price_per_kwh: float = DEFAULT_BATTERY_PRICE_PER_KWH

    @property
    def fixed(self) -> bool:
        """Whether the capacity is given rather than sized."""
        return self.min_kwh == self.max_kwh

    @property
    def step_efficiency(self) -> float:
        """Efficiency of one charge or one discharge step."""
        return float(np.sqrt(self.roundtrip_efficiency))


@dataclass(frozen=True)
class SizingProblem:
    """Everything the solver needs, as hourly kWh series over one cyclic period.

    The period is usually a year (8760 hours); shorter periods (tests) scale the
    annualised investment by ``hours / 8760`` so that sizes stay comparable.
    """

    load_kwh: FloatArray
    pv: tuple[PvArray, ...] = ()
    battery: BatteryOptions | None = None
    goal: Goal = "cost-savings"
    export_allowed: bool = False
    import_price: float = DEFAULT_IMPORT_PRICE
    export_price: float = DEFAULT_EXPORT_PRICE
    pv_lifetime_years: int = DEFAULT_PV_LIFETIME_YEARS
    battery_lifetime_years: int = DEFAULT_BATTERY_LIFETIME_YEARS
    discount_rate: float = DEFAULT_DISCOUNT_RATE
    co2_kg_per_kwh: float = DEFAULT_CO2_KG_PER_KWH

    @property
    def hours(self) -> int:
        """Number of hourly steps."""
        return int(self.load_kwh.shape[0])

    @property
    def period_share(self) -> float:
        """Share of a year the series covers (scales the annualised investment)."""
        return self.hours / 8760.0

    def existing_pv_kwh(self) -> FloatArray:
        """Hourly output of the installed arrays."""
        total = np.zeros(self.hours)
        for array in self.pv:
            if array.existing_kwp:
                total += array.existing_kwp * array.yield_per_kwp
        return total

    def new_arrays(self) -> list[PvArray]:
        """The arrays the solver sizes, in input order."""
        return [a for a in self.pv if a.is_new]


def capital_recovery_factor(rate: float, years: int) -> float:
    """Share of an investment to pay each year to repay it over ``years`` at ``rate``."""
    if rate == 0:
        return 1.0 / years
    growth = (1.0 + rate) ** years
    return rate * growth / (growth - 1.0)


@dataclass(frozen=True)
class MonthlyEnergy:
    """Energy totals of one calendar month, in kWh."""

    month: int
    consumption_kwh: float
    pv_production_kwh: float
    self_consumed_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float


@dataclass(frozen=True)
class Dispatch:
    """Hourly flows of the reported solution, in kWh (never charging and discharging at once)."""

    pv_kwh: FloatArray
    grid_import: FloatArray
    grid_export: FloatArray
    curtailed: FloatArray
    charge: FloatArray
    discharge: FloatArray
    stored: FloatArray  # usable energy above the minimum charge level, end of each hour


@dataclass(frozen=True)
class SizingResult:
    """The recommendation with its energy, money and CO2 figures.

    Balance rules (docs/solver.md): ``self_consumed = consumption - import``
    and ``pv_production = self_consumed + export``, exactly; so
    ``pv_production`` is the PV energy *delivered* (generated minus curtailed
    minus battery losses); the physical figures are kept alongside.
    """

    goal: Goal
    new_panels: tuple[int, ...]
    new_kwp: float
    battery_kwh: float | None
    battery_power_kw: float | None
    consumption_kwh: float
    pv_production_kwh: float
    self_consumed_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float
    pv_generated_kwh: float
    curtailed_kwh: float
    battery_loss_kwh: float
    self_sufficiency: float
    self_consumption: float
    investment: float
    yearly_savings: float
    return_period: float | None
    co2_saved_kg: float
    annual_cost: float
    monthly: tuple[MonthlyEnergy, ...]
    solve_seconds: float
    status: str
    dispatch: Dispatch = field(repr=False, compare=False)
