"""Small, dependency-free SVG building blocks for the report's charts.

Everything returns markup as a string. Text and attribute values are escaped
here, at the one place markup is written, so callers pass plain values. The
output is inline SVG for an HTML page (no ``xmlns``, no external references);
sizes are in a ``viewBox`` so a chart scales to its container.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence

import attrs

AttrValue = str | float | int | None


def fmt(value: float) -> str:
    """A coordinate or number for markup: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def element(tag: str, attributes: Mapping[str, AttrValue], content: str | None = None) -> str:
    """``<tag a="v">content</tag>``; attributes with value None are left out.

    ``content`` is markup (already built by these functions); use :func:`text` for
    plain text. Attribute names use ``_`` for ``-`` (``stroke_width``); a trailing
    ``_`` is dropped (``class_``).
    """
    parts = [tag]
    for name, value in attributes.items():
        if value is None:
            continue
        shown = fmt(value) if isinstance(value, float) else str(value)
        parts.append(f'{name.rstrip("_").replace("_", "-")}="{html.escape(shown, quote=True)}"')
    opening = " ".join(parts)
    if content is None:
        return f"<{opening}/>"
    return f"<{opening}>{content}</{tag}>"


def text(x: float, y: float, content: str, **attributes: AttrValue) -> str:
    """A text label at (x, y); ``content`` is escaped."""
    return element("text", {"x": float(x), "y": float(y), **attributes}, html.escape(content))


def rect(
    x: float, y: float, width: float, height: float, fill: str, **attributes: AttrValue
) -> str:
    """A filled rectangle; a negative height is drawn downwards from ``y``."""
    if height < 0:
        y, height = y + height, -height
    return element(
        "rect",
        {
            "x": float(x),
            "y": float(y),
            "width": float(max(width, 0.0)),
            "height": float(height),
            "fill": fill,
            **attributes,
        },
    )


def line(x1: float, y1: float, x2: float, y2: float, stroke: str, **attributes: AttrValue) -> str:
    """A straight line."""
    return element(
        "line",
        {
            "x1": float(x1),
            "y1": float(y1),
            "x2": float(x2),
            "y2": float(y2),
            "stroke": stroke,
            **attributes,
        },
    )


def points(coordinates: Iterable[tuple[float, float]]) -> str:
    """The ``points`` attribute of a polyline or polygon."""
    return " ".join(f"{fmt(x)},{fmt(y)}" for x, y in coordinates)


def polyline(
    coordinates: Sequence[tuple[float, float]], stroke: str, **attributes: AttrValue
) -> str:
    """An open line through the coordinates."""
    return element(
        "polyline",
        {"points": points(coordinates), "fill": "none", "stroke": stroke, **attributes},
    )


def polygon(coordinates: Sequence[tuple[float, float]], fill: str, **attributes: AttrValue) -> str:
    """A filled closed shape."""
    return element("polygon", {"points": points(coordinates), "fill": fill, **attributes})


def group(children: Iterable[str], **attributes: AttrValue) -> str:
    """A ``<g>`` around the children."""
    return element("g", attributes, "".join(children))


def document(
    width: float,
    height: float,
    title: str,
    description: str,
    body: Iterable[str],
    **attributes: AttrValue,
) -> str:
    """An ``<svg>`` chart with an accessible title and description.

    ``role="img"`` with ``<title>``/``<desc>`` lets screen readers announce the
    chart by its description instead of reading out every label.
    """
    inner = (
        element("title", {}, html.escape(title))
        + element("desc", {}, html.escape(description))
        + "".join(body)
    )
    return element(
        "svg",
        {
            "viewBox": f"0 0 {fmt(width)} {fmt(height)}",
            "role": "img",
            "preserveAspectRatio": "xMidYMid meet",
            **attributes,
        },
        inner,
    )


# --- scales ----------------------------------------------------------------------------


@attrs.frozen
class Scale:
    """Maps a value interval onto a pixel interval (linear; ``lo`` may map below ``hi``)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        """The pixel position of ``value``."""
        span = self.hi - self.lo
        share = 0.0 if span == 0 else (value - self.lo) / span
        return self.start + share * (self.end - self.start)

    def length(self, amount: float) -> float:
        """The pixel length of ``amount`` (always positive for a positive amount)."""
        return abs(self(amount) - self(0.0))


def nice_step(span: float, count: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power


def nice_range(lo: float, hi: float, count: int = 5) -> tuple[float, float, float]:
    """``(lo, hi, step)`` widened to whole steps; an empty range becomes ``(0, 1, 0.2)``."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 1e-9:
        return 0.0, 1.0, 0.2
    step = nice_step(hi - lo, count)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def ticks(lo: float, hi: float, step: float) -> list[float]:
    """The tick values from ``lo`` to ``hi`` inclusive."""
    count = round((hi - lo) / step)
    return [lo + i * step for i in range(count + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick value with as many decimals as the step needs (``0.25``, ``1.5``, ``200``).

    Thousands are written ``2.5k``: narrow labels stay legible when a chart is shrunk
    onto a phone screen.
    """
    if abs(value) >= 1000:
        return f"{value / 1000:g}k"
    decimals = 0
    while decimals < 3 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-9:
        decimals += 1
    return f"{value:,.{decimals}f}"
