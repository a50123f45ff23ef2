"""The price of each rule: the impact given up because the rule is on, by exact re-solve.

Generic over ``AllocationModel.families``: every family with rows is one rule, relaxed by making
its rows free on the warm HiGHS copy and re-solving; a lock row is a rule on its own (each lock
names one country). Structural rows (``AllocationModel.define``) are never relaxed. Resource
families (the budget and the yearly caps) are priced too, and also at the margin (``margins``).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from optimizer.analysis.resolve import Resolver
from optimizer.errors import InfeasibleError
from optimizer.model import AllocationModel
from optimizer.scenario import Scenario

RESOURCE_FAMILIES = frozenset({"budget", "annual_cap"})  # money limits rather than rules
PRICE_COLUMNS = [
    "rule",
    "family",
    "kind",
    "rows",
    "impact_lost",
    "impact_lost_pct",
    "status",
    "countries_without_rule",
]


def rules(model: AllocationModel) -> list[tuple[str, str, list[str]]]:
    """(rule, family, rows) for every family with rows; lock families row by row; and a family
    whose rows repeat over countries for several parts (pillar floors: one row per country and
    pillar) also part by part, as ``family:part``."""
    out = []
    for family, rows in model.families.items():
        if not rows:
            continue
        if family.startswith("lock_"):  # each lock names one country: a rule on its own
            out += [(row, family, [row]) for row in rows]
            continue
        out.append((family, family, list(rows)))
        parts = _parts(model, family, rows)
        if len(parts) > 1 and all(len(names) > 1 for names in parts.values()):
            out += [(f"{family}:{part}", family, names) for part, names in sorted(parts.items())]
    return out


def _parts(model: AllocationModel, family: str, rows: list[str]) -> dict[str, list[str]]:
    """Rows by what their names say besides the family, the country and the year."""
    index = set(model.countries) | {str(y) for y in model.scenario.years}
    parts: dict[str, list[str]] = {}
    for row in rows:
        tokens = row.removeprefix(f"{family}_").split("_")
        part = "_".join(t for t in tokens if t not in index)
        parts.setdefault(part, []).append(row)
    return parts


def price_rules(
    resolver: Resolver,
    objective: float,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Impact lost to each rule (impact units and percent of ``objective``, the optimum with every
    rule on), largest first. A relaxation that finds no better allocation costs 0."""
    rows = []
    for rule, family, names in rules(resolver.model):
        if progress:
            progress(rule)
        with resolver.relaxed(names):
            point = resolver.solve()
        lost = max(0.0, point.objective - objective) if point.ok else None
        rows.append(
            {
                "rule": rule,
                "family": family,
                "kind": "resource" if family in RESOURCE_FAMILIES else "rule",
                "rows": len(names),
                "impact_lost": lost,
                "impact_lost_pct": None if lost is None else 100.0 * lost / abs(objective or 1.0),
                "status": str(point.status),
                "countries_without_rule": ";".join(point.selected),
            }
        )
    frame = pd.DataFrame(rows, columns=PRICE_COLUMNS)
    return frame.sort_values(
        ["impact_lost", "rule"], ascending=[False, True], na_position="last", ignore_index=True
    )


def price_lock_outs(
    scenario: Scenario,
    objective: float,
    rebuild: Callable[[Scenario], AllocationModel],
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Each lock-out's price: the optimum of a model built with that one lock lifted (the
    pipeline leaves locked-out countries out of the model, so there is no row to relax)."""
    rows = []
    for iso in scenario.selection.lock_out:
        if progress:
            progress(f"lock_out_{iso}")
        kept = [c for c in scenario.selection.lock_out if c != iso]
        selection = scenario.selection.model_copy(update={"lock_out": kept})
        try:
            model = rebuild(scenario.model_copy(update={"selection": selection}))
        except InfeasibleError:
            continue  # lifting a lock cannot make the rules infeasible; nothing to price
        point = Resolver(model, scenario.solver).solve()
        lost = max(0.0, point.objective - objective) if point.ok else None
        rows.append(
            {
                "rule": f"lock_out_{iso}",
                "family": "lock_out",
                "kind": "rule",
                "rows": 1,
                "impact_lost": lost,
                "impact_lost_pct": None if lost is None else 100.0 * lost / abs(objective or 1.0),
                "status": str(point.status),
                "countries_without_rule": ";".join(point.selected),
            }
        )
    return pd.DataFrame(rows, columns=PRICE_COLUMNS)
