"""Every rule row of a solved model in the rule's own units: ``constraints.csv`` and the summary's
binding rules.

A share rule (pillar floor, earmark, government cap, M&E floor: ``part - share x base >= 0`` or
``<= 0``) is shown as the share reached against the share required, with both amounts in dollars;
a ramp (``spend(t) - factor x spend(t - 1)``) as the ratio to the year before; a rule with a focus
country's selection in it (compact size) in dollars, its limit being what the selection makes it;
a count rule in countries; a rule in outcome units (aftercare: survivors assisted against victims
identified) in outcomes; any other rule in dollars. A country's rows say whether it is a focus
country: the rules of a country that is not hold trivially (no money, no limit).
"""

from __future__ import annotations

import math

import pandas as pd
import pulp

from optimizer.model import OUTCOME_FAMILIES, UNIT, AllocationModel, country_of
from optimizer.solve import Solution

COLUMNS = [
    "name",
    "family",
    "iso3",
    "selected",
    "unit",
    "activity",
    "limit",
    "slack",
    "binding",
    "amount_usd",
    "base_usd",
    "dual_impact_per_unit",
]
RATIO_FAMILIES = frozenset({"ramp_up", "ramp_down"})
TOLERANCE = 1e-6


def _share_form(con: pulp.LpConstraint, binaries: set[int]):
    """(part, base variables, share) if the row reads ``part - share x sum(base) (<=, >=) 0``."""
    if abs(con.constant) > 1e-12:
        return None
    items = list(con.items())
    plus = [v for v, c in items if c == 1.0]
    minus = [(v, c) for v, c in items if c < 0]
    if len(plus) != 1 or not minus or len(minus) + 1 != len(items):
        return None
    if any(id(v) in binaries for v, _ in items) or len({c for _, c in minus}) != 1:
        return None
    return plus[0], [v for v, _ in minus], -minus[0][1]


def _row(con: pulp.LpConstraint, family: str, binaries: set[int], value_of) -> dict:
    """Unit, activity, limit, amount and base of one row (slack and binding are added after)."""
    share = _share_form(con, binaries)
    if share is not None:
        part, base, limit = share
        amount, of = value_of(part) * UNIT, sum(value_of(v) for v in base) * UNIT
        return {
            "unit": "ratio" if family in RATIO_FAMILIES else "share",
            "activity": amount / of if of > TOLERANCE * UNIT else math.nan,
            "limit": limit,
            "amount_usd": amount,
            "base_usd": of,
        }
    items = list(con.items())
    if family in OUTCOME_FAMILIES:
        return {
            "unit": "outcomes",
            "activity": sum(c * value_of(v) for v, c in items),
            "limit": -con.constant,
        }
    if all(id(v) in binaries for v, _ in items):
        return {
            "unit": "countries",
            "activity": sum(c * value_of(v) for v, c in items),
            "limit": -con.constant,
        }
    fixed = sum(c * value_of(v) for v, c in items if id(v) in binaries)
    return {
        "unit": "usd",
        "activity": sum(c * value_of(v) for v, c in items if id(v) not in binaries) * UNIT,
        "limit": (-con.constant - fixed) * UNIT,
    }


def rule_rows(model: AllocationModel, solution: Solution) -> pd.DataFrame:
    """Every rule row (``COLUMNS``) at ``solution``; binding = tight (slack ~ 0 in the row's own
    terms) and with money or a country in it; ``dual_impact_per_unit`` = the final LP's row dual:
    impact units per model unit of the row (US$ million for a money row, a country for a count
    row, a person for an outcome row, one for a share or ramp row), empty where the solve gave
    none. A row of a family switched off (``AllocationModel.set_family``) is not listed."""
    problem = model.problem
    value_of = solution.value
    binaries = {id(v) for v in model.binaries}
    countries = set(model.countries)
    rows = []
    for family, names in model.families.items():
        for name in names:
            con = problem.get_constraint_by_name(name)
            if con is None:  # switched off
                continue
            raw = sum(c * value_of(v) for v, c in con.items())
            rhs = -con.constant
            gap = rhs - raw if con.sense == pulp.LpConstraintLE else raw - rhs
            if con.sense == pulp.LpConstraintEQ:
                gap = abs(gap)
            active = any(abs(value_of(v)) > TOLERANCE for v in con)
            row = {"name": name, "family": family, **_row(con, family, binaries, value_of)}
            slack = row["limit"] - row["activity"]
            if con.sense == pulp.LpConstraintGE:
                slack = -slack
            elif con.sense == pulp.LpConstraintEQ:
                slack = abs(slack)
            iso = country_of(name, countries)
            row.update(
                iso3=iso,
                selected=(value_of(model.select[iso]) > 0.5) if iso else None,
                slack=slack + 0.0,  # + 0.0: no "-0" in constraints.csv
                limit=row["limit"] + 0.0,
                binding=bool(active and abs(gap) <= TOLERANCE * max(1.0, abs(rhs))),
                dual_impact_per_unit=solution.duals.get(name, math.nan) + 0.0,
            )
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)
