"""Whole dollars that add up: the solved amounts rounded so that every total a planner can take
from ``allocation.csv`` is the solved total rounded to the dollar.

Rounding each row on its own loses or gains up to 50 cents a row: the baseline's rows summed to
$249,999,988 of a $250,000,000 budget. Here the country-by-year totals are rounded together
(controlled rounding: each cell, each country's total, each year's total and the grand total is
its exact value rounded down or up, and to the nearest dollar where the exact value is a whole
dollar, as a binding rule's is), then each cell is shared out over its rows by largest remainder.
The cell rounding is a small transportation problem: its constraint matrix is a network matrix, so
the LP's vertex solution is whole (Bacharach 1966; Cox and Ernst 1982, "Controlled rounding").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Dollars: an exact total this close to a whole dollar is that dollar (the solvers' feasibility
# tolerance, 1e-7 in model units of $1M, is $0.10); tried in turn, the first that can be met.
WHOLE = (0.1, 1e-6)


def _bounds(total: float, whole: float) -> tuple[float, float]:
    """The whole dollars ``total`` may round to: the nearest if it is that close, else down or up."""
    nearest = round(total)
    if abs(total - nearest) <= whole:
        return nearest, nearest
    return math.floor(total), math.ceil(total)


def _round_cells(cells: pd.DataFrame, whole: float) -> pd.DataFrame | None:
    """Country (rows) by year (columns) amounts, rounded so that row, column and grand totals are
    rounded too; None if that cannot be met (with ``whole`` tiny it always can: the exact amounts
    are a fractional solution of a network problem)."""
    from scipy.optimize import linprog

    exact = cells.to_numpy(dtype=float)
    base = np.floor(exact + whole)  # an amount a hair under a whole dollar is that dollar
    frac = np.clip(exact - base, 0.0, None)
    n_rows, n_cols = exact.shape
    upper = (frac > whole).astype(float).ravel()  # a whole amount stays whole
    a_ub, b_ub = [], []
    for totals, pick, count in (
        (exact.sum(axis=1), lambda i: np.s_[i, :], n_rows),
        (exact.sum(axis=0), lambda j: np.s_[:, j], n_cols),
    ):
        for k in range(count):
            row = np.zeros((n_rows, n_cols))
            row[pick(k)] = 1.0
            low, high = _bounds(totals[k], whole)
            floor_sum = base[pick(k)].sum()
            a_ub += [row.ravel(), -row.ravel()]
            b_ub += [high - floor_sum, floor_sum - low]
    # largest remainders first: rounding up a big fraction costs least
    cost = 0.5 - frac.ravel()
    solution = linprog(
        cost,
        A_ub=np.array(a_ub),
        b_ub=np.array(b_ub),
        A_eq=np.ones((1, n_rows * n_cols)),
        b_eq=[round(exact.sum()) - base.sum()],
        bounds=list(zip(np.zeros_like(upper), upper, strict=True)),
        method="highs-ds",  # simplex: a vertex, so whole
    )
    if solution.status != 0:
        return None
    ups = np.round(solution.x).reshape(n_rows, n_cols)
    return pd.DataFrame(base + ups, index=cells.index, columns=cells.columns)


def _largest_remainder(amounts: np.ndarray, total: float) -> np.ndarray:
    """Whole amounts near ``amounts`` that add up to the whole ``total``."""
    base = np.floor(amounts + WHOLE[-1])
    left = round(total - base.sum())
    if left > 0:
        order = np.argsort(-(amounts - base), kind="stable")[:left]
        base[order] += 1.0
    elif left < 0:  # a cell rounded down: take back from the smallest remainders
        order = np.argsort(amounts - base, kind="stable")[:-left]
        base[order] -= 1.0
    return base


def whole_dollars(frame: pd.DataFrame, amount: str = "amount_usd") -> pd.Series:
    """``frame[amount]`` in whole dollars: each (iso3, year) total and every country, year and
    grand total is its exact value rounded, and each (iso3, year)'s rows add up to its total."""
    exact = frame[amount].clip(lower=0.0)
    if exact.empty:
        return exact
    cells = exact.groupby([frame["iso3"], frame["year"]]).sum().unstack(fill_value=0.0)
    rounded = next((r for w in WHOLE if (r := _round_cells(cells, w)) is not None), None)
    if rounded is None:  # not expected (see _round_cells); round each cell on its own
        rounded = cells.round(0)
    out = pd.Series(0.0, index=frame.index)
    for (iso, year), rows in exact.groupby([frame["iso3"], frame["year"]]):
        out[rows.index] = _largest_remainder(rows.to_numpy(), rounded.at[iso, year])
    return out
