"""docs/scans.md stays true: its fixture table and its worked selection examples."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from wattbridge.validation.scans import validate_scan_input
from wattbridge_fixtures.summary import results_table
from wattbridge_fixtures.table import select_fixture

DOC = Path(__file__).resolve().parents[1] / "docs" / "scans.md"

BASE: dict[str, Any] = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "location": {"lat": 52.09, "lon": 5.12},
}
EXISTING = {"existingPv": [{"kWp": 3.2, "tilt": 35, "azimuth": 180}]}
NEW = {"newPv": [{"maxPanelCount": 12, "tilt": 35, "azimuth": 180}]}
SIZED = {"electricBattery": {"minKwh": 5, "maxKwh": 15}}
FIXED = {"electricBattery": {"capacityKwh": 10}}
EXPORT = {"export": {"allowed": True}}
COST = {"goal": "cost-savings"}
SELF = {"goal": "self-sufficiency"}

# The rows of the worked-examples table, in order: the body and the answer.
WORKED_EXAMPLES: list[tuple[dict[str, Any], int]] = [
    ({**EXISTING, **COST}, 3),
    ({**EXISTING, **COST, **EXPORT}, 5),
    ({**EXISTING, **SELF, **EXPORT}, 4),
    ({**NEW, **SIZED, **COST}, 14),
    ({**NEW, **FIXED, **SELF}, 17),
    ({**NEW, **FIXED, **COST, **EXPORT}, 16),
    ({**EXISTING, **NEW, **FIXED, **COST, **EXPORT}, 20),
    ({**EXISTING, **NEW, **SIZED, **COST}, 18),
    ({**EXISTING, **SIZED, **SELF}, 13),
]


def test_the_fixture_table_is_the_committed_results() -> None:
    table = results_table()
    assert table in DOC.read_text(encoding="utf-8"), (
        "docs/scans.md's fixture table differs from the committed fixture files; replace it "
        "with the output of `python -m wattbridge_fixtures.summary results`:\n" + table
    )


def test_worked_examples_are_what_the_selection_does() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("Worked examples:") : text.index("The fixture's numbers")]
    answers = [int(n) for n in re.findall(r"\*\*(\d+)\*\*", section)]  # the bold answers
    assert answers == [number for _, number in WORKED_EXAMPLES]


@pytest.mark.parametrize(("body", "number"), WORKED_EXAMPLES)
def test_each_worked_example(body: dict[str, Any], number: int) -> None:
    traits = validate_scan_input({**BASE, **body}).traits
    assert select_fixture(traits).number == number
