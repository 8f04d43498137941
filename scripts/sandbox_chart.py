"""Draw one simulated day per device type, from the sandbox simulator itself.

Usage: ``python scripts/sandbox_chart.py [--out docs/img]`` writes
``sandbox-day.svg``. The SVG is written by hand (no plotting library) with
fixed number formatting, so the output is byte-for-byte reproducible and a test
can check that the committed chart matches the simulator.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wattbridge.drivers.devices import DeviceRef, DeviceType
from wattbridge_sandbox import SandboxProvider

DAY = datetime(2026, 6, 1, tzinfo=UTC)
STEP_MINUTES = 10
FILE_NAME = "sandbox-day.svg"
PANELS: tuple[tuple[DeviceType, str, str, str, float], ...] = (
    # type, field, title, unit, y-axis maximum
    ("vehicle", "batteryLevel", "Vehicle: batteryLevel", "%", 100.0),
    ("battery", "level", "Home battery: level", "%", 100.0),
    ("solar_inverter", "currentPower", "Solar inverter: currentPower", "kW", 0.0),
    ("ev_charger", "currentPower", "EV charger: currentPower", "kW", 0.0),
)
WINDOW_EDGES = (6, 9, 15, 17, 18, 21)
WIDTH, PANEL_H, LEFT, RIGHT, TOP, GAP = 760, 150, 60, 20, 40, 46
COLOURS = ("#1f77b4", "#2ca02c", "#e6a700", "#d62728")


def day_series(device_type: DeviceType, field: str) -> list[float]:
    """``field`` every :data:`STEP_MINUTES` over :data:`DAY` for one fixed sandbox device."""
    provider = SandboxProvider()
    found = provider.create_device(device_type, None, None, f"docs-chart-{device_type}")
    ref = DeviceRef(
        f"dev_{device_type}",
        found.type,
        found.vendor,
        found.model,
        found.external_id,
        found.attributes,
    )
    steps = 24 * 60 // STEP_MINUTES
    return [
        float(provider.read_state(ref, DAY + timedelta(minutes=k * STEP_MINUTES), ()).state[field])
        for k in range(steps + 1)
    ]


def render() -> str:
    """The whole chart as SVG text."""
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + len(PANELS) * (PANEL_H + GAP)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">'
        f"One simulated day in the sandbox ({DAY:%Y-%m-%d}, hours UTC)</text>",
    ]
    for index, (device_type, field, title, unit, y_max) in enumerate(PANELS):
        values = day_series(device_type, field)
        top = TOP + index * (PANEL_H + GAP) + 18
        scale_max = y_max or _nice_ceiling(max(values))
        out.append(f'<text x="{LEFT}" y="{top - 6}" font-weight="bold">{title} ({unit})</text>')
        out.append(
            f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" '
            'fill="#fafafa" stroke="#999999"/>'
        )
        for hour in range(0, 25, 3):
            x = LEFT + plot_w * hour / 24
            out.append(
                f'<text x="{x:.1f}" y="{top + PANEL_H + 14}" text-anchor="middle">{hour:02d}</text>'
            )
        for hour in WINDOW_EDGES:
            x = LEFT + plot_w * hour / 24
            out.append(
                f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + PANEL_H}" '
                'stroke="#cccccc" stroke-dasharray="3,3"/>'
            )
        for fraction in (0.0, 0.5, 1.0):
            y = top + PANEL_H * (1 - fraction)
            out.append(
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{scale_max * fraction:g}</text>"
            )
        points = " ".join(
            f"{LEFT + plot_w * k / (len(values) - 1):.1f},"
            f"{top + PANEL_H * (1 - value / scale_max):.1f}"
            for k, value in enumerate(values)
        )
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{COLOURS[index]}" stroke-width="2"/>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _nice_ceiling(value: float) -> float:
    for ceiling in (1, 2, 5, 10, 15, 20, 25, 50):
        if value <= ceiling:
            return float(ceiling)
    return float(int(value) + 1)


def main() -> None:
    """Write the chart into ``--out`` (default: docs/img next to this script's repo)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent.parent / "docs" / "img"
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / FILE_NAME).write_text(render(), encoding="utf-8")
    print(args.out / FILE_NAME)


if __name__ == "__main__":
    main()
