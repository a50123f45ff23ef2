"""Near-optimal alternatives: focus-country sets within a margin of the optimum that differ from
it, and from each other, as much as possible.

On the warm HiGHS copy: one row keeps impact at least (1 - margin) times the optimum, a column d
counts the fewest countries by which the selection differs from every set found so far (the
Hamming distance of y from a known set is linear in y), and the objective maximises d, with impact
as a tie-break worth less than one country. Each set found is then re-solved with its countries
fixed for its own best impact. The added row and column are removed at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from optimizer.analysis.resolve import Point, Resolver
from optimizer.solve import Status

TIE_BREAK_WEIGHT = 0.1  # impact's weight in the search objective, in countries per optimum
SEARCH_GAP = 0.1  # relative MIP gap of the search for a far set
SEARCH_SECONDS = 20.0  # the search keeps the farthest set found by then (HiGHS's MIP directly:
# its relaxation is far from integral, so the resolver's own branching would only add LPs)


@dataclass(frozen=True)
class Alternative:
    point: Point  # best impact with this focus-country set
    distance: int  # countries in or out against the optimum
    impact_lost_pct: float


def find_alternatives(
    resolver: Resolver,
    optimum: Point,
    within: float,
    count: int,
    tick: Callable[[], None] | None = None,
) -> tuple[list[Alternative], bool]:
    """Up to ``count`` alternatives whose impact is within ``within`` (a fraction, 0 < within < 1)
    of ``optimum.objective``, and whether the search ran out of sets (rather than out of time or
    patience: Ctrl-C keeps those found)."""
    highs = resolver.highs
    isos = list(resolver.select_cols)
    ycols = np.array([resolver.select_cols[c] for c in isos], dtype=np.int32)
    impact = resolver.sign * resolver.cost  # impact units per unit of each column
    nz = np.flatnonzero(impact)
    first_row, first_col = highs.getNumRow(), highs.getNumCol()
    floor = (1.0 - within) * optimum.objective
    highs.addRow(floor, np.inf, len(nz), nz.astype(np.int32), impact[nz])
    highs.addCol(0.0, 1.0, float(len(isos)), 0, np.array([], dtype=np.int32), np.array([]))
    d = first_col
    scale = TIE_BREAK_WEIGHT / max(abs(optimum.objective), 1e-9)
    search_cost = np.zeros(first_col + 1)
    search_cost[:first_col] = -impact * scale  # minimise: - tie-break impact - d
    search_cost[d] = -1.0
    everything = np.arange(first_col + 1, dtype=np.int32)
    highs.changeColsCost(len(everything), everything, search_cost)
    found: list[tuple[str, ...]] = []
    exhausted = False
    variables = resolver.variables
    # the solver writes each column's value on its variable: d gets a stand-in
    resolver.variables = [
        *variables,
        SimpleNamespace(name="alternatives_distance", hash=None, varValue=None),
    ]
    gap = resolver.settings.mip_gap
    # The search wants a far set, not a proof that none is farther: stop within 10% of the best
    # distance (measured on the baseline: minutes a set when proved, seconds within 10%).
    highs.setOptionValue("mip_rel_gap", SEARCH_GAP)
    try:
        known = [tuple(optimum.selected)]
        for _ in range(count):
            _distance_row(highs, d, ycols, isos, known[-1])
            limit = min(SEARCH_SECONDS, resolver.settings.time_limit_s)
            point = resolver.solve(time_limit=limit, restrict=False)
            if tick:
                tick()
            if not point.ok:
                exhausted = point.status == Status.INFEASIBLE
                break
            known.append(point.selected)
            found.append(point.selected)
    except KeyboardInterrupt:
        pass
    finally:
        highs.setOptionValue("mip_rel_gap", gap)
        resolver.variables = variables
        rows = np.arange(first_row, highs.getNumRow(), dtype=np.int32)
        highs.deleteRows(len(rows), rows)
        highs.deleteCols(1, np.array([d], dtype=np.int32))
        original = np.arange(first_col, dtype=np.int32)
        highs.changeColsCost(len(original), original, resolver.cost)
    return [_best(resolver, optimum, selection) for selection in found], exhausted


def _distance_row(
    highs, d: int, ycols: np.ndarray, isos: list[str], known: tuple[str, ...]
) -> None:
    """d <= Hamming distance of y from ``known``: d + sum_{in} y - sum_{out} y <= |known|."""
    members = set(known)
    coef = np.array([1.0 if c in members else -1.0 for c in isos])
    index = np.concatenate(([d], ycols)).astype(np.int32)
    values = np.concatenate(([1.0], coef))
    highs.addRow(-np.inf, float(len(members)), len(index), index, values)


def _best(resolver: Resolver, optimum: Point, selection: tuple[str, ...]) -> Alternative:
    fixed = np.array([1.0 if c in selection else 0.0 for c in resolver.select_cols])
    ycols = np.array(list(resolver.select_cols.values()), dtype=np.int32)
    with resolver.cols_bounds(ycols, fixed, fixed):
        point = resolver.solve()
    distance = len(set(selection) ^ set(optimum.selected))
    lost = 100.0 * (optimum.objective - (point.objective or 0.0)) / abs(optimum.objective)
    return Alternative(point=point, distance=distance, impact_lost_pct=max(0.0, lost))
