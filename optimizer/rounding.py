"""Whole dollars that add up: the solved amounts rounded so that every total a planner can take
from ``allocation.csv`` is the solved total rounded to the dollar.

Rounding each row on its own loses or gains up to 50 cents a row: the baseline's rows summed to
$249,999,988 of a $250,000,000 budget. Here the country-by-year totals are rounded together
(controlled rounding: each cell, each country's total, each year's total and the grand total is
its exact value rounded down or up, and to the nearest dollar where the exact value is a whole
dollar, as a binding rule's is), then each cell is shared out over its rows by largest remainder.
The cell rounding is a small transportation problem solved by HiGHS's simplex: its constraint
matrix is a network matrix, so the LP's vertex solution is whole (Bacharach 1966, "Matrix rounding
problems"; Cox and Ernst 1982, "Controlled rounding").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from optimizer.solve import _stdout_silenced

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
    import highspy

    exact = cells.to_numpy(dtype=float)
    base = np.floor(exact + whole)  # an amount a hair under a whole dollar is that dollar
    frac = np.clip(exact - base, 0.0, None)
    n_rows, n_cols = exact.shape
    cell = np.arange(n_rows * n_cols).reshape(n_rows, n_cols)
    groups = [cell[i, :] for i in range(n_rows)] + [cell[:, j] for j in range(n_cols)]
    totals = [*exact.sum(axis=1), *exact.sum(axis=0)]
    low, high = [], []
    for members, total in zip(groups, totals, strict=True):
        lo, hi = _bounds(total, whole)
        low.append(lo - base.ravel()[members].sum())
        high.append(hi - base.ravel()[members].sum())
    grand = round(exact.sum()) - base.sum()
    groups.append(cell.ravel())
    low.append(grand)
    high.append(grand)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_rows * n_cols, len(groups)
    lp.col_cost_ = 0.5 - frac.ravel()  # largest remainders first: rounding them up costs least
    lp.col_lower_ = np.zeros(lp.num_col_)
    lp.col_upper_ = (frac > whole).astype(float).ravel()  # a whole amount stays whole
    lp.row_lower_, lp.row_upper_ = np.array(low), np.array(high)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    lp.a_matrix_.start_ = np.cumsum([0] + [len(g) for g in groups]).astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate(groups).astype(np.int32)
    lp.a_matrix_.value_ = np.ones(sum(len(g) for g in groups))
    with _stdout_silenced():  # HiGHS prints a banner from C++ when constructed
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("solver", "simplex")  # a vertex, so whole
    highs.passModel(lp)
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    ups = np.round(np.array(highs.getSolution().col_value)).reshape(n_rows, n_cols)
    return pd.DataFrame(base + ups, index=cells.index, columns=cells.columns)


def whole_dollars(frame: pd.DataFrame, amount: str = "amount_usd") -> pd.Series:
    """``frame[amount]`` in whole dollars: each (iso3, year) total and every country, year and
    grand total is its exact value rounded, and each (iso3, year)'s rows add up to its total
    (largest remainder: the rows with the largest fractions get the dollars left to share)."""
    exact = frame[amount].clip(lower=0.0)
    if exact.empty:
        return exact
    keys = [frame["iso3"], frame["year"]]
    cells = exact.groupby(keys).sum().unstack(fill_value=0.0)
    rounded = next((r for w in WHOLE if (r := _round_cells(cells, w)) is not None), None)
    if rounded is None:  # not expected (see _round_cells); round each cell on its own
        rounded = cells.round(0)
    target = rounded.stack().reindex(pd.MultiIndex.from_arrays(keys)).to_numpy()
    base = np.floor(exact + WHOLE[-1])
    frac = exact - base
    left = target - base.groupby(keys).transform("sum").to_numpy()
    first = frac.groupby(keys).rank(method="first", ascending=False).to_numpy()
    last = frac.groupby(keys).rank(method="first", ascending=True).to_numpy()
    # a cell rounded down below its rows' floors (only from snapping) takes back from the smallest
    return base + (first <= left) - (last <= -left)
