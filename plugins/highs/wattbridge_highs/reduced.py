"""The reduced LP: the same optimum as the plain one with about half its size.

Reductions (each argued in docs/solver.md and checked against the plain LP in
the tests and the bench):

1. Import is eliminated through the balance: ``import ≥ 0`` becomes one
   inequality row per hour and import cost moves into the other columns.
2. State of charge is counted above the minimum level, so "minimum ≤ soc ≤
   capacity" is one row (a bound when the capacity is fixed).
3. With flat prices, export price ≤ import price and losses in the battery, an
   optimum exists that never charges from the grid and never discharges into
   it: charge ≤ PV potential and discharge ≤ load are bounds, and C-rate rows
   are dropped where those bounds are already tighter than ``c x minKwh``.
4. Night blocks (hours without any PV potential) can only discharge, so the
   state of charge falls monotonically inside them: one dynamics row per
   block, no state-of-charge columns inside, and, where the power limit cannot
   bind, one discharge column per block, spread over its hours in proportion
   to what each hour can take.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from wattbridge_highs.formulation import Formulation, _Triplets, pv_potential, sizing_bounds
from wattbridge_highs.problem import FloatArray, SizingProblem

INF = np.inf
_EPS = 1e-12


def night_blocks(day: np.ndarray) -> list[np.ndarray]:
    """Maximal runs of night hours in the cyclic sequence, as arrays of hour indices."""
    hours = day.shape[0]
    if day.all() or not day.any():
        return [] if day.all() else [np.arange(hours)]
    start = int(np.flatnonzero(day)[0])
    order = (start + np.arange(hours)) % hours
    night = ~day[order]
    edges = np.diff(np.concatenate(([0], night.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [order[a:b] for a, b in zip(starts, ends, strict=True)]


def build_reduced(problem: SizingProblem) -> Formulation:
    """Build the reduced formulation of ``problem``."""
    hours = problem.hours
    load = problem.load_kwh
    existing = problem.existing_pv_kwh()
    new = problem.new_arrays()
    battery = problem.battery
    potential = pv_potential(problem)
    day = potential > _EPS
    day_hours = np.flatnonzero(day)
    n_day = day_hours.shape[0]
    n_size = len(new) + (1 if battery else 0)
    k_cols = np.arange(len(new))
    e_col = len(new) if battery else None
    per_day = 4 if battery else 1
    base = n_size
    exp_c = base + per_day * np.arange(n_day)
    ch_c, dis_c, s_c = exp_c + 1, exp_c + 2, exp_c + 3
    next_col = base + per_day * n_day

    col_lower: list[float] = []
    col_upper: list[float] = []
    lower_sz, upper_sz = sizing_bounds(problem)
    a = _Triplets()
    rl: list[FloatArray] = []
    ru: list[FloatArray] = []
    # Flow maps as triplets over (hour, column) plus offsets.
    flows = {name: _Triplets() for name in ("import", "export", "charge", "discharge", "stored")}
    offsets = {name: np.zeros(hours) for name in flows}
    offsets["import"] = load - existing

    # Row block 1: import ≥ 0 in day hours.
    rows = np.arange(n_day)
    net = (load - existing)[day_hours]
    for col, array in zip(k_cols, new, strict=True):
        a.add(rows, col, array.yield_per_kwp[day_hours])
        flows["import"].add(day_hours, col, -array.yield_per_kwp[day_hours])
    a.add(rows, exp_c, -1.0)
    flows["import"].add(day_hours, exp_c, 1.0)
    flows["export"].add(day_hours, exp_c, 1.0)
    rl.append(np.full(n_day, -INF))
    ru.append(net)
    row = n_day
    upper = np.full(next_col, INF)
    lower = np.zeros(next_col)
    upper[:n_size], lower[:n_size] = upper_sz, lower_sz

    if battery is not None:
        assert e_col is not None
        eta = battery.step_efficiency
        usable = 1.0 - battery.minimum_charge_level
        c_min = battery.c_rate * battery.min_kwh
        power = battery.power_kw
        if power is None and battery.fixed:
            power = battery.c_rate * battery.min_kwh
        cap_p = INF if power is None else power
        a.add(rows, ch_c, -1.0)
        a.add(rows, dis_c, 1.0)
        flows["import"].add(day_hours, ch_c, 1.0)
        flows["import"].add(day_hours, dis_c, -1.0)
        flows["charge"].add(day_hours, ch_c, 1.0)
        flows["discharge"].add(day_hours, dis_c, 1.0)
        flows["stored"].add(day_hours, s_c, 1.0)
        upper[ch_c] = np.minimum(cap_p, potential[day_hours])
        upper[dis_c] = np.minimum(cap_p, load[day_hours])
        if battery.fixed:
            upper[s_c] = usable * battery.min_kwh

        state_of_hour = np.full(hours, -1, dtype=np.int64)
        state_of_hour[day_hours] = s_c
        blocks = night_blocks(day)
        block_cols: list[tuple[np.ndarray, np.ndarray, int, FloatArray]] = []
        for block in blocks:
            caps = np.minimum(cap_p, load[block])
            per_hour = power is None and bool(caps.max(initial=0.0) > c_min + _EPS)
            n_dn = block.shape[0] if per_hour else (1 if caps.sum() > _EPS else 0)
            dn = next_col + np.arange(n_dn)
            s_b = next_col + n_dn
            next_col = s_b + 1
            state_of_hour[block] = s_b
            extra_up = list(caps) if per_hour else ([float(caps.sum())] if n_dn else [])
            block_cols.append((block, dn, s_b, caps))
            col_upper.extend([*extra_up, INF])
            col_lower.extend([0.0] * (n_dn + 1))
        upper = np.concatenate([upper, np.asarray(col_upper, dtype=float)])
        lower = np.concatenate([lower, np.asarray(col_lower, dtype=float)])

        # Dynamics of day hours: s_t - s_prev - η·charge + discharge/η = 0.
        prev = state_of_hour[(day_hours - 1) % hours]
        a.add(row + rows, s_c, 1.0)
        a.add(row + rows, prev, -1.0)
        a.add(row + rows, ch_c, -eta)
        a.add(row + rows, dis_c, 1.0 / eta)
        rl.append(np.zeros(n_day))
        ru.append(np.zeros(n_day))
        row += n_day
        # Dynamics of night blocks, and their hourly flows.
        for block, dn, s_b, caps in block_cols:
            s_prev = int(state_of_hour[(block[0] - 1) % hours])
            a.add(np.array([row]), s_b, 1.0)
            a.add(np.array([row]), s_prev, -1.0)
            if dn.size:
                a.add(np.full(dn.size, row), dn, 1.0 / eta)
            rl.append(np.zeros(1))
            ru.append(np.zeros(1))
            row += 1
            _night_flows(flows, block, dn, s_prev, caps, eta)
            if power is None and dn.size > 1:
                over = np.flatnonzero(load[block] > c_min + _EPS)
                n_over = over.shape[0]
                a.add(row + np.arange(n_over), dn[over], 1.0)
                a.add(row + np.arange(n_over), e_col, -battery.c_rate)
                rl.append(np.full(n_over, -INF))
                ru.append(np.zeros(n_over))
                row += n_over
        if not battery.fixed:
            # Usable energy ≤ (1 - minimum level) x capacity, day hours only:
            # inside night blocks the level only falls.
            a.add(row + rows, s_c, 1.0)
            a.add(row + rows, e_col, -usable)
            rl.append(np.full(n_day, -INF))
            ru.append(np.zeros(n_day))
            row += n_day
        if power is None:
            for cols, bound in ((ch_c, potential[day_hours]), (dis_c, load[day_hours])):
                need = np.flatnonzero(bound > c_min + _EPS)
                a.add(row + np.arange(need.shape[0]), cols[need], 1.0)
                a.add(row + np.arange(need.shape[0]), e_col, -battery.c_rate)
                rl.append(np.full(need.shape[0], -INF))
                ru.append(np.zeros(need.shape[0]))
                row += need.shape[0]

    num_col = next_col
    shape = (hours, num_col)
    return Formulation(
        name="reduced",
        matrix=a.matrix((row, num_col)).tocsc(),
        row_lower=np.concatenate(rl),
        row_upper=np.concatenate(ru),
        col_lower=lower,
        col_upper=upper,
        k_cols=k_cols,
        e_col=e_col,
        flow_maps={name: (trip.matrix(shape), offsets[name]) for name, trip in flows.items()},
    )


def _night_flows(
    flows: dict[str, _Triplets],
    block: np.ndarray,
    dn: np.ndarray,
    s_prev: int,
    caps: FloatArray,
    eta: float,
) -> None:
    """Hourly discharge, import and stored energy inside one night block."""
    n = block.shape[0]
    flows["stored"].add(block, s_prev, 1.0)
    if dn.size == 0:
        return
    if dn.size == n:  # one column per hour
        weights = sp.identity(n, format="coo")
        cum = sp.csr_matrix(np.tril(np.ones((n, n)))).tocoo()
        flows["discharge"].add(block[weights.row], dn[weights.col], weights.data)
        flows["import"].add(block[weights.row], dn[weights.col], -weights.data)
        flows["stored"].add(block[cum.row], dn[cum.col], -cum.data / eta)
        return
    share = caps / caps.sum()  # an aggregated column, spread by what each hour can take
    flows["discharge"].add(block, int(dn[0]), share)
    flows["import"].add(block, int(dn[0]), -share)
    flows["stored"].add(block, int(dn[0]), -np.cumsum(share) / eta)
