"""The scan report: one self-contained HTML page a homeowner can read, print or save.

No external resources at all: the CSS is inline, the charts are inline SVG,
there are no scripts, fonts, images or links, so the page renders the same
offline, in an e-mail archive or in a print-out. Every value that comes from
data is escaped (:func:`esc`); markup comes only from this module and
:mod:`wattbridge.reports.svg`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from wattbridge.models.scans import Goal, ScanResult
from wattbridge.reports.charts import (
    COLORS,
    DAY_SERIES,
    DayScale,
    day_chart,
    monthly_chart,
    payback_chart,
)

LIFETIME_YEARS = 25
"""The payback chart's horizon: how long solar panels typically last."""

_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_GOALS: dict[str, str] = {
    "cost-savings": "the lowest energy bill",
    "self-sufficiency": "the most self-sufficiency",
}


def _goal(goal: str) -> str:
    return _GOALS.get(goal, goal)


@attrs.frozen
class ReportView:
    """Everything the page shows: the scan's identity and its result."""

    scan_id: str
    goal: Goal
    completed_at: datetime | None
    result: ScanResult
    sandbox: bool


def esc(value: object) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape(str(value), quote=True)


def number(value: float, decimals: int = 2) -> str:
    """``1,234.5``: thousands separated, at most ``decimals`` decimals, no trailing zeros."""
    text = f"{value:,.{decimals}f}"
    if decimals:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def euros(value: float) -> str:
    """Whole euros: ``€5,700``."""
    return f"€{value:,.0f}" if value >= 0 else f"\N{MINUS SIGN}€{-value:,.0f}"


def percent(fraction: float) -> str:
    """A fraction as a whole percentage: ``64%``."""
    return f"{fraction * 100:.0f}%"


def day_of(instant: datetime) -> str:
    """``1 June 2026`` (UTC), independent of the server's locale."""
    return f"{instant.day} {_MONTH_NAMES[instant.month - 1]} {instant.year}"


# --- sections --------------------------------------------------------------------------


def recommendation_text(result: ScanResult) -> str:
    """One sentence saying what to buy (plain text, not yet escaped)."""
    pv, battery = result.recommendation.new_pv, result.recommendation.battery
    parts = []
    if pv is not None and pv.panel_count > 0:
        noun = "panel" if pv.panel_count == 1 else "panels"
        parts.append(f"{pv.panel_count} solar {noun} ({number(pv.k_wp)} kWp)")
    if battery is not None and battery.capacity_kwh > 0:
        parts.append(
            f"a {number(battery.capacity_kwh)} kWh home battery ({number(battery.power_kw)} kW)"
        )
    if parts:
        return "Install " + " and ".join(parts) + "."
    if pv is None and battery is None:
        return (
            "This scan did not size new panels or a battery: the figures describe your "
            "home as it is today."
        )
    return "Nothing new pays off for this home: the figures describe it as it is today."


def _figures(result: ScanResult) -> str:
    money = result.financial
    if money.return_period is not None:
        payback = f"{money.return_period:.1f} years"
    elif money.investment > 0:
        payback = "does not pay back"
    else:
        payback = "nothing to pay back"
    items = [
        ("Yearly savings", euros(money.yearly_savings), "on your energy bill"),
        ("Investment", euros(money.investment), "panels and battery, installed"),
        ("Payback", payback, "investment ÷ yearly savings"),
        ("Self-sufficiency", percent(result.self_sufficiency), "of your use comes from solar"),
        ("Self-consumption", percent(result.self_consumption), "of the solar you use yourself"),
        ("CO₂ saved", f"{number(result.co2_saved_kg, 0)} kg", "a year"),
    ]
    cells = "".join(
        f'<div class="figure"><dt>{esc(label)}</dt><dd><strong>{esc(value)}</strong>'
        f"<span>{esc(hint)}</span></dd></div>"
        for label, value, hint in items
    )
    energy = result.energy
    return (
        f'<section class="card" aria-labelledby="figures"><h2 id="figures">Key figures</h2>'
        f'<dl class="figures">{cells}</dl>'
        f'<p class="small">In a year: {esc(number(energy.consumption_kwh, 0))} kWh used, '
        f"{esc(number(energy.pv_production_kwh, 0))} kWh of solar, "
        f"{esc(number(energy.grid_import_kwh, 0))} kWh bought from the grid and "
        f"{esc(number(energy.grid_export_kwh, 0))} kWh sent to it.</p></section>"
    )


def legend(entries: Iterable[tuple[str, str]]) -> str:
    """A legend: (colour name in :data:`COLORS`, label) per entry."""
    items = "".join(
        f'<li><span class="swatch" style="background:{esc(COLORS[color])}"></span>{esc(label)}</li>'
        for color, label in entries
    )
    return f'<ul class="legend">{items}</ul>'


def _monthly(result: ScanResult) -> str:
    return (
        '<section class="card" aria-labelledby="monthly"><h2 id="monthly">Month by month</h2>'
        + legend((("consumption", "Electricity used"), ("production", "Solar production")))
        + f"<figure>{monthly_chart(result.monthly)}<figcaption>Solar production peaks in "
        "summer while use peaks in winter; the gap is bought from the grid.</figcaption>"
        "</figure></section>"
    )


def _typical_days(result: ScanResult) -> str:
    head = '<section class="card" aria-labelledby="days"><h2 id="days">A typical day</h2>'
    days = result.typical_days
    if days is None or not days.summer or not days.winter:
        return (
            head + '<p class="note">The hour-by-hour view is not available for this scan: '
            "its solver did not report a typical day.</p></section>"
        )
    scale = DayScale.of(days.summer, days.winter)
    series: Sequence[tuple[str, str]] = DAY_SERIES if scale.stored_hi else DAY_SERIES[:-1]
    return (
        head + '<p class="small">An average day of June to August and of December to February. '
        "Above the line: how your use is covered each hour; below it: where surplus solar "
        "goes.</p>"
        + legend(series)
        + '<div class="days">'
        + f"<figure>{day_chart(days.summer, 'summer', scale)}"
        "<figcaption>Summer (June\N{EN DASH}August)</figcaption></figure>"
        + f"<figure>{day_chart(days.winter, 'winter', scale)}"
        "<figcaption>Winter (December\N{EN DASH}February)</figcaption></figure>"
        + "</div></section>"
    )


def payback_text(investment: float, yearly_savings: float, years: int = LIFETIME_YEARS) -> str:
    """What the payback chart shows, in one or two sentences (plain text)."""
    if investment <= 0:
        return "There is nothing to invest, so nothing to pay back."
    if yearly_savings <= 0:
        return (
            f"At today's prices the {euros(investment)} investment saves nothing on the "
            "energy bill, so it does not pay back."
        )
    breakeven = investment / yearly_savings
    total = yearly_savings * years
    if breakeven <= years:
        return (
            f"The {euros(investment)} investment is paid back after {breakeven:.1f} "
            f"years. Over {years} years the savings add up to {euros(total)}, "
            f"{euros(total - investment)} more than the investment."
        )
    return (
        f"Paying back the {euros(investment)} investment takes {breakeven:.1f} years, "
        f"longer than the {years} years solar panels typically last."
    )


def _payback(result: ScanResult) -> str:
    money = result.financial
    head = (
        '<section class="card" aria-labelledby="payback"><h2 id="payback">Payback over time</h2>'
        f"<p>{esc(payback_text(money.investment, money.yearly_savings))}</p>"
    )
    if money.investment <= 0:
        return head + "</section>"
    return (
        head
        + legend((("savings", "Savings so far"), ("investment", "Investment")))
        + f"<figure>{payback_chart(money.investment, money.yearly_savings, LIFETIME_YEARS)}"
        f"<figcaption>Cumulative savings against the one-off investment over {LIFETIME_YEARS} "
        "years, at today's prices.</figcaption></figure></section>"
    )


def _about(view: ReportView) -> str:
    source = view.result.metadata.get("source")
    origin = (
        "pre-computed example data (sandbox)"
        if source == "fixture"
        else "an hour-by-hour simulation of a whole year"
    )
    return (
        '<section class="card about" aria-labelledby="about"><h2 id="about">About these '
        f"figures</h2><p>Computed from {esc(origin)}, sized for {esc(_goal(view.goal))}. "
        "Savings compare with your energy bill today (existing panels included, no "
        "battery) at the tariff of the scan; the payback is the investment divided by the "
        "yearly savings, without price changes or interest. Energy figures are per year.</p>"
        "</section>"
    )


_CSS = """
:root{color-scheme:light;--ink:#111827;--muted:#4b5563;--line:#e5e7eb;--bg:#f3f4f6}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
 font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:880px;margin:0 auto;padding:16px}
h1{font-size:1.6rem;line-height:1.2;margin:8px 0 4px}
h2{font-size:1.15rem;margin:0 0 8px}
.meta,.small,figcaption{color:var(--muted);font-size:.875rem}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:16px;margin:16px 0}
.notice{background:#fef3c7;border-color:#f59e0b}
.lead{font-size:1.25rem;font-weight:600;margin:0}
.figures{display:grid;grid-template-columns:repeat(2,1fr);gap:12px;margin:0}
@media (min-width:600px){.figures{grid-template-columns:repeat(3,1fr)}}
.figure{border:1px solid var(--line);border-radius:8px;padding:10px}
.figure dt{color:var(--muted);font-size:.875rem}
.figure dd{margin:0}
.figure strong{display:block;font-size:1.35rem}
.figure span{color:var(--muted);font-size:.8rem}
figure{margin:8px 0 0}
svg{display:block;width:100%;height:auto}
/* Chart text is in the chart's own units: larger units on narrow screens keep it legible. */
.chart text{font-size:12px}
.chart-day text{font-size:14px}
.chart .callout{font-size:13px}
@media (max-width:600px){.chart text,.chart .callout{font-size:22px}.chart-day text{font-size:16px}}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px;padding:0;margin:8px 0;
 font-size:.875rem}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;
 vertical-align:-1px}
.days{display:grid;grid-template-columns:1fr;gap:8px}
@media (min-width:760px){.days{grid-template-columns:1fr 1fr}}
.note{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:.8rem;text-align:center;padding:8px 0 24px}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
@media print{
 @page{size:A4;margin:14mm}
 body{background:#fff;font-size:11pt}
 main{max-width:none;padding:0}
 .card{border:none;padding:0;margin:0 0 10mm;break-inside:avoid}
 .days{grid-template-columns:1fr 1fr}
}
"""


def render_report(view: ReportView) -> str:
    """The complete HTML page of one completed scan."""
    result = view.result
    completed = (
        f" · completed {esc(day_of(view.completed_at))}" if view.completed_at is not None else ""
    )
    notice = ""
    if view.sandbox:
        notice = (
            '<p class="card notice" role="note"><strong>Example report.</strong> This scan ran '
            "in the sandbox: the figures are pre-computed examples, not a calculation for a "
            "real home.</p>"
        )
    body = (
        "<main>"
        "<header><h1>Your solar and battery scan</h1>"
        f'<p class="meta">Scan {esc(view.scan_id)}{completed}</p></header>'
        + notice
        + '<section class="card" aria-labelledby="advice"><h2 id="advice">Our recommendation'
        f'</h2><p class="lead">{esc(recommendation_text(result))}</p>'
        f'<p class="small">Sized for {esc(_goal(view.goal))}.</p></section>'
        + _figures(result)
        + _monthly(result)
        + _typical_days(result)
        + _payback(result)
        + _about(view)
        + "</main><footer>Made with wattbridge</footer>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>Solar and battery scan {esc(view.scan_id)}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )
