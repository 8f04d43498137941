"""The reduced LP: the same optimum as the plain one at about a third of its size.

Every hour falls in one of three classes by what PV *could* do there at the
largest sizes (potential) and what the installed PV surely does (existing):

- **deficit** (potential ≤ load): PV never covers the load, so an optimum
  exists that never charges and never exports there;
- **sure surplus** (existing ≥ load < potential): the load is always covered,
  so an optimum exists that never discharges and never imports there;
- **either** (existing < load < potential): both can happen.

Reductions (each proved in docs/solver.md and checked against the plain LP in
the tests and the bench):

1. Import is eliminated through the balance: ``import ≥ 0`` becomes one
   inequality row per "either" hour and import cost moves into the other
   columns; in sure-surplus hours export is eliminated the same way.
2. State of charge is counted above the minimum level, so "minimum ≤ soc ≤
   capacity" is one row (a bound when the capacity is fixed).
3. With flat prices, export price ≤ import price and losses in the battery, an
   optimum exists that never charges from the grid and never discharges into
   it: charge ≤ PV surplus, discharge ≤ deficit. Charge and export vanish in
   deficit hours, discharge and import in sure-surplus hours, and C-rate rows
   are dropped where those bounds are already tighter than ``c x minKwh``.
4. In a run of deficit hours (every night, most winter days) the state of
   charge only falls, and in a run of sure-surplus hours it only rises: one
   state column and one dynamics row per run, its bounds checked at the end
   only. Hours of a deficit run where neither a C-rate row nor new PV can bind
   share one pooled discharge column, spread over them in proportion to what
   each can take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wattbridge_highs.formulation import (
    FLOWS,
    Formulation,
    _Triplets,
    pv_potential,
    sizing_bounds,
)
from wattbridge_highs.problem import FloatArray, SizingProblem

INF = np.inf
_EPS = 1e-12


def cyclic_runs(mask: np.ndarray) -> list[np.ndarray]:
    """Maximal runs of ``True`` hours in the cyclic sequence, as arrays of hour indices."""
    hours = mask.shape[0]
    if mask.all() or not mask.any():
        return [np.arange(hours)] if mask.all() else []
    start = int(np.flatnonzero(~mask)[0])
    order = (start + np.arange(hours)) % hours
    edges = np.diff(np.concatenate(([0], mask[order].astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [order[a:b] for a, b in zip(starts, ends, strict=True)]


def build_reduced(problem: SizingProblem) -> Formulation:
    """Build the reduced formulation of ``problem``."""
    b = _Builder(problem)
    b.either_hours()
    if problem.battery is not None:
        b.battery_rows()
    return b.formulation()


@dataclass
class _Run:
    """A run of deficit hours: discharge columns of its own hours, a pooled one, its end state."""

    hours: np.ndarray
    caps: FloatArray  # the most each hour can discharge
    own: np.ndarray  # hours with a column of their own
    own_cols: np.ndarray
    pooled_col: int | None
    end: int  # state-of-charge column at the end of the run
    pv_rows: np.ndarray  # of the own hours: needs an "import ≥ 0" row
    rated: np.ndarray  # of the own hours: needs a C-rate row


class _Builder:
    """Columns, rows and flow maps of the reduced LP, added class of hours by class."""

    def __init__(self, problem: SizingProblem) -> None:
        self.p = problem
        hours = problem.hours
        self.load = problem.load_kwh
        self.existing = problem.existing_pv_kwh()
        self.net = self.load - self.existing
        self.new = problem.new_arrays()
        self.potential = pv_potential(problem)
        active = self.potential - self.load > _EPS  # PV may exceed the load
        self.sure = active & (self.net <= 0)
        self.active = active
        self.either = np.flatnonzero(active & ~self.sure)
        n_size = len(self.new) + (1 if problem.battery else 0)
        self.k_cols = np.arange(len(self.new))
        self.e_col = len(self.new) if problem.battery else None
        lower, upper = sizing_bounds(problem)
        self.lower: list[float] = list(lower)
        self.upper: list[float] = list(upper)
        self.num_col = n_size
        self.a = _Triplets()
        self.rl: list[FloatArray] = []
        self.ru: list[FloatArray] = []
        self.row = 0
        self.flows = {name: _Triplets() for name in FLOWS}
        self.offsets = {name: np.zeros(hours) for name in self.flows}
        # Import is load - PV (+ battery terms) outside sure-surplus hours, 0 inside;
        # export there is PV - load - charge.
        self.offsets["import"] = np.where(self.sure, 0.0, self.net)
        self.offsets["export"] = np.where(self.sure, -self.net, 0.0)
        not_sure, sure = np.flatnonzero(~self.sure), np.flatnonzero(self.sure)
        for col, array in zip(self.k_cols, self.new, strict=True):
            self.flows["import"].add(not_sure, col, -array.yield_per_kwp[not_sure])
            self.flows["export"].add(sure, col, array.yield_per_kwp[sure])

    def columns(self, upper: FloatArray | list[float]) -> np.ndarray:
        """Add columns with lower bound 0; answer their indices."""
        upper = np.asarray(upper, dtype=float)
        cols = self.num_col + np.arange(upper.shape[0])
        self.num_col += upper.shape[0]
        self.lower.extend([0.0] * upper.shape[0])
        self.upper.extend(upper.tolist())
        return cols

    def rows(self, count: int, lower: FloatArray | float, upper: FloatArray | float) -> np.ndarray:
        """Add ``count`` rows with the given bounds; answer their indices."""
        self.rl.append(np.broadcast_to(np.asarray(lower, dtype=float), (count,)).copy())
        self.ru.append(np.broadcast_to(np.asarray(upper, dtype=float), (count,)).copy())
        rows = self.row + np.arange(count)
        self.row += count
        return rows

    def pv_terms(self, rows: np.ndarray, hours: np.ndarray, sign: float) -> None:
        """``sign x Σ k·yield`` of ``hours`` into ``rows``."""
        for col, array in zip(self.k_cols, self.new, strict=True):
            values = array.yield_per_kwp[hours]
            has = values > 0
            self.a.add(rows[has], col, sign * values[has])

    def either_hours(self) -> None:
        """Export columns and ``import ≥ 0`` rows of the hours that may import or export."""
        hours = self.either
        exp_c = self.columns(np.full(hours.shape[0], INF))
        self.import_rows = self.rows(hours.shape[0], -INF, self.net[hours])
        self.pv_terms(self.import_rows, hours, 1.0)
        self.a.add(self.import_rows, exp_c, -1.0)
        self.flows["import"].add(hours, exp_c, 1.0)
        self.flows["export"].add(hours, exp_c, 1.0)

    def battery_rows(self) -> None:
        """Charge, discharge and state columns with their rows (reductions 2-4)."""
        battery = self.p.battery
        assert battery is not None and self.e_col is not None
        hours = self.p.hours
        eta = battery.step_efficiency
        usable = 1.0 - battery.minimum_charge_level
        self.c_min = battery.c_rate * battery.min_kwh
        power = battery.power_kw
        if power is None and battery.fixed:
            power = battery.c_rate * battery.min_kwh
        self.power = power
        cap_p = INF if power is None else power
        s_cap = usable * battery.min_kwh if battery.fixed else INF
        either, load, net = self.either, self.load, self.net

        # "Either" hours: charge, discharge and state per hour.
        ch_bound = np.minimum(cap_p, self.potential[either] - load[either])
        dis_bound = np.minimum(cap_p, net[either])
        ch_c, dis_c = self.columns(ch_bound), self.columns(dis_bound)
        s_c = self.columns(np.full(either.shape[0], s_cap))
        self.a.add(self.import_rows, ch_c, -1.0)
        self.a.add(self.import_rows, dis_c, 1.0)
        self.flows["import"].add(either, ch_c, 1.0)
        self.flows["import"].add(either, dis_c, -1.0)
        self.flows["charge"].add(either, ch_c, 1.0)
        self.flows["discharge"].add(either, dis_c, 1.0)
        state_of_hour = np.full(hours, -1, dtype=np.int64)
        state_of_hour[either] = s_c

        # Sure-surplus hours: charge per hour, export = PV - load - charge ≥ 0.
        sure = np.flatnonzero(self.sure)
        sch_bound = np.minimum(cap_p, self.potential[sure] - load[sure])
        sch_c = self.columns(sch_bound)
        self.flows["charge"].add(sure, sch_c, 1.0)
        self.flows["export"].add(sure, sch_c, -1.0)
        binds = sch_bound > -net[sure] + _EPS  # the installed PV alone may not cover it
        rows = self.rows(int(binds.sum()), -INF, -net[sure][binds])
        self.a.add(rows, sch_c[binds], 1.0)
        self.pv_terms(rows, sure[binds], -1.0)
        sch_of_hour = np.full(hours, -1, dtype=np.int64)
        sch_of_hour[sure] = sch_c
        sure_runs = cyclic_runs(self.sure)
        sure_s = self.columns(np.full(len(sure_runs), s_cap))
        for run, s_run in zip(sure_runs, sure_s, strict=True):
            state_of_hour[run] = s_run

        deficit = self._deficit_columns(cap_p, state_of_hour)

        # Dynamics: s_t - s_prev - η·charge + discharge/η = 0 per "either" hour ...
        rows = self.rows(either.shape[0], 0.0, 0.0)
        self.a.add(rows, s_c, 1.0)
        self.a.add(rows, state_of_hour[(either - 1) % hours], -1.0)
        self.a.add(rows, ch_c, -eta)
        self.a.add(rows, dis_c, 1.0 / eta)
        # ... and one per run: s_end - s_before - η·Σ charge (+ Σ discharge/η) = 0.
        rows = self.rows(len(sure_runs), 0.0, 0.0)
        for r, run, s_run in zip(rows, sure_runs, sure_s, strict=True):
            prev = state_of_hour[(run[0] - 1) % hours]
            self.a.add(
                np.full(run.shape[0] + 2, r),
                np.concatenate(([s_run, prev], sch_of_hour[run])),
                np.concatenate(([1.0, -1.0], np.full(run.shape[0], -eta))),
            )
        self._deficit_rows(deficit, state_of_hour, eta)

        if not battery.fixed:
            # Usable energy ≤ (1 - minimum level) x capacity: at the end of each
            # sure-surplus run, and in "either" hours not followed by one (the level
            # rises through the run). In deficit runs the level only falls.
            keep = np.flatnonzero(~self.sure[(either + 1) % hours])
            cols = np.concatenate((s_c[keep], sure_s))
            rows = self.rows(cols.shape[0], -INF, 0.0)
            self.a.add(rows, cols, 1.0)
            self.a.add(rows, self.e_col, -usable)
        if power is None:
            for cols, bound in ((ch_c, ch_bound), (dis_c, dis_bound), (sch_c, sch_bound)):
                self._rate_rows(cols[bound > self.c_min + _EPS])

    def _rate_rows(self, cols: np.ndarray) -> None:
        """``flow ≤ c-rate x capacity`` for each column."""
        battery = self.p.battery
        assert battery is not None and self.e_col is not None
        rows = self.rows(cols.shape[0], -INF, 0.0)
        self.a.add(rows, cols, 1.0)
        self.a.add(rows, self.e_col, -battery.c_rate)

    def _deficit_columns(self, cap_p: float, state_of_hour: np.ndarray) -> list[_Run]:
        """Discharge columns and the end state of each deficit run.

        Inside a run the level only falls, so the order of its discharges does not
        matter: hours whose only limit is their own bound share one pooled column.
        An hour keeps a column of its own where new PV could shrink its deficit
        below that bound (an ``import ≥ 0`` row) or a C-rate row may bind.
        """
        runs = []
        new_pv = self.potential - self.existing > _EPS
        for hours in cyclic_runs(~self.active):
            caps = np.minimum(cap_p, self.net[hours])
            pv_rows = new_pv[hours] & (self.load[hours] - self.potential[hours] < caps - _EPS)
            rated = (caps > self.c_min + _EPS) if self.power is None else np.zeros_like(pv_rows)
            own = pv_rows | rated
            pooled = float(caps[~own].sum())
            run = _Run(
                hours=hours,
                caps=caps,
                own=own,
                own_cols=self.columns(caps[own]),
                pooled_col=int(self.columns([pooled])[0]) if pooled > _EPS else None,
                end=int(self.columns([INF])[0]),
                pv_rows=pv_rows[own],
                rated=rated[own],
            )
            state_of_hour[hours] = run.end
            runs.append(run)
        return runs

    def _deficit_rows(self, runs: list[_Run], state_of_hour: np.ndarray, eta: float) -> None:
        """Dynamics, ``import ≥ 0`` and C-rate rows of the deficit runs, and their flows."""
        dyn = self.rows(len(runs), 0.0, 0.0)
        # Gathered over all runs, added once: thousands of small blocks are slow to add.
        r_all, c_all, v_all = [], [], []
        hour_h, hour_c, hour_w, pv_h, pv_c, rate_c = [], [], [], [], [], []
        for r, run in zip(dyn, runs, strict=True):
            before = int(state_of_hour[(run.hours[0] - 1) % self.p.hours])
            dn = run.own_cols if run.pooled_col is None else [*run.own_cols, run.pooled_col]
            r_all.append(np.full(2 + len(dn), r))
            c_all.append(np.concatenate(([run.end, before], dn)).astype(np.int64))
            v_all.append(np.concatenate(([1.0, -1.0], np.full(len(dn), 1.0 / eta))))
            own_hours = run.hours[run.own]
            hour_h.append(own_hours)
            hour_c.append(run.own_cols)
            hour_w.append(np.ones(own_hours.shape[0]))
            pv_h.append(own_hours[run.pv_rows])
            pv_c.append(run.own_cols[run.pv_rows])
            rate_c.append(run.own_cols[run.rated])
            if run.pooled_col is not None:  # spread by what each hour can take
                caps = run.caps[~run.own]
                hour_h.append(run.hours[~run.own])
                hour_c.append(np.full(caps.shape[0], run.pooled_col))
                hour_w.append(caps / caps.sum())
        if runs:
            self.a.add(np.concatenate(r_all), np.concatenate(c_all), np.concatenate(v_all))
            h, c, w = np.concatenate(hour_h), np.concatenate(hour_c), np.concatenate(hour_w)
            self.flows["discharge"].add(h, c, w)
            self.flows["import"].add(h, c, -w)
            # import ≥ 0 where new PV could bind: discharge + Σ k·yield ≤ load - existing.
            h, c = np.concatenate(pv_h), np.concatenate(pv_c)
            rows = self.rows(h.shape[0], -INF, self.net[h])
            self.a.add(rows, c, 1.0)
            self.pv_terms(rows, h, 1.0)
            self._rate_rows(np.concatenate(rate_c))

    def formulation(self) -> Formulation:
        """The finished formulation."""
        shape = (self.p.hours, self.num_col)
        return Formulation(
            name="reduced",
            matrix=self.a.matrix((self.row, self.num_col)).tocsc(),
            row_lower=np.concatenate(self.rl) if self.rl else np.zeros(0),
            row_upper=np.concatenate(self.ru) if self.ru else np.zeros(0),
            col_lower=np.asarray(self.lower, dtype=float),
            col_upper=np.asarray(self.upper, dtype=float),
            k_cols=self.k_cols,
            e_col=self.e_col,
            flow_maps={
                name: (trip.matrix(shape), self.offsets[name]) for name, trip in self.flows.items()
            },
        )
