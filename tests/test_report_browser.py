"""The report in a real browser: headless Chromium opens a report link and the charts show.

A sandbox scan is created through the API of a real server on a frozen clock,
completed by moving the clock past 10 s, and its ``reportUrl`` is opened by
Debian's ``chromium`` (installed by ``make browser``) with no API key. The
screenshot is decoded with the standard library (:mod:`tests.png_pixels`) and
checked for every chart's series colours, in the page's order: monthly bars,
then the summer and winter days side by side, then the payback chart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from tests.png_pixels import Image, decode
from tests.support import SCAN_BODY as BODY
from tests.support import Api, ServerThread, key_of, new_platform, running
from wattbridge.clock import FrozenClock
from wattbridge.platform import Platform
from wattbridge.reports.charts import COLORS

WIDTH, HEIGHT = 800, 2600  # wide enough for the two day charts to sit side by side



def chromium() -> str:
    """The browser binary; CI installs it (``make browser``), so there it must exist."""
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed: run `make browser`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Platform, FrozenClock, ServerThread]]:
    clock = FrozenClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    platform = new_platform(tmp_path / "data", clock=clock)
    platform.access.create_project("homes")
    with running(platform) as server:
        yield platform, clock, server
    platform.close()


def screenshot(url: str, directory: Path) -> Image:
    """Chromium's screenshot of ``url`` at WIDTH x HEIGHT CSS pixels (scale 1)."""
    target = directory / "report.png"
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--no-first-run",
        f"--user-data-dir={directory / 'profile'}",
        f"--window-size={WIDTH},{HEIGHT}",
        f"--screenshot={target}",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert target.exists(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return decode(target.read_bytes())


@attrs.frozen
class Spread:
    """Where a colour occurs in the screenshot."""

    count: int
    left: int
    right: int
    top: int
    bottom: int
    left_half: int  # pixels with x < WIDTH / 2

    @property
    def right_half(self) -> int:
        """Pixels with x >= WIDTH / 2."""
        return self.count - self.left_half


def spreads(image: Image, colors: dict[str, str], tolerance: int = 2) -> dict[str, Spread]:
    """For each named colour (``#rrggbb``), the pixels within ``tolerance`` of it."""
    # Every accepted RGB value maps to its colour name: one dict lookup per pixel.
    near = range(-tolerance, tolerance + 1)
    lookup: dict[tuple[int, int, int], str] = {}
    for name, value in colors.items():
        r, g, b = (int(value[i : i + 2], 16) for i in (1, 3, 5))
        for dr in near:
            for dg in near:
                for db in near:
                    lookup[(r + dr, g + dg, b + db)] = name
    found: dict[str, list[int]] = {name: [0, WIDTH, -1, HEIGHT, -1, 0] for name in colors}
    for x, y, rgb in image.pixels():
        name = lookup.get(rgb)
        if name is not None:
            s = found[name]
            s[0] += 1
            s[1], s[2] = min(s[1], x), max(s[2], x)
            s[3], s[4] = min(s[3], y), max(s[4], y)
            s[5] += x < WIDTH // 2
    return {name: Spread(*values) for name, values in found.items()}


def test_chromium_renders_every_chart_of_a_report_link(
    served: tuple[Platform, FrozenClock, ServerThread], tmp_path: Path
) -> None:
    chromium()
    platform, clock, server = served
    api = Api(server.url, key_of(platform, "homes", "sandbox"))
    try:
        created = api.post("/v1/scans", json=BODY)
        assert created.status_code == 201, created.text
        scan_id = created.json()["data"]["id"]
        clock.advance(11)  # the sandbox completes a scan 10 s after creation
        result = api.get(f"/v1/scans/{scan_id}/result")
        assert result.status_code == 200, result.text
        url = result.json()["data"]["reportUrl"]
        assert "typicalDays" in result.json()["data"], "the fixture should carry typical days"
    finally:
        api.close()

    image = screenshot(url, tmp_path)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    seen = spreads(image, COLORS)

    # Each series covers far more than its 12 x 12 legend swatch (144 pixels).
    for name in ("consumption", "production", "solar", "from_grid", "savings"):
        assert seen[name].count > 1500, (name, seen[name])
    for name in ("from_battery", "into_battery", "stored", "investment"):
        assert seen[name].count > 200, (name, seen[name])

    monthly, solar, savings = seen["consumption"], seen["solar"], seen["savings"]
    # The monthly bars span the chart's width, as do the payback area and line.
    assert monthly.right - monthly.left > WIDTH * 0.6
    assert savings.right - savings.left > WIDTH * 0.5
    # The two day charts sit side by side, each with solar by day and grid at night.
    for name in ("solar", "from_grid"):
        assert seen[name].left_half > 300 and seen[name].right_half > 300, (name, seen[name])
    # Top to bottom: monthly chart, the days, payback (legends sit above their charts,
    # so each series' lowest pixel is in its chart).
    assert monthly.bottom < solar.bottom < savings.bottom
    assert seen["production"].bottom < solar.top + 200  # monthly chart ends above the days
    assert seen["stored"].bottom < seen["investment"].top
