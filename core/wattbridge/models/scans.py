"""Scan models: the CreateScan input, its traits, and the sizing result.

Field names are snake_case; the converter renders them camelCase (``k_wp`` is
``kWp`` on the wire). Defaults and per-field ranges are declared here, next to
the field, and documented in docs/scans.md; rules relating several fields live in
:mod:`wattbridge.validation.scans`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from wattbridge.serialization import OMIT_IF_DEFAULT
from wattbridge.validation.constraints import Length, Range, rule

InputMethod = Literal["known", "studio"]
Goal = Literal["cost-savings", "self-sufficiency"]
ScanStatus = Literal["pending", "processing", "completed", "error"]
LoadProfileName = Literal["standard", "coupleBothAtWork", "couple1home1work", "3kidsbothwork"]

GOALS: tuple[Goal, ...] = ("cost-savings", "self-sufficiency")
INPUT_METHODS: tuple[InputMethod, ...] = ("known", "studio")

LOAD_PROFILES: Mapping[LoadProfileName, str] = {
    "standard": "An average household: a morning peak, a larger evening peak, "
    "some use during the day.",
    "coupleBothAtWork": "Two adults away on weekdays: little daytime use, "
    "pronounced morning and evening peaks, more at weekends.",
    "couple1home1work": "Two adults, one at home: steady daytime use on weekdays "
    "besides the morning and evening peaks.",
    "3kidsbothwork": "A family of five with both parents at work: high morning "
    "and after-school use, the largest evening peak.",
}
"""The standard load profiles (``GET /v1/load-profiles``), in display order."""

MAX_PV_ENTRIES = 10
"""At most this many entries in ``existingPv`` and, separately, in ``newPv``."""

_ANGLE_TILT = Range(ge=0, le=90)
_ANGLE_AZIMUTH = Range(ge=0, le=360)
# Emptiness is an API rule (validation.scans), not a model one: stored inputs with
# no entries must still load.
_PV_LIST = Length(max=MAX_PV_ENTRIES)
_PRICE = Range(ge=0, le=10)


@attrs.frozen
class Location:
    """Where the house is; PV yield depends on it."""

    lat: float = attrs.field(metadata=rule(Range(ge=-90, le=90)))
    lon: float = attrs.field(metadata=rule(Range(ge=-180, le=180)))


@attrs.frozen
class ExistingPv:
    """An installed PV array: peak power, tilt (0 flat, 90 vertical), azimuth (180 south)."""

    k_wp: float = attrs.field(metadata=rule(Range(gt=0, le=100)))
    tilt: float = attrs.field(metadata=rule(_ANGLE_TILT))
    azimuth: float = attrs.field(metadata=rule(_ANGLE_AZIMUTH))


@attrs.frozen(kw_only=True)
class NewPv:
    """A roof area for new panels: the solver picks 1 to ``max_panel_count`` panels."""

    max_panel_count: int = attrs.field(metadata=rule(Range(ge=1, le=200)))
    panel_wp: float = attrs.field(default=430.0, metadata=rule(Range(ge=100, le=1000)))
    tilt: float = attrs.field(metadata=rule(_ANGLE_TILT))
    azimuth: float = attrs.field(metadata=rule(_ANGLE_AZIMUTH))
    price_per_panel: float = attrs.field(default=400.0, metadata=rule(Range(ge=0, le=5000)))


@attrs.frozen
class ElectricBattery:
    """A home battery: fixed (``capacity_kwh``) or sized between ``min_kwh`` and ``max_kwh``.

    ``power_kw`` None means half the capacity per hour (0.5 C).
    """

    capacity_kwh: float | None = attrs.field(default=None, metadata=rule(Range(gt=0, le=200)))
    min_kwh: float | None = attrs.field(default=None, metadata=rule(Range(ge=0, le=200)))
    max_kwh: float | None = attrs.field(default=None, metadata=rule(Range(gt=0, le=200)))
    power_kw: float | None = attrs.field(default=None, metadata=rule(Range(gt=0, le=100)))
    roundtrip_efficiency: float = attrs.field(default=90.0, metadata=rule(Range(ge=50, le=100)))
    minimum_charge_level: float = attrs.field(default=10.0, metadata=rule(Range(ge=0, le=90)))
    price_per_kwh: float = attrs.field(default=500.0, metadata=rule(Range(ge=0, le=10000)))

    @property
    def fixed(self) -> bool:
        """True when the capacity is given, not to be sized."""
        return self.capacity_kwh is not None


@attrs.frozen
class Export:
    """Whether surplus PV may be sold to the grid (opt-in)."""

    allowed: bool = False


@attrs.frozen
class Tariff:
    """Energy prices in € per kWh."""

    import_price: float = attrs.field(default=0.30, metadata=rule(_PRICE))
    export_price: float = attrs.field(default=0.08, metadata=rule(_PRICE))


@attrs.frozen(kw_only=True)
class ScanInput:
    """A validated CreateScan request: what a solver receives.

    ``load_profile`` is None for studio scans (the custom profile gives the
    load shape and ``yearly_kwh``, which is then None too). Fields are in the
    order of the API's documentation, which is also the order errors are listed in.
    """

    input_method: InputMethod
    yearly_kwh: float | None = attrs.field(default=None, metadata=rule(Range(gt=0, le=100_000)))
    load_profile: LoadProfileName | None = "standard"
    custom_profile_id: str | None = attrs.field(default=None, metadata=rule(Length(min=1, max=128)))
    goal: Goal
    location: Location
    existing_pv: tuple[ExistingPv, ...] = attrs.field(default=(), metadata=rule(_PV_LIST))
    new_pv: tuple[NewPv, ...] = attrs.field(default=(), metadata=rule(_PV_LIST))
    electric_battery: ElectricBattery | None = None
    export: Export = Export()
    tariff: Tariff = Tariff()

    @property
    def traits(self) -> ScanTraits:
        """The traits used to pick a fixture (and useful to any solver)."""
        return ScanTraits.of(self)


@attrs.frozen
class ScanTraits:
    """What kind of scan this is, in six yes/no-ish answers."""

    has_existing_pv: bool
    has_new_pv: bool
    has_battery: bool
    goal: Goal
    export_allowed: bool = False
    battery_fixed: bool = False

    @classmethod
    def of(cls, scan: ScanInput) -> ScanTraits:
        """Read the traits of a validated input."""
        battery = scan.electric_battery
        return cls(
            has_existing_pv=bool(scan.existing_pv),
            has_new_pv=bool(scan.new_pv),
            has_battery=battery is not None,
            goal=scan.goal,
            export_allowed=scan.export.allowed,
            battery_fixed=battery is not None and battery.fixed,
        )


# --- the result ----------------------------------------------------------------------


@attrs.frozen
class NewPvRecommendation:
    """How many new panels to install and their total peak power."""

    panel_count: int
    k_wp: float


@attrs.frozen
class BatteryRecommendation:
    """The battery to install (or the fixed one that was evaluated)."""

    capacity_kwh: float
    power_kw: float


@attrs.frozen
class Recommendation:
    """What to buy; a part is None when the scan did not ask for it."""

    new_pv: NewPvRecommendation | None
    battery: BatteryRecommendation | None


@attrs.frozen
class EnergyFlows:
    """A period's energy in kWh. ``pv_production_kwh`` counts existing and new PV.

    Balanced: self-consumed + export = production; self-consumed + import = consumption.
    """

    consumption_kwh: float
    pv_production_kwh: float
    self_consumed_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float


@attrs.frozen
class MonthlyEnergy:
    """One calendar month's energy (``month`` 1 to 12), in kWh."""

    month: int
    consumption_kwh: float
    pv_production_kwh: float
    self_consumed_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float


@attrs.frozen
class Financial:
    """Euros: what the recommendation costs and saves per year.

    ``return_period`` (years) = investment / yearly savings; None when there is
    nothing to pay back (no investment) or it never pays back.
    """

    investment: float
    yearly_savings: float
    return_period: float | None


@attrs.frozen
class DispatchHour:
    """One hour of a typical day, in kWh; ``stored_kwh`` is the battery's content."""

    hour: int
    load_kwh: float
    pv_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float
    charge_kwh: float
    discharge_kwh: float
    stored_kwh: float


@attrs.frozen
class TypicalDays:
    """Average hourly dispatch of a summer (June-August) and a winter (December-February)
    day, for charts; 24 rows each, hour 0-23 of the location's standard (solar-aligned,
    no daylight saving) time, which is what the hourly series are in."""

    summer: tuple[DispatchHour, ...]
    winter: tuple[DispatchHour, ...]


@attrs.frozen
class ScanResult:
    """A solver's answer. The core adds ``scanId`` and ``goal`` when it renders it.

    ``self_sufficiency`` and ``self_consumption`` are fractions between 0 and 1.
    ``metadata`` says where the numbers came from (fixture or solver).
    """

    recommendation: Recommendation
    energy: EnergyFlows
    self_sufficiency: float
    self_consumption: float
    financial: Financial
    co2_saved_kg: float
    monthly: tuple[MonthlyEnergy, ...]
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    typical_days: TypicalDays | None = attrs.field(
        default=None, metadata={OMIT_IF_DEFAULT: True}
    )
    """Optional: solvers that compute an hourly dispatch report it for charts; the key
    is absent from the document when a solver does not."""
