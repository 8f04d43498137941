"""Hourly PV output per kWp for a location, tilt and azimuth, computed offline.

No weather data is downloaded or shipped. The chain (docs/data.md):

1. sun position every 15 minutes (Spencer's declination and equation of time);
2. clear-sky horizontal irradiance (Haurwitz);
3. a seeded synthetic weather generator: a daily clear-sky index drawn from a
   beta distribution around a monthly mean, with hourly AR(1) variation; the
   monthly means are calibrated so that De Bilt (52.1° N, 5.2° E) reproduces
   its long-term monthly global irradiation;
4. Erbs decomposition into direct and diffuse, isotropic transposition onto the
   plane of the array with ground reflection;
5. a temperature-corrected DC output with a fixed system performance ratio.

The same seed and location always give the same series, so a scan is
reproducible. Hours are local standard time of a non-leap year.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from wattbridge_highs.problem import FloatArray

HOURS = 8760
_SUB = 4  # samples per hour, so sunrise and sunset hours are not lost
SOLAR_CONSTANT = 1367.0  # W/m²
ALBEDO = 0.2
PERFORMANCE_RATIO = 0.86  # inverter, wiring, soiling, mismatch
TEMPERATURE_COEFFICIENT = -0.004  # per K above 25 °C
CELL_HEATING = 0.03  # K per W/m² on the module
# Monthly mean clear-sky index (measured / clear-sky horizontal irradiation),
# calibrated to De Bilt; see docs/data.md.
CLEAR_SKY_INDEX = (0.48, 0.54, 0.57, 0.64, 0.61, 0.66, 0.65, 0.62, 0.62, 0.53, 0.49, 0.49)
_BETA_CONCENTRATION = 3.0
_HOURLY_SIGMA = 0.25
_HOURLY_PERSISTENCE = 0.7
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def default_utc_offset(lat: float, lon: float) -> int:
    """Standard-time offset: Central European Time in its band, else by longitude."""
    if 35 <= lat <= 72 and -5 <= lon <= 20:
        return 1
    return round(lon / 15)


def _sun(lat: float, lon: float, utc_offset: int) -> tuple[FloatArray, ...]:
    """Per sub-hour sample: day of year, declination, hour angle, cos(zenith)."""
    t = (np.arange(HOURS * _SUB) + 0.5) / _SUB  # hours since 1 Jan 00:00 local
    doy = np.floor(t / 24) + 1
    b = 2 * np.pi * (doy - 1) / 365
    decl = (
        0.006918
        - 0.399912 * np.cos(b)
        + 0.070257 * np.sin(b)
        - 0.006758 * np.cos(2 * b)
        + 0.000907 * np.sin(2 * b)
        - 0.002697 * np.cos(3 * b)
        + 0.00148 * np.sin(3 * b)
    )
    eot = 229.18 * (
        0.000075
        + 0.001868 * np.cos(b)
        - 0.032077 * np.sin(b)
        - 0.014615 * np.cos(2 * b)
        - 0.040849 * np.sin(2 * b)
    )
    solar_time = (t % 24) + (4 * (lon - 15 * utc_offset) + eot) / 60
    omega = np.radians(15 * (solar_time - 12))
    phi = math.radians(lat)
    cosz = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(omega)
    return doy, decl, omega, cosz


def _clear_sky_index(lat: float, lon: float, seed: int | None) -> FloatArray:
    """Seeded hourly clear-sky index for a year, from daily draws plus hourly noise."""
    if seed is None:
        seed = zlib.crc32(f"{lat:.2f},{lon:.2f}".encode())
    rng = np.random.default_rng(seed)
    month_of_day = np.repeat(np.arange(12), _DAYS_IN_MONTH)
    mean = np.asarray(CLEAR_SKY_INDEX)[month_of_day]
    daily = rng.beta(mean * _BETA_CONCENTRATION, (1 - mean) * _BETA_CONCENTRATION)
    # Rescale each month to its calibrated mean, so the draw changes the weather
    # pattern but not the monthly totals the calibration rests on.
    month_mean = np.bincount(month_of_day, daily) / np.asarray(_DAYS_IN_MONTH)
    daily *= np.asarray(CLEAR_SKY_INDEX)[month_of_day] / month_mean[month_of_day]
    noise = np.empty(HOURS)
    state = 0.0
    shocks = rng.normal(0.0, _HOURLY_SIGMA * math.sqrt(1 - _HOURLY_PERSISTENCE**2), HOURS)
    for i in range(HOURS):  # AR(1): clouds persist from one hour to the next
        state = _HOURLY_PERSISTENCE * state + shocks[i]
        noise[i] = state
    hourly = np.repeat(daily, 24) * np.exp(noise - _HOURLY_SIGMA**2 / 2)
    return np.clip(hourly, 0.02, 1.1)


def horizontal_irradiance(
    lat: float, lon: float, utc_offset: int | None = None, seed: int | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per sub-hour sample: global horizontal W/m², extraterrestrial horizontal W/m², cos z."""
    offset = default_utc_offset(lat, lon) if utc_offset is None else utc_offset
    doy, _, _, cosz = _sun(lat, lon, offset)
    mu = np.maximum(cosz, 0.0)
    clear = 1098.0 * mu * np.exp(-0.057 / np.maximum(mu, 1e-3))
    index = np.repeat(_clear_sky_index(lat, lon, seed), _SUB)
    extra = SOLAR_CONSTANT * (1 + 0.033 * np.cos(2 * np.pi * doy / 365)) * mu
    return clear * index, extra, cosz


def yield_per_kwp(
    lat: float,
    lon: float,
    tilt: float,
    azimuth: float,
    utc_offset: int | None = None,
    seed: int | None = None,
) -> FloatArray:
    """Hourly AC output in kWh per kWp (8760 values) for an array facing ``azimuth``.

    ``azimuth`` is a compass bearing (180 = south), ``tilt`` degrees from horizontal.
    """
    offset = default_utc_offset(lat, lon) if utc_offset is None else utc_offset
    doy, decl, omega, cosz = _sun(lat, lon, offset)
    ghi, extra, _ = horizontal_irradiance(lat, lon, offset, seed)
    mu = np.maximum(cosz, 0.0)
    kt = np.where(extra > 1.0, np.clip(ghi / np.maximum(extra, 1.0), 0, 1), 0.0)
    diffuse_fraction = np.where(
        kt <= 0.22,
        1 - 0.09 * kt,
        np.where(
            kt <= 0.8,
            0.9511 - 0.1604 * kt + 4.388 * kt**2 - 16.638 * kt**3 + 12.336 * kt**4,
            0.165,
        ),
    )
    dhi = ghi * diffuse_fraction
    dni = np.where(mu > 0.065, (ghi - dhi) / np.maximum(mu, 0.065), 0.0)
    beta, gamma, phi = math.radians(tilt), math.radians(azimuth - 180), math.radians(lat)
    cos_incidence = (
        np.sin(decl) * math.sin(phi) * math.cos(beta)
        - np.sin(decl) * math.cos(phi) * math.sin(beta) * math.cos(gamma)
        + np.cos(decl) * math.cos(phi) * math.cos(beta) * np.cos(omega)
        + np.cos(decl) * math.sin(phi) * math.sin(beta) * math.cos(gamma) * np.cos(omega)
        + np.cos(decl) * math.sin(beta) * math.sin(gamma) * np.sin(omega)
    )
    beam = dni * np.where(mu > 0, np.maximum(cos_incidence, 0.0), 0.0)
    plane = beam + dhi * (1 + math.cos(beta)) / 2 + ghi * ALBEDO * (1 - math.cos(beta)) / 2
    ambient = _ambient_temperature(lat, doy)
    cell = ambient + CELL_HEATING * plane
    power = plane / 1000 * PERFORMANCE_RATIO * (1 + TEMPERATURE_COEFFICIENT * (cell - 25))
    return np.asarray(np.maximum(power, 0.0).reshape(HOURS, _SUB).mean(axis=1), dtype=np.float64)


def _ambient_temperature(lat: float, doy: FloatArray) -> FloatArray:
    """Seasonal air temperature: a sinusoid peaking late July (coarse, by latitude)."""
    mean = 27 - 0.33 * abs(lat)  # ≈ 10 °C at 52° latitude
    swing = 0.13 * abs(lat)  # ≈ 7 K amplitude at 52° latitude
    season = -np.cos(2 * np.pi * (doy - 20) / 365)
    return mean + swing * (season if lat >= 0 else -season)
