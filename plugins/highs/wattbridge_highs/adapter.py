"""Map the validated scan input onto a :class:`SizingProblem`, and the answer back.

The only place where the API's units meet the solver's: percentages become
fractions, a price per panel becomes a price per kWp, and the solver's
:class:`SizingResult` becomes the :class:`ScanResult` every solver returns.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from wattbridge.drivers.scans import SolverFailed
from wattbridge.models.scans import (
    BatteryRecommendation,
    DispatchHour,
    EnergyFlows,
    Financial,
    MonthlyEnergy,
    NewPvRecommendation,
    Recommendation,
    ScanInput,
    ScanResult,
    TypicalDays,
)
from wattbridge_highs.loads import load_profile
from wattbridge_highs.problem import (
    BatteryOptions,
    Dispatch,
    FloatArray,
    PvArray,
    SizingProblem,
    SizingResult,
)
from wattbridge_highs.pvyield import yield_per_kwp
from wattbridge_highs.report import month_of_hour

SUMMER_MONTHS = (6, 7, 8)
WINTER_MONTHS = (12, 1, 2)


@lru_cache(maxsize=64)
def _yield(lat: float, lon: float, tilt: float, azimuth: float) -> FloatArray:
    # The yield series is a pure function of the orientation and place; scans
    # of one neighbourhood reuse it. Read-only so a cached array cannot be changed.
    series = yield_per_kwp(lat, lon, tilt, azimuth)
    series.setflags(write=False)
    return series


def scan_to_problem(scan: ScanInput) -> SizingProblem:
    """The sizing problem for a validated ``known`` scan."""
    if scan.input_method != "known" or scan.yearly_kwh is None:
        raise SolverFailed(
            f"custom load profile {scan.custom_profile_id!r} was not found; studio profiles "
            "are not available on this server, send inputMethod 'known' with yearlyKwh"
        )
    lat, lon = scan.location.lat, scan.location.lon
    arrays = [
        PvArray(_yield(lat, lon, pv.tilt, pv.azimuth), existing_kwp=pv.k_wp)
        for pv in scan.existing_pv
    ] + [
        PvArray(
            _yield(lat, lon, pv.tilt, pv.azimuth),
            max_panels=pv.max_panel_count,
            kwp_per_panel=pv.panel_wp / 1000.0,
            price_per_kwp=pv.price_per_panel / (pv.panel_wp / 1000.0),
        )
        for pv in scan.new_pv
    ]
    return SizingProblem(
        load_kwh=load_profile(scan.load_profile or "standard", scan.yearly_kwh),
        pv=tuple(arrays),
        battery=_battery(scan),
        goal=scan.goal,
        export_allowed=scan.export.allowed,
        import_price=scan.tariff.import_price,
        export_price=scan.tariff.export_price,
    )


def _battery(scan: ScanInput) -> BatteryOptions | None:
    battery = scan.electric_battery
    if battery is None:
        return None
    if battery.capacity_kwh is not None:
        low = high = battery.capacity_kwh
    else:
        low, high = battery.min_kwh or 0.0, battery.max_kwh or 0.0
    return BatteryOptions(
        min_kwh=low,
        max_kwh=high,
        power_kw=battery.power_kw,
        roundtrip_efficiency=battery.roundtrip_efficiency / 100.0,
        minimum_charge_level=battery.minimum_charge_level / 100.0,
        price_per_kwh=battery.price_per_kwh,
    )


def _r(value: float, digits: int = 1) -> float:
    return round(float(value), digits)


def to_scan_result(scan: ScanInput, result: SizingResult) -> ScanResult:
    """The common result shape, with ``metadata`` naming the solver."""
    new_pv = None
    if scan.new_pv:
        new_pv = NewPvRecommendation(
            panel_count=int(np.sum(result.new_panels)), k_wp=_r(result.new_kwp, 2)
        )
    battery = None
    if result.battery_kwh is not None and scan.electric_battery is not None:
        battery = BatteryRecommendation(
            capacity_kwh=_r(result.battery_kwh, 2), power_kw=_r(result.battery_power_kw or 0.0, 2)
        )
    return ScanResult(
        recommendation=Recommendation(new_pv=new_pv, battery=battery),
        energy=EnergyFlows(
            consumption_kwh=_r(result.consumption_kwh),
            pv_production_kwh=_r(result.pv_production_kwh),
            self_consumed_kwh=_r(result.self_consumed_kwh),
            grid_import_kwh=_r(result.grid_import_kwh),
            grid_export_kwh=_r(result.grid_export_kwh),
        ),
        self_sufficiency=round(result.self_sufficiency, 4),
        self_consumption=round(result.self_consumption, 4),
        financial=Financial(
            investment=_r(result.investment, 0),
            yearly_savings=_r(result.yearly_savings, 0),
            return_period=None if result.return_period is None else _r(result.return_period),
        ),
        co2_saved_kg=_r(result.co2_saved_kg, 0),
        monthly=tuple(
            MonthlyEnergy(
                month=m.month,
                consumption_kwh=_r(m.consumption_kwh),
                pv_production_kwh=_r(m.pv_production_kwh),
                self_consumed_kwh=_r(m.self_consumed_kwh),
                grid_import_kwh=_r(m.grid_import_kwh),
                grid_export_kwh=_r(m.grid_export_kwh),
            )
            for m in result.monthly
        ),
        metadata={
            "source": "solver",
            "solver": "highs",
            "solveSeconds": round(result.solve_seconds, 3),
            "status": result.status,
        },
        typical_days=typical_days(result.dispatch, _reserve_kwh(scan, result)),
    )


# --- typical days ----------------------------------------------------------------------


def _reserve_kwh(scan: ScanInput, result: SizingResult) -> float:
    # The dispatch books only the usable energy; the part below the minimum
    # charge level is always in the battery too, and a chart of its content shows it.
    battery = scan.electric_battery
    if battery is None or result.battery_kwh is None:
        return 0.0
    return result.battery_kwh * battery.minimum_charge_level / 100.0


def typical_days(dispatch: Dispatch, reserve_kwh: float = 0.0) -> TypicalDays | None:
    """The average summer (June-August) and winter (December-February) day of ``dispatch``.

    Each of the 24 rows averages one hour of the day over every day of the season.
    ``pvKwh`` is the PV energy used (generated minus curtailed) and ``loadKwh`` follows
    from the hourly balance, so every row closes exactly as the dispatch does:
    ``pv + import + discharge = load + charge + export``. ``storedKwh`` is the
    battery's content at the end of the hour, its reserve below the minimum charge
    level included. None when the period does not cover both seasons (short test periods).
    """
    hours = int(dispatch.pv_kwh.shape[0])
    months = month_of_hour(hours)
    summer = _average_day(dispatch, np.isin(months, SUMMER_MONTHS), reserve_kwh)
    winter = _average_day(dispatch, np.isin(months, WINTER_MONTHS), reserve_kwh)
    if summer is None or winter is None:
        return None
    return TypicalDays(summer=summer, winter=winter)


def _average_day(
    dispatch: Dispatch, in_season: npt.NDArray[np.bool_], reserve_kwh: float
) -> tuple[DispatchHour, ...] | None:
    # Whole days only: the season masks follow calendar months, which start at midnight.
    days = int(in_season.sum()) // 24
    if days == 0:
        return None

    def per_hour(series: FloatArray) -> FloatArray:
        return np.asarray(series[in_season][: days * 24].reshape(days, 24).mean(axis=0))

    pv = per_hour(dispatch.pv_kwh - dispatch.curtailed)
    imports = per_hour(dispatch.grid_import)
    exports = per_hour(dispatch.grid_export)
    charge = per_hour(dispatch.charge)
    discharge = per_hour(dispatch.discharge)
    stored = per_hour(dispatch.stored) + reserve_kwh
    load = pv + imports + discharge - charge - exports
    return tuple(
        DispatchHour(
            hour=hour,
            load_kwh=_kwh(load[hour]),
            pv_kwh=_kwh(pv[hour]),
            grid_import_kwh=_kwh(imports[hour]),
            grid_export_kwh=_kwh(exports[hour]),
            charge_kwh=_kwh(charge[hour]),
            discharge_kwh=_kwh(discharge[hour]),
            stored_kwh=_kwh(stored[hour]),
        )
        for hour in range(24)
    )


def _kwh(value: float) -> float:
    # Watt-hour precision; clipping turns solver noise like -1e-12 into 0.
    return round(max(float(value), 0.0), 3)
