"""The report's three charts, drawn from a scan result as inline SVG.

- :func:`monthly_chart`: production and consumption per calendar month;
- :func:`day_chart`: how a typical day's consumption is covered hour by hour
  (solar, battery, grid) and where surplus solar goes (battery, grid), with the
  battery's content as a line;
- :func:`payback_chart`: cumulative savings against the investment over the years.

Colours are named in :data:`COLORS` (the page's legends and the browser test use
the same values). Each chart is a fixed ``viewBox`` that scales to its container.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from wattbridge.models.scans import DispatchHour, MonthlyEnergy
from wattbridge.reports import svg

COLORS: dict[str, str] = {
    "consumption": "#2563eb",
    "production": "#f59e0b",
    "solar": "#facc15",
    "from_battery": "#16a34a",
    "from_grid": "#64748b",
    "into_battery": "#86efac",
    "to_grid": "#fb923c",
    "stored": "#7c3aed",
    "savings": "#a7f3d0",
    "savings_line": "#059669",
    "investment": "#dc2626",
}
"""Series colours, by series name."""

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_GRID = "#e5e7eb"
_AXIS = "#9ca3af"
_LABEL = "#4b5563"
_FONT: dict[str, svg.AttrValue] = {"font_size": 12, "fill": _LABEL}


@attrs.frozen
class Frame:
    """A chart's size and the margins around its plot area."""

    width: float = 640.0
    height: float = 300.0
    left: float = 64.0
    right: float = 16.0
    top: float = 44.0
    bottom: float = 32.0

    @property
    def x0(self) -> float:
        """Left edge of the plot area."""
        return self.left

    @property
    def x1(self) -> float:
        """Right edge of the plot area."""
        return self.width - self.right

    @property
    def y0(self) -> float:
        """Bottom edge of the plot area."""
        return self.height - self.bottom

    @property
    def y1(self) -> float:
        """Top edge of the plot area."""
        return self.top


def _y_axis(frame: Frame, lo: float, hi: float, step: float, unit: str) -> tuple[svg.Scale, str]:
    # Horizontal grid lines with labels on the left; the zero line is darker.
    scale = svg.Scale(lo, hi, frame.y0, frame.y1)
    parts = []
    for value in svg.ticks(lo, hi, step):
        y = scale(value)
        parts.append(svg.line(frame.x0, y, frame.x1, y, _AXIS if value == 0 else _GRID))
        parts.append(
            svg.text(frame.x0 - 6, y + 4, svg.tick_label(value, step), text_anchor="end", **_FONT)
        )
    parts.append(svg.text(frame.x0 - 6, frame.y1 - 22, unit, text_anchor="end", **_FONT))
    return scale, svg.group(parts, class_="axis")


# --- monthly production and consumption -------------------------------------------------


def monthly_chart(monthly: Sequence[MonthlyEnergy]) -> str:
    """Two bars per month: consumption and PV production, in kWh."""
    frame = Frame()
    rows = sorted(monthly, key=lambda m: m.month)
    top = max([m.consumption_kwh for m in rows] + [m.pv_production_kwh for m in rows] + [0.0])
    lo, hi, step = svg.nice_range(0.0, top)
    y, axis = _y_axis(frame, lo, hi, step, "kWh")
    slot = (frame.x1 - frame.x0) / 12
    bar = slot * 0.36
    bars = []
    for m in rows:
        left = frame.x0 + (m.month - 1) * slot + slot * 0.14
        for x, name, amount in (
            (left, "consumption", m.consumption_kwh),
            (left + bar, "production", m.pv_production_kwh),
        ):
            bars.append(svg.rect(x, y(0), bar, -y.length(amount), COLORS[name], class_=name))
        bars.append(
            svg.text(left + bar, frame.y0 + 18, MONTHS[m.month - 1], text_anchor="middle", **_FONT)
        )
    total_use = sum(m.consumption_kwh for m in rows)
    total_pv = sum(m.pv_production_kwh for m in rows)
    return svg.document(
        frame.width,
        frame.height,
        "Production and consumption per month",
        f"Bars per month: electricity used ({total_use:,.0f} kWh a year) and solar "
        f"production ({total_pv:,.0f} kWh a year).",
        [axis, svg.group(bars, shape_rendering="crispEdges")],
        class_="chart chart-monthly",
    )


# --- a typical day -------------------------------------------------------------------------


@attrs.frozen
class HourCover:
    """How one hour's consumption is covered, and where the surplus goes (kWh)."""

    solar: float
    from_battery: float
    from_grid: float
    into_battery: float
    to_grid: float
    stored: float

    @classmethod
    def of(cls, row: DispatchHour) -> HourCover:
        """Attribute the load to solar first, then the battery, then the grid."""
        solar = min(row.pv_kwh, row.load_kwh)
        from_battery = min(row.discharge_kwh, row.load_kwh - solar)
        return cls(
            solar=solar,
            from_battery=from_battery,
            from_grid=max(row.load_kwh - solar - from_battery, 0.0),
            into_battery=row.charge_kwh,
            to_grid=row.grid_export_kwh,
            stored=row.stored_kwh,
        )


@attrs.frozen
class DayScale:
    """Value ranges shared by the summer and winter charts, so they compare at a glance."""

    lo: float
    hi: float
    step: float
    stored_hi: float

    @classmethod
    def of(cls, *days: Sequence[DispatchHour]) -> DayScale:
        """The ranges that fit every hour of ``days``."""
        covers = [HourCover.of(row) for day in days for row in day]
        above = max([c.solar + c.from_battery + c.from_grid for c in covers] + [0.0])
        below = max([c.into_battery + c.to_grid for c in covers] + [0.0])
        lo, hi, step = svg.nice_range(-below, above, count=6)
        stored = max([c.stored for c in covers] + [0.0])
        stored_hi = svg.nice_range(0.0, stored, count=4)[1] if stored > 0 else 0.0
        return cls(lo, hi, step, stored_hi)


DAY_SERIES = (
    ("solar", "Solar used directly"),
    ("from_battery", "From the battery"),
    ("from_grid", "From the grid"),
    ("into_battery", "Charging the battery"),
    ("to_grid", "Sent to the grid"),
    ("stored", "Battery content (right axis)"),
)
"""The day charts' series, in legend order: (colour name, label)."""

_DAY_STACKS = ((("solar", "from_battery", "from_grid"), 1.0), (("into_battery", "to_grid"), -1.0))


def day_chart(rows: Sequence[DispatchHour], season: str, scale: DayScale) -> str:
    """Stacked hourly bars of one typical day; above zero the consumption, below the surplus."""
    # Narrower than the other charts: the two days sit side by side on wide screens.
    frame = Frame(width=440.0, height=280.0, left=44.0, right=40.0 if scale.stored_hi else 24.0)
    y, axis = _y_axis(frame, scale.lo, scale.hi, scale.step, "kWh")
    slot = (frame.x1 - frame.x0) / 24
    width = slot * 0.8
    bars: list[str] = []
    stored_points: list[tuple[float, float]] = []
    stored_y = svg.Scale(0.0, scale.stored_hi or 1.0, frame.y0, frame.y1)
    for row in sorted(rows, key=lambda r: r.hour):
        cover = HourCover.of(row)
        left = frame.x0 + row.hour * slot + slot * 0.1
        # Consumption stacks up from zero, surplus down from it.
        for names, sign in _DAY_STACKS:
            base = 0.0
            for name in names:
                amount: float = getattr(cover, name)
                if amount > 0:
                    bars.append(
                        svg.rect(
                            left,
                            y(base),
                            width,
                            y(base + sign * amount) - y(base),
                            COLORS[name],
                            class_=name.replace("_", "-"),
                        )
                    )
                base += sign * amount
        stored_points.append((left + width / 2, stored_y(cover.stored)))
    labels = [
        svg.text(
            frame.x0 + hour * slot, frame.y0 + 18, f"{hour:02d}:00", text_anchor="middle", **_FONT
        )
        for hour in range(0, 25, 6)
    ]
    parts = [axis, svg.group(bars, shape_rendering="crispEdges"), *labels]
    if scale.stored_hi:
        step = svg.nice_step(scale.stored_hi, 4)
        for value in svg.ticks(0.0, scale.stored_hi, step):
            parts.append(
                svg.text(frame.x1 + 6, stored_y(value) + 4, svg.tick_label(value, step), **_FONT)
            )
        parts.append(svg.text(frame.x1 + 6, frame.y1 - 22, "kWh", **_FONT))
        parts.append(
            svg.polyline(
                stored_points,
                COLORS["stored"],
                stroke_width=3,
                stroke_linejoin="round",
                class_="stored",
            )
        )
    use = sum(r.load_kwh for r in rows)
    pv = sum(r.pv_kwh for r in rows)
    grid = sum(r.grid_import_kwh for r in rows)
    return svg.document(
        frame.width,
        frame.height,
        f"A typical {season} day",
        f"Hour by hour on an average {season} day: {use:.1f} kWh used, {pv:.1f} kWh of solar "
        f"used, {grid:.1f} kWh bought from the grid.",
        parts,
        class_=f"chart chart-day chart-{season}",
    )


# --- payback ---------------------------------------------------------------------------------


def payback_chart(investment: float, yearly_savings: float, years: int) -> str:
    """Cumulative savings (area) against the one-off investment (line) over ``years``."""
    frame = Frame()
    savings = max(yearly_savings, 0.0)
    lo, hi, step = svg.nice_range(0.0, max(investment, savings * years))
    y, axis = _y_axis(frame, lo, hi, step, "€")
    x = svg.Scale(0.0, float(years), frame.x0, frame.x1)
    area = svg.polygon(
        [(x(0), y(0)), (x(years), y(savings * years)), (x(years), y(0))],
        COLORS["savings"],
        class_="savings",
    )
    edge = svg.polyline(
        [(x(0), y(0)), (x(years), y(savings * years))], COLORS["savings_line"], stroke_width=2
    )
    invest = svg.line(
        x(0),
        y(investment),
        x(years),
        y(investment),
        COLORS["investment"],
        stroke_width=3,
        class_="investment",
    )
    labels = [
        svg.text(x(year), frame.y0 + 18, str(year), text_anchor="middle", **_FONT)
        for year in range(0, years + 1, 5 if years > 12 else 1)
    ]
    parts = [axis, area, edge, invest, *labels]
    if savings > 0 and 0 < investment <= savings * years:
        breakeven = investment / savings
        parts.append(
            svg.line(
                x(breakeven),
                frame.y0,
                x(breakeven),
                y(investment),
                _LABEL,
                stroke_dasharray="4 4",
                stroke_width=1.5,
            )
        )
        anchor = "end" if breakeven > years * 0.7 else "start"
        offset = -6 if anchor == "end" else 6
        parts.append(
            svg.text(
                x(breakeven) + offset,
                y(investment) - 8,
                f"paid back after {breakeven:.1f} years",
                text_anchor=anchor,
                font_weight="600",
                font_size=13,
                fill="#111827",
                class_="callout",
            )
        )
    years_label = f"{years} years"
    return svg.document(
        frame.width,
        frame.height,
        "Payback over time",
        f"Savings add up by €{savings:,.0f} a year over {years_label}; "
        f"the investment is €{investment:,.0f}.",
        parts,
        class_="chart chart-payback",
    )
