"""Independent oracle: the engine's MIP optimum equals brute force over focus-country subsets.

For small random worlds (2-6 countries, 1-4 components, 3 years, 2-6 segments) with every rule
family switched on at random (``world.random_instance``), this file

1. enumerates every focus-country subset allowed by the count, region and lock rules;
2. for each subset builds the remaining linear program *from scratch* with numpy, from
   ``curves.segments`` (widths and value slopes) and the scenario alone, following the rule
   definitions in ``optimizer/model.py`` and docs/model.md (not the PuLP problem), and solves it
   with ``scipy.optimize.linprog(method="highs")``;
3. checks that the engine's objective equals the best subset's value, that the engine's
   allocation satisfies the oracle's own rows, and that "infeasible" agrees both ways.

The oracle maximises the *untied* objective. The engine multiplies each (country, component)
coefficient by ``1 - TIE_BREAK * rank`` (at most a 1e-7 relative change), so its tied optimum is
within 1e-7 relative of the untied one; both the engine's reported objective and the untied value of
its allocation are compared with a 1e-6 relative tolerance, which covers that.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.optimize import linprog
from world import World, random_instance

from optimizer.model import UNIT
from optimizer.solve import Status

SEEDS = range(60)
REL = 1e-6
ABS = 1e-6  # impact units


@dataclass
class Oracle:
    """The instance as plain arrays: one column per (country, component, year, segment)."""

    world: World
    iso: np.ndarray
    comp: np.ndarray
    year: np.ndarray
    width: np.ndarray  # US$ million
    value: np.ndarray  # impact units per US$ million, discounted, untied

    @classmethod
    def of(cls, world: World, curves) -> Oracle:
        sc = world.scenario
        seg = curves.segments
        years = [sc.budget.first_year + t for t in range(sc.budget.horizon_years)]
        rows = [
            (r.iso3, r.component, y, r.width_usd / UNIT, r.value_slope * UNIT)
            for r in seg.itertuples()
            for y in years
        ]
        iso, comp, year, width, slope = (np.array(c) for c in zip(*rows, strict=True))
        delta = (1.0 + sc.budget.discount_rate) ** -(year - sc.budget.first_year).astype(float)
        return cls(world, iso, comp, year, width.astype(float), slope.astype(float) * delta)

    # ------------------------------------------------------------------ the rules, by hand
    def subsets(self) -> list[tuple[str, ...]]:
        """Every subset the count, lock and region rules allow."""
        sel = self.world.scenario.selection
        regions = self.world.view["region"]
        countries = sorted(self.world.view.index)
        out = []
        for r in range(len(countries) + 1):
            if not sel.min_countries <= r <= sel.max_countries:
                continue
            for s in itertools.combinations(countries, r):
                if not set(sel.lock_in) <= set(s) or set(sel.lock_out) & set(s):
                    continue
                count = {g: sum(regions[c] == g for c in s) for g in sel.region_max}
                if any(count[g] > lim for g, lim in sel.region_max.items()):
                    continue
                out.append(s)
        return out

    def rows(self, chosen: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A_ub x <= b_ub for a fixed subset, and the column upper bounds (0 outside the subset)."""
        sc, cat, view = self.world.scenario, self.world.catalogue, self.world.view
        comps = cat.components
        years = sorted(set(self.year.tolist()))
        ones = np.ones_like(self.width)
        A: list[np.ndarray] = []
        b: list[float] = []

        def le(coef: np.ndarray, rhs: float) -> None:
            A.append(coef)
            b.append(rhs)

        bud, sel, pol = sc.budget, sc.selection, sc.policy
        le(ones, bud.total_usd / UNIT)
        if bud.annual_cap_usd is not None:
            for y in years:
                le((self.year == y) * 1.0, bud.annual_cap_usd / UNIT)
        pillar = np.array([comps[k].pillar for k in self.comp])
        channel = np.array([comps[k].channel for k in self.comp])
        has = {t: np.array([t in comps[k].tags for k in self.comp]) for t in ("me_data",)}
        for c in chosen:
            mine = (self.iso == c) * 1.0
            le(mine, sel.max_compact_usd / UNIT)
            if sel.min_compact_usd > 0:
                le(-mine, -sel.min_compact_usd / UNIT)
            for p, share in pol.pillar_floor_share.items():
                if share > 0:  # share * total - pillar part <= 0
                    le(mine * (share - (pillar == p)), 0.0)
            weak = view.at[c, "control_of_corruption_pct"] < pol.weak_corruption_pct
            if pol.government_cap_share is not None and weak:
                le(mine * ((channel == "government") - pol.government_cap_share), 0.0)
            if pol.me_floor_share > 0:
                le(mine * (pol.me_floor_share - has["me_data"]), 0.0)
            if pol.ramp_up is not None:
                for prev, y in itertools.pairwise(years):
                    le(mine * ((self.year == y) - (1 + pol.ramp_up) * (self.year == prev)), 0.0)
            ramp_down = getattr(pol, "ramp_down", None)  # newer rule: spend(t) >= (1-d) spend(t-1)
            if ramp_down is not None:
                for prev, y in itertools.pairwise(years):
                    le(mine * ((1 - ramp_down) * (self.year == prev) - (self.year == y)), 0.0)
        for tag, share in pol.earmark_share.items():
            if share > 0:
                tagged = np.array([tag in comps[k].tags for k in self.comp])
                le(share - tagged, 0.0)
        upper = np.where(np.isin(self.iso, chosen), self.width, 0.0)
        return np.array(A), np.array(b), upper

    def bonus(self, chosen) -> float:
        return self.world.scenario.objective.tipping_bonus * len(chosen)

    def best(self) -> tuple[float | None, tuple[str, ...] | None]:
        """The best value over all allowed subsets (None when no subset is feasible)."""
        best_value, best_set = None, None
        for chosen in self.subsets():
            A, b, upper = self.rows(chosen)
            res = linprog(
                -self.value,
                A_ub=A,
                b_ub=b,
                bounds=list(zip(np.zeros_like(upper), upper, strict=True)),
                method="highs",
            )
            if res.status == 2:  # infeasible
                continue
            assert res.status == 0, (chosen, res.message)
            value = -res.fun + self.bonus(chosen)
            if best_value is None or value > best_value:
                best_value, best_set = value, chosen
        return best_value, best_set

    def violation(self, x: np.ndarray, chosen: tuple[str, ...]) -> float:
        """Largest violation of the oracle's own rows by an allocation (US$ million)."""
        A, b, upper = self.rows(chosen)
        worst = max(0.0, float(np.max(-x)), float(np.max(x - upper)))
        if len(b):
            worst = max(worst, float(np.max(A @ x - b)))
        return worst


def engine_spend(prep) -> dict[tuple[str, str, int], float]:
    """The engine's spend per (country, component, year), US$ million, whatever its variables are
    (one per segment or one per year): the sum of the spend column ``var`` over each key."""
    cols = prep.model.columns
    spend: dict[tuple[str, str, int], float] = {}
    for i, k, t, v in zip(cols["iso3"], cols["component"], cols["year"], cols["var"], strict=True):
        spend[(i, k, int(t))] = spend.get((i, k, int(t)), 0.0) + (v.varValue or 0.0)
    return spend


def as_segments(spend: dict[tuple[str, str, int], float], prep, oracle: Oracle) -> np.ndarray:
    """Spend per (country, component, year) filled into the oracle's segments in order (the
    best a concave curve can do with that spend), in the oracle's column order."""
    seg = prep.curves.segments
    start = seg.groupby(["iso3", "component"], sort=False)["width_usd"].cumsum() - seg["width_usd"]
    years = sorted(set(oracle.year.tolist()))
    return np.array(
        [
            min(max(spend[(r.iso3, r.component, y)] - s0 / UNIT, 0.0), r.width_usd / UNIT)
            for r, s0 in zip(seg.itertuples(), start, strict=True)
            for y in years
        ]
    )


def instance(seed: int) -> World:
    return random_instance(np.random.default_rng(1000 + seed), rule_probability=0.6)


@functools.cache
def oracle_best(seed: int) -> tuple[float | None, tuple[str, ...] | None]:
    world = instance(seed)
    return Oracle.of(world, world.prepare().curves).best()


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_matches_brute_force_over_subsets(seed):
    world = instance(seed)
    prep, info = world.solve()
    oracle = Oracle.of(world, prep.curves)
    best, best_set = oracle_best(seed)

    if best is None:
        assert info.status == Status.INFEASIBLE, f"oracle: no feasible subset; engine {info}"
        return
    assert info.status == Status.OPTIMAL, f"oracle optimum {best} on {best_set}; engine {info}"
    tol = ABS + REL * abs(best)
    assert info.objective == pytest.approx(best, abs=tol), (best_set, prep.model.select)

    # The engine's allocation is feasible for the oracle's rows and worth the optimum untied.
    chosen = tuple(sorted(c for c, y in prep.model.select.items() if (y.varValue or 0) > 0.5))
    spend = engine_spend(prep)
    x_max = prep.curves.params["x_max"] / UNIT
    assert all(v <= x_max[(i, k)] * (1 + 1e-9) + 1e-9 for (i, k, _), v in spend.items())
    x = as_segments(spend, prep, oracle)
    assert oracle.violation(x, chosen) <= 1e-6 * max(1.0, world.scenario.budget.total_usd / UNIT)
    untied = float(oracle.value @ x) + oracle.bonus(chosen)
    assert untied == pytest.approx(best, abs=tol)
    assert untied >= info.objective - tol  # the tie-break only ever lowers coefficients


def test_instances_exercise_every_rule():
    """Guard: the generator switches every rule family on often, and most instances are feasible
    (an oracle over trivial or infeasible instances would prove little)."""
    on: dict[str, int] = dict.fromkeys(
        [
            "annual_cap",
            "min_countries",
            "max_countries",
            "min_compact",
            "max_compact",
            "region",
            "pillar",
            "earmark",
            "government",
            "me",
            "ramp_up",
            "discount",
            "lock",
        ],
        0,
    )
    for seed in SEEDS:
        sc = instance(seed).scenario
        sel, pol, bud = sc.selection, sc.policy, sc.budget
        on["annual_cap"] += bud.annual_cap_usd is not None
        on["discount"] += bud.discount_rate > 0
        on["min_countries"] += sel.min_countries > 0
        on["max_countries"] += sel.max_countries < len(instance(seed).view)
        on["min_compact"] += sel.min_compact_usd > 0
        on["max_compact"] += sel.max_compact_usd < 1e12
        on["region"] += bool(sel.region_max)
        on["lock"] += bool(sel.lock_in or sel.lock_out)
        on["pillar"] += bool(pol.pillar_floor_share)
        on["earmark"] += bool(pol.earmark_share)
        on["government"] += pol.government_cap_share is not None
        on["me"] += pol.me_floor_share > 0
        on["ramp_up"] += pol.ramp_up is not None
    assert min(on.values()) >= 5, on
    feasible = sum(oracle_best(seed)[0] is not None for seed in SEEDS)
    assert feasible >= 0.75 * len(SEEDS)
