"""Marginal values from the final LP's duals, with the focus-country selection fixed.

Every number here is conditional on the selection: it says what one more $1M (or one $1M forced
into a component) is worth while the same countries stay chosen. A change large enough to change
the selection is what the frontier (``frontier``) and the price of rules (``prices``) measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.analysis.prices import RESOURCE_FAMILIES
from optimizer.analysis.resolve import Resolver

MARGIN_COLUMNS = ["kind", "name", "iso3", "component", "impact_per_1m_usd"]


@dataclass(frozen=True)
class Duals:
    """The fixed-selection LP's solution: row and column duals in impact units per model unit
    (US$1M for money rows and spend columns), and the column values."""

    row: np.ndarray
    col: np.ndarray
    values: np.ndarray


def fixed_duals(
    resolver: Resolver, selected: tuple[str, ...], optimum: np.ndarray | None = None
) -> Duals | None:
    """Solve the LP with ``selected`` fixed; None if it has no optimum. ``optimum``: the run's
    (its tipping points are then taken as they are, ``Resolver.fixed_lp``)."""
    duals = resolver.fixed_lp(tuple(selected), optimum)
    if duals is None:
        return None
    values = np.asarray(resolver.highs.getSolution().col_value)
    return Duals(row=duals[0], col=duals[1], values=values)


def marginal_values(
    resolver: Resolver, duals: Duals | None, selected: tuple[str, ...]
) -> pd.DataFrame:
    """Impact units per extra US$1M: for each budget row (total and each year's cap) and for each
    component a focus country does not fund (its reduced cost: negative means forcing $1M into it
    loses impact). Empty if the fixed LP had no optimum."""
    if duals is None:
        return pd.DataFrame(columns=MARGIN_COLUMNS)
    row_dual, col_dual, values = duals.row, duals.col, duals.values
    model = resolver.model
    rows = []
    for family, names in model.families.items():
        if family in RESOURCE_FAMILIES:
            rows += [
                {
                    "kind": "resource",
                    "name": name,
                    "iso3": "",
                    "component": "",
                    "impact_per_1m_usd": float(row_dual[resolver.row[name]]),
                }
                for name in names
            ]
    cols = model.columns.assign(col=[resolver.col[v.name] for v in model.columns["var"]])
    cols = cols[cols["iso3"].isin(selected)]
    cols = cols.assign(value=values[cols["col"].to_numpy()], dual=col_dual[cols["col"].to_numpy()])
    for (iso, comp), group in cols.groupby(["iso3", "component"], sort=True):
        if group["value"].sum() > 1e-9:
            continue
        first = group[group["segment"] == group["segment"].min()]
        rows.append(
            {
                "kind": "unfunded_component",
                "name": f"{iso}_{comp}",
                "iso3": iso,
                "component": comp,
                "impact_per_1m_usd": float(first["dual"].max()),
            }
        )
    return pd.DataFrame(rows, columns=MARGIN_COLUMNS)


def closest_left_out(resolver: Resolver, duals: Duals | None, count: int) -> list[str]:
    """The ``count`` countries left out whose compact the fixed LP values most (the reduced cost
    of their selection): the first candidates to examine by exact re-solve."""
    if duals is None:
        return []
    out = {
        iso: duals.col[col] for iso, col in resolver.select_cols.items() if duals.values[col] < 0.5
    }
    return sorted(out, key=lambda iso: (-out[iso], iso))[:count]
