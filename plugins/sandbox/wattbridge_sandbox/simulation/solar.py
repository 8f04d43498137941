"""The solar inverter: a sine-shaped day scaled by season and weather.

- 18-06: night, no production;
- from sunrise (06:00-06:24, per device) to sunset (17:36-18:00) power follows
  a half sine: ramping up 06-09, peak 09-15, declining 15-18;
- each day's peak is ``ratedPower x peakRatio x season(day) x weather(day)``.
  ``season`` is a cosine over the year, highest at the June solstice in the
  north and at the December solstice for a southern latitude, with a swing that
  grows with the distance from the equator; ``weather`` (0.8-1.0) is a sum of
  three slow cosines with per-device phases, so days differ irregularly.

Because season and weather are cosines of the day number, their product is a
sum of cosines and the energy produced since installation is a closed-form
sum: ``energyTotal`` costs the same to compute for any date and never
decreases.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

from wattbridge_sandbox.profiles import SolarProfile
from wattbridge_sandbox.simulation.timebase import day_of

YEAR_DAYS = 365.2425
JUNE_SOLSTICE_DAY = 171  # 2015-06-21, days since the epoch
SEASON_MEAN = 0.6
WEATHER_MEAN = 0.9
WEATHER_AMPLITUDES = (0.05, 0.035, 0.015)
NIGHT_START, NIGHT_END = 18.0, 6.0

_Term = tuple[float, float, float]  # amplitude, angular frequency per day, phase


@dataclass(frozen=True, slots=True)
class SolarModel:
    """Per-device constants of the solar simulation, computed once per profile."""

    peak_kw: float  # rated power x peak ratio
    sunrise: float
    sunset: float
    day_energy_factor: float  # kWh per (peak kW x season x weather): integral of the sine
    season: _Term
    weather: tuple[_Term, ...]
    terms: tuple[_Term, ...]  # season x weather as a sum of cosines
    install_day: int
    installed_total: float  # the closed-form sum up to the install day


@lru_cache(maxsize=65_536)
def solar_model(profile: SolarProfile) -> SolarModel:
    """Precompute the constants of ``profile``."""
    omega = 2.0 * math.pi / YEAR_DAYS
    swing = 0.4 * min(1.0, max(0.25, (abs(profile.latitude) - 20.0) / 40.0))
    phase = -omega * JUNE_SOLSTICE_DAY + (math.pi if profile.latitude < 0 else 0.0)
    weather = tuple(
        (amp, 2.0 * math.pi / period, ph)
        for amp, period, ph in zip(
            WEATHER_AMPLITUDES, profile.weather_periods, profile.weather_phases, strict=True
        )
    )
    terms: list[_Term] = [
        (SEASON_MEAN * WEATHER_MEAN, 0.0, 0.0),
        (swing * WEATHER_MEAN, omega, phase),
    ]
    for amp, w, ph in weather:
        terms.append((SEASON_MEAN * amp, w, ph))
        terms.append((swing * amp / 2.0, omega + w, phase + ph))
        terms.append((swing * amp / 2.0, omega - w, phase - ph))
    length = profile.sunset_h - profile.sunrise_h
    peak = profile.rated_power_kw * profile.peak_ratio
    model = SolarModel(
        peak_kw=peak,
        sunrise=profile.sunrise_h,
        sunset=profile.sunset_h,
        day_energy_factor=peak * 2.0 * length / math.pi,
        season=(swing, omega, phase),
        weather=weather,
        terms=tuple(terms),
        install_day=profile.install_day,
        installed_total=0.0,
    )
    return dataclasses.replace(model, installed_total=_cumulative(model, profile.install_day))


def day_factor(model: SolarModel, day: int) -> float:
    """season x weather of ``day`` (days since the epoch)."""
    amp, w, ph = model.season
    weather = WEATHER_MEAN + sum(a * math.cos(f * day + p) for a, f, p in model.weather)
    return (SEASON_MEAN + amp * math.cos(w * day + ph)) * weather


def _cumulative(model: SolarModel, days: int) -> float:
    """Energy of days ``0 … days-1`` in closed form (kWh)."""
    total = 0.0
    for amp, w, ph in model.terms:
        if w == 0.0:
            total += amp * days * math.cos(ph)
        else:
            total += (
                amp
                * math.sin(days * w / 2.0)
                / math.sin(w / 2.0)
                * math.cos(ph + (days - 1) * w / 2.0)
            )
    return total * model.day_energy_factor


@dataclass(frozen=True, slots=True)
class SolarPoint:
    """The inverter at one instant (unrounded)."""

    power_kw: float
    energy_today: float
    energy_total: float
    daylight: bool  # inside 06-18, whether or not the sun is up for this array


def solar_point(profile: SolarProfile, t: float) -> SolarPoint:
    """The inverter's state at ``t`` (epoch hours)."""
    model = solar_model(profile)
    day, hour = day_of(t)
    daylight = NIGHT_END <= hour < NIGHT_START
    if day < model.install_day:
        return SolarPoint(0.0, 0.0, 0.0, daylight)
    factor = day_factor(model, day)
    before = _cumulative(model, day) - model.installed_total
    if hour <= model.sunrise:
        return SolarPoint(0.0, 0.0, before, daylight)
    energy = model.day_energy_factor * factor
    after = _cumulative(model, day + 1) - model.installed_total
    if hour >= model.sunset:
        return SolarPoint(0.0, energy, after, daylight)
    phase = math.pi * (hour - model.sunrise) / (model.sunset - model.sunrise)
    today = energy * (1.0 - math.cos(phase)) / 2.0
    return SolarPoint(
        model.peak_kw * factor * math.sin(phase), today, min(before + today, after), daylight
    )
