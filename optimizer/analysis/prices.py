"""The price of each rule: the impact given up because the rule is on, by exact re-solve.

Generic over ``AllocationModel.families``: every family with rows is one rule, relaxed by making
its rows free on the warm HiGHS copy and re-solving; a lock row is a rule on its own (each lock
names one country). Structural rows (``AllocationModel.define``) are never relaxed. Resource
families (the budget and the yearly caps) are priced too, and also at the margin (``margins``).

Funding streams are priced twice: their amount rows like any family (all of them, ``stream``,
and stream by stream, ``stream:NAME``), and what each stream may pay for
(``stream_restriction:NAME``) by rebuilding the model with that stream's lists emptied, as a
lock-out is (a (country, component) a stream may not pay for has no split column to free).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from optimizer.analysis.pool import ResolverPool
from optimizer.analysis.resolve import FEASIBILITY_TOLERANCE, Point, Resolver
from optimizer.errors import InfeasibleError, ScenarioError
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
        if family == "stream":  # amount rows stream by stream, when there are several
            by_stream = _stream_rows(model, rows)
            if len(by_stream) > 1:
                out += [(f"stream:{n}", family, r) for n, r in by_stream.items()]
            continue
        parts = _parts(model, family, rows)
        if len(parts) > 1 and all(len(names) > 1 for names in parts.values()):
            out += [(f"{family}:{part}", family, names) for part, names in sorted(parts.items())]
    return out


def _stream_rows(model: AllocationModel, rows: list[str]) -> dict[str, list[str]]:
    """The amount rows of each stream (``stream_{name}_{year}``, ``stream_{name}_total``), matched
    on whole names so that a stream named ``a`` does not take ``a_b``'s rows."""
    ends = ["total", *(str(y) for y in model.scenario.years)]
    out = {}
    for name in sorted(model.scenario.streams):
        mine = [r for r in rows if r in {f"stream_{name}_{end}" for end in ends}]
        if mine:
            out[name] = mine
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
    start: np.ndarray | None = None,
    pool: ResolverPool | None = None,
) -> pd.DataFrame:
    """Impact lost to each rule (impact units and percent of ``objective``, the optimum with every
    rule on), largest first: one exact re-solve a rule. A relaxation that finds no better
    allocation costs 0.

    ``start`` (the run's optimum) is every re-solve's incumbent: an allocation that meets a rule
    still meets it relaxed, so the search only has to prove it or beat it. For the same reason
    relaxing more rows never lowers the optimum, so a part (``family:part``) of a family whose
    price is 0 costs 0 without a re-solve (its optimum lies between the run's and the family's,
    and a re-solve of it is exact only to the MIP gap the family's was solved to); and when the
    family's optimum breaks the rows of one part only, it is that part's optimum too (it is
    feasible with only that part relaxed, and nothing there beats the family's optimum), so that
    part's price is the family's. ``pool``: re-solves at once on the resolver and its clones
    (default: one after another)."""
    listed = rules(resolver.model)
    parent = {rule: family for rule, family, _ in listed if rule.startswith(f"{family}:")}
    tolerance = resolver.settings.mip_gap * abs(objective)

    def relaxed(on: Resolver, item: tuple[str, str, list[str]]) -> Point:
        if progress:
            progress(item[0])
        with on.relaxed(item[2]):
            return on.solve(start=start)

    with contextlib.nullcontext(pool) if pool else ResolverPool(resolver, 1) as pool:
        top = [r for r in listed if r[0] not in parent]
        found = dict(zip([r[0] for r in top], pool.map(relaxed, top), strict=True))
        costly = {f for f, p in found.items() if not p.ok or p.objective - objective > tolerance}
        parts = [r for r in listed if parent.get(r[0]) in costly]
        found.update(_one_part_broken(resolver, found, parts, parent))
        parts = [r for r in parts if r[0] not in found]
        found.update(zip([r[0] for r in parts], pool.map(relaxed, parts), strict=True))
    found.update({r: found[f] for r, f in parent.items() if r not in found})  # free families
    frame = pd.DataFrame(
        [_price_row(r, family, len(names), found[r], objective) for r, family, names in listed],
        columns=PRICE_COLUMNS,
    )
    return by_price(frame)


def by_price(frame: pd.DataFrame) -> pd.DataFrame:
    """The price table costliest first, ties by rule name; losses equal as written (6 decimals,
    ``result.plain_number``) are ties, so solver noise in a rule that costs nothing (a loss of
    1e-11) does not move its row."""
    return frame.sort_values(
        ["impact_lost", "rule"],
        ascending=[False, True],
        na_position="last",
        ignore_index=True,
        key=lambda col: pd.to_numeric(col).round(6) if col.name == "impact_lost" else col,
    )


def _one_part_broken(resolver: Resolver, found: dict, parts: list, parent: dict) -> dict:
    """(part -> its family's optimum) for each family whose optimum breaks one part's rows only."""
    out = {}
    for family in {parent[rule] for rule, _, _ in parts}:
        point = found[family]
        if point.values is None:
            continue
        mine = [r for r in parts if parent[r[0]] == family]
        broken = [rule for rule, _, names in mine if _breaks(resolver, point.values, names)]
        if len(broken) == 1:
            out[broken[0]] = point
    return out


def _breaks(resolver: Resolver, values: np.ndarray, names: list[str]) -> bool:
    """Whether ``values`` is outside any of rows ``names`` as the model states them."""
    index = np.array([resolver.row[n] for n in names], dtype=np.int64)
    activity = resolver.matrix[index] @ values
    low, up = resolver.row_lower[index], resolver.row_upper[index]
    slack = FEASIBILITY_TOLERANCE
    return bool(
        np.any(activity < low - slack * np.maximum(1.0, np.abs(low)))
        or np.any(activity > up + slack * np.maximum(1.0, np.abs(up)))
    )


def _price_row(rule: str, family: str, rows: int, point: Point, objective: float) -> dict:
    lost = max(0.0, point.objective - objective) if point.ok else None
    return {
        "rule": rule,
        "family": family,
        "kind": "resource" if family in RESOURCE_FAMILIES else "rule",
        "rows": rows,
        "impact_lost": lost,
        "impact_lost_pct": None if lost is None else 100.0 * lost / abs(objective or 1.0),
        "status": str(point.status),
        "countries_without_rule": ";".join(point.selected),
    }


RESTRICTION_LISTS = ("pillars", "components", "channels", "countries", "tags")


def restricted_streams(scenario: Scenario) -> list[str]:
    """Streams that limit what they may pay for (some list given), by name."""
    return [
        name
        for name, stream in sorted(scenario.streams.items())
        if any(getattr(stream, key) for key in RESTRICTION_LISTS)
    ]


def without_restriction(scenario: Scenario, name: str) -> Scenario:
    """``scenario`` with stream ``name`` allowed to pay for everything (its amounts kept)."""
    lifted = scenario.streams[name].model_copy(update={key: [] for key in RESTRICTION_LISTS})
    return scenario.model_copy(update={"streams": {**scenario.streams, name: lifted}})


def price_stream_restrictions(
    scenario: Scenario,
    objective: float,
    rebuild: Callable[[Scenario], AllocationModel],
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Each stream restriction's price: the optimum of a model built with that one stream allowed
    to pay for every component in every country (its amounts and every other rule kept), less
    ``objective``. Streams without a restriction are not listed."""
    rows = []
    for name in restricted_streams(scenario):
        rule = f"stream_restriction:{name}"
        if progress:
            progress(rule)
        try:
            model = rebuild(without_restriction(scenario, name))
        except (InfeasibleError, ScenarioError):
            continue  # allowing a stream more cannot make the rules infeasible; nothing to price
        rows.append(_rebuilt_price(model, objective, rule, "stream", 0))  # no row: a rebuild
    return pd.DataFrame(rows, columns=PRICE_COLUMNS)


def _rebuilt_price(model: AllocationModel, objective: float, rule: str, family: str, n: int):
    point = Resolver(model, model.scenario.solver).solve()
    return _price_row(rule, family, n, point, objective)
