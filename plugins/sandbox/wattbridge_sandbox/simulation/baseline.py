"""The shape every level-based baseline (vehicle, battery) exposes to the action rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Segment = tuple[float, float, int]
"""``(start, end, sign)`` in hours since the cycle start; ``sign`` of the level's slope."""


class LevelBaseline(Protocol):
    """A device's level without any action: a pure function of time."""

    def level(self, t: float) -> tuple[float, float]:
        """The level (percent) at ``t`` and its slope (percent per hour)."""
        ...

    def segments(self, cycle: int) -> Sequence[Segment]:
        """The cycle's pieces, each with the sign of the level's slope on it."""
        ...
