"""How actions bend a level-based baseline (vehicle, battery), continuously.

The rule, in words (docs/sandbox.md repeats it for integrators):

1. Only actions that the device accepted (``acknowledged`` or ``completed``)
   count; ``scheduled``, ``cancelled`` and ``failed`` ones have no effect.
2. At any instant the action in force is the one that started last (ties:
   created last). A newer action replaces an older one from its start.
3. An action starts from the level the device had at that moment (computed
   with the earlier actions), so the level never jumps:

   - ``charge`` raises the level at the command's power until ``target``, then
     holds it; ``discharge`` lowers it to ``target``; ``idle`` holds it;
   - a mode (``auto.*``) follows the daily pattern with the mode's floor
     (``auto.reserve`` never goes below ``reserve``).

4. An action without ``end`` lasts until its goal is reached (``charge``,
   ``discharge``) or until replaced (``idle``, modes).
5. When an action's effect ends, the device rejoins its daily pattern: the gap
   to the pattern closes at 10 %/h, but only while the pattern itself moves
   that way (a car above its pattern gets there by driving, not by an
   unexplained drain), and the mode that was set before (if still open) is in
   force again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from wattbridge_sandbox.simulation.baseline import LevelBaseline
from wattbridge_sandbox.simulation.timebase import cycle_of, cycle_start

REJOIN_RATE = 10.0  # percent per hour
_MAX_REJOIN_CYCLES = 60


@dataclass(frozen=True, slots=True)
class Step:
    """One accepted action, resolved for a level device (times in epoch hours)."""

    kind: str  # "charge" | "discharge" | "idle" | "mode"
    start: float
    end: float | None
    label: str  # the command, e.g. "charge" or "auto.reserve"
    rate: float = 0.0  # percent per hour, for charge / discharge
    target: float = 100.0
    floor: float = 0.0  # for modes


@dataclass(frozen=True, slots=True)
class LevelState:
    """The level at one instant and what drives it."""

    level: float
    slope: float  # percent per hour
    regime: str  # "pattern" or the kind of the step in force
    label: str | None  # the mode or command in force (None: the default mode)
    target: float | None = None


class LevelWalker:
    """Evaluates the level of one device under its accepted actions."""

    def __init__(
        self, baseline: LevelBaseline, steps: Sequence[Step], default_floor: float
    ) -> None:
        self.baseline = baseline
        self.steps = sorted(steps, key=lambda s: s.start)  # stable: keeps creation order
        self.default_floor = default_floor
        self._levels: list[float] | None = None

    def at(self, t: float) -> LevelState:
        """The state at ``t`` (epoch hours)."""
        j = len(self.steps) - 1
        while j >= 0 and self.steps[j].start > t:
            j -= 1
        return self._under(t, j, self._start_levels())

    def _start_levels(self) -> list[float]:
        """The level at each step's start, under the steps before it.

        Computed forwards once (not by recursing backwards), so a long history
        of actions cannot exhaust the stack.
        """
        if self._levels is None:
            levels: list[float] = []
            for j, step in enumerate(self.steps):
                levels.append(self._under(step.start, j - 1, levels).level)
            self._levels = levels
        return self._levels

    def _under(self, t: float, j: int, levels: Sequence[float]) -> LevelState:
        """The state at ``t`` when ``steps[j]`` is the newest step started by then."""
        if j < 0:
            level, slope = self.baseline.level(t)
            return LevelState(level, slope, "pattern", None)
        step = self.steps[j]
        start_level = levels[j]
        if step.kind == "mode":
            if step.end is None or t < step.end:
                return self._follow(t, step.start, start_level, step.floor, step.label, "mode")
            end_level = self._follow(step.end, step.start, start_level, step.floor, None, "").level
            return self._after(t, step.end, end_level, j)
        end = _effect_end(step, start_level)
        if t < end:
            return _command(t, step, start_level)
        return self._after(t, end, _command(end, step, start_level).level, j)

    def _after(self, t: float, since: float, level: float, j: int) -> LevelState:
        """Back to the pattern, under the newest earlier mode that is still open."""
        floor, label = self.default_floor, None
        for step in reversed(self.steps[:j]):
            if step.kind == "mode" and (step.end is None or step.end > t):
                floor, label = step.floor, step.label
                break
        return self._follow(t, since, level, floor, label, "pattern")

    def _follow(
        self, t: float, since: float, level0: float, floor: float, label: str | None, regime: str
    ) -> LevelState:
        base0, _ = self.baseline.level(since)
        offset, closing = self._offset(level0 - base0, since, t)
        base, slope = self.baseline.level(t)
        if closing:
            slope -= math.copysign(REJOIN_RATE, offset)
        level = base + offset
        low = min(floor, level0)
        if level <= low:
            return LevelState(low, 0.0, regime, label)
        if level >= 100.0:
            return LevelState(100.0, 0.0, regime, label)
        return LevelState(level, slope, regime, label)

    def _offset(self, offset0: float, since: float, t: float) -> tuple[float, bool]:
        """The gap to the pattern left at ``t`` and whether it is closing at ``t``."""
        if offset0 == 0.0 or t <= since:
            return offset0, False
        remaining = abs(offset0)
        wanted = -1 if offset0 > 0 else 1  # the pattern's slope sign that closes the gap
        cycle, _ = cycle_of(since)
        closing = False
        for _ in range(_MAX_REJOIN_CYCLES):
            origin = cycle_start(cycle)
            for x0, x1, sign in self.baseline.segments(cycle):
                a, b = max(origin + x0, since), min(origin + x1, t)
                if b <= a:
                    continue
                closing = sign == wanted and b >= t
                if sign != wanted:
                    continue
                remaining -= REJOIN_RATE * (b - a)
                if remaining <= 0.0:
                    return 0.0, False
            if origin + 24.0 >= t:
                return math.copysign(remaining, offset0), closing
            cycle += 1
        return 0.0, False


def _effect_end(step: Step, start_level: float) -> float:
    """When the step stops acting: its ``end``, or when it reaches its goal."""
    if step.end is not None:
        return step.end
    if step.kind == "charge":
        return step.start + max(0.0, step.target - start_level) / step.rate
    if step.kind == "discharge":
        return step.start + max(0.0, start_level - step.target) / step.rate
    return math.inf


def _command(t: float, step: Step, start_level: float) -> LevelState:
    """The level under a charge / discharge / idle step at ``t``."""
    elapsed = t - step.start
    if step.kind == "charge" and start_level < step.target:
        level = min(step.target, start_level + step.rate * elapsed)
        slope = step.rate if level < step.target else 0.0
        return LevelState(level, slope, "charge", step.label, step.target)
    if step.kind == "discharge" and start_level > step.target:
        level = max(step.target, start_level - step.rate * elapsed)
        slope = -step.rate if level > step.target else 0.0
        return LevelState(level, slope, "discharge", step.label, step.target)
    return LevelState(start_level, 0.0, step.kind, step.label, step.target)
