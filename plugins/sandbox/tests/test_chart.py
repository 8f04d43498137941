"""The committed chart in docs/img is exactly what the simulator draws today."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "sandbox_chart.py"
COMMITTED = ROOT / "docs" / "img" / "sandbox-day.svg"


def test_committed_chart_matches_the_simulator(tmp_path):
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True, capture_output=True
    )
    fresh = (tmp_path / "sandbox-day.svg").read_text(encoding="utf-8")
    assert fresh == COMMITTED.read_text(encoding="utf-8"), (
        "docs/img/sandbox-day.svg is stale: run scripts/sandbox_chart.py"
    )
    root = ET.fromstring(fresh)
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 4
