"""The plain LP: every hour gets import, export, charge, discharge and state of charge.

This is the textbook formulation, kept as the reference the reduced one is
checked against (tests and bench). Rows per hour: energy balance, storage
dynamics, state of charge ≤ capacity, state of charge ≥ minimum level, and
(with a C-rate) charge ≤ c·capacity and discharge ≤ c·capacity.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from wattbridge_highs.formulation import Formulation, _Triplets, sizing_bounds
from wattbridge_highs.problem import SizingProblem

INF = np.inf


def build_plain(problem: SizingProblem) -> Formulation:
    """Build the plain formulation of ``problem``."""
    hours = problem.hours
    t = np.arange(hours)
    new = problem.new_arrays()
    battery = problem.battery
    n_size = len(new) + (1 if battery else 0)
    k_cols = np.arange(len(new))
    e_col = len(new) if battery else None
    imp, exp = n_size, n_size + hours
    ch, dis, soc = n_size + 2 * hours, n_size + 3 * hours, n_size + 4 * hours
    num_col = n_size + (5 if battery else 2) * hours

    lower_sz, upper_sz = sizing_bounds(problem)
    col_lower = np.zeros(num_col)
    col_upper = np.full(num_col, INF)
    col_lower[:n_size], col_upper[:n_size] = lower_sz, upper_sz

    a = _Triplets()
    row_lower: list[np.ndarray] = []
    row_upper: list[np.ndarray] = []
    row = 0
    # Energy balance: import - export - charge + discharge + new PV = load - existing PV.
    net = problem.load_kwh - problem.existing_pv_kwh()
    for col, array in zip(k_cols, new, strict=True):
        a.add(t, col, array.yield_per_kwp)
    a.add(t, imp + t, 1.0)
    a.add(t, exp + t, -1.0)
    row_lower.append(net)
    row_upper.append(net)
    row += hours
    if battery is not None:
        assert e_col is not None
        a.add(t, ch + t, -1.0)  # the balance rows are the first ``hours`` rows
        a.add(t, dis + t, 1.0)
        eta = battery.step_efficiency
        # Dynamics (cyclic): soc_t - soc_{t-1} - η·charge_t + discharge_t/η = 0.
        a.add(row + t, soc + t, 1.0)
        a.add(row + t, soc + (t - 1) % hours, -1.0)
        a.add(row + t, ch + t, -eta)
        a.add(row + t, dis + t, 1.0 / eta)
        row_lower.append(np.zeros(hours))
        row_upper.append(np.zeros(hours))
        row += hours
        # soc ≤ capacity and soc ≥ minimum level x capacity.
        a.add(row + t, soc + t, 1.0)
        a.add(row + t, e_col, -1.0)
        row_lower.append(np.full(hours, -INF))
        row_upper.append(np.zeros(hours))
        row += hours
        a.add(row + t, soc + t, 1.0)
        a.add(row + t, e_col, -battery.minimum_charge_level)
        row_lower.append(np.zeros(hours))
        row_upper.append(np.full(hours, INF))
        row += hours
        if battery.power_kw is not None:
            col_upper[ch : ch + hours] = battery.power_kw
            col_upper[dis : dis + hours] = battery.power_kw
        else:
            for first in (ch, dis):
                a.add(row + t, first + t, 1.0)
                a.add(row + t, e_col, -battery.c_rate)
                row_lower.append(np.full(hours, -INF))
                row_upper.append(np.zeros(hours))
                row += hours

    matrix = a.matrix((row, num_col)).tocsc()
    zero = np.zeros(hours)

    def pick(first: int, scale: float = 1.0) -> sp.csr_matrix:
        return sp.csr_matrix((np.full(hours, scale), (t, first + t)), shape=(hours, num_col))

    empty = sp.csr_matrix((hours, num_col))
    flow_maps = {"import": (pick(imp), zero), "export": (pick(exp), zero)}
    if battery is not None:
        assert e_col is not None
        flow_maps |= {"charge": (pick(ch), zero), "discharge": (pick(dis), zero)}
    else:
        flow_maps |= {name: (empty, zero) for name in ("charge", "discharge")}
    return Formulation(
        name="plain",
        matrix=matrix,
        row_lower=np.concatenate(row_lower),
        row_upper=np.concatenate(row_upper),
        col_lower=col_lower,
        col_upper=col_upper,
        k_cols=k_cols,
        e_col=e_col,
        flow_maps=flow_maps,
    )
