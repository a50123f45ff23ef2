"""Every bundled what-if moves the way its name claims, against the baseline.

The claims are data (``CLAIMS``: scenario -> metric -> direction), read from each what-if's name
and description, and the metrics read only the allocation (as a planner's spreadsheet would). A
what-if whose rule never binds (a 40% labor earmark when the baseline already spends 45% on labor)
asks nothing, and fails here. The claims hold whatever the impact model's numbers are, as long as
the what-if still asks what its name says; solves are shared with test_bundled_scenarios.
"""

from __future__ import annotations

import operator

import pytest

from optimizer.catalogue import load_catalogue
from optimizer.result import Result
from optimizer.scenario import SCENARIO_DIR, Scenario

UP, DOWN = "up", "down"

CLAIMS: dict[str, dict[str, str]] = {
    "labor-focus": {"labor_share": UP},
    "child-protection-compact": {"child_protection_share": UP, "countries": DOWN},
    "austerity": {"money_spent": DOWN},
    "concentrate": {"countries": DOWN},
    "spread": {"countries": UP},
    "three-year": {"years": DOWN, "money_spent": DOWN},
    "five-year": {"largest_year": UP},  # no annual cap: the money may come earlier
    "compact-streams": {"money_spent": DOWN},  # the streams give $240M of the $250M budget
}

# the least change that counts as a move: shares in fractions, money in dollars, counts in units
LEAST = {"labor_share": 1e-3, "child_protection_share": 1e-3, "money_spent": 1.0}


def _tag_share(scenario: Scenario, result: Result, tag: str) -> float:
    catalogue = load_catalogue(scenario.data.catalogue) if scenario.data.catalogue else None
    components = (catalogue or load_catalogue()).components
    tagged = [name for name, c in components.items() if tag in c.tags]
    alloc = result.allocation
    return (
        alloc.loc[alloc["component"].isin(tagged), "amount_usd"].sum() / alloc["amount_usd"].sum()
    )


METRICS = {
    "labor_share": lambda sc, r: _tag_share(sc, r, "labor"),
    "child_protection_share": lambda sc, r: _tag_share(sc, r, "child_protection"),
    "countries": lambda sc, r: r.allocation["iso3"].nunique(),
    "money_spent": lambda sc, r: r.allocation["amount_usd"].sum(),
    "years": lambda sc, r: r.allocation["year"].nunique(),
    "largest_year": lambda sc, r: r.totals("year").max(),
}

CASES = [(name, metric, way) for name, claims in CLAIMS.items() for metric, way in claims.items()]


def test_every_bundled_what_if_makes_a_claim():
    what_ifs = {p.stem for p in SCENARIO_DIR.glob("*.toml")} - {"baseline"}
    assert what_ifs == set(CLAIMS), "add the new what-if's claims to CLAIMS"
    assert {m for claims in CLAIMS.values() for m in claims} <= set(METRICS)


@pytest.mark.parametrize(("name", "metric", "way"), CASES, ids=[f"{n}-{m}" for n, m, _ in CASES])
def test_the_what_if_moves_the_way_its_name_claims(bundled, name, metric, way):
    base_scenario, base = bundled("baseline")
    scenario, result = bundled(name)
    before = METRICS[metric](base_scenario, base)
    after = METRICS[metric](scenario, result)
    least = LEAST.get(metric, 1)
    moved = operator.ge(after - before, least) if way == UP else operator.ge(before - after, least)
    assert moved, (
        f"{name}: {metric} should go {way} from the baseline's {before:,.4g}; got {after:,.4g}"
    )
