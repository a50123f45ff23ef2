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
    value: np.ndarray  # impact units per US$ million, discounted, untied (0 for once-metrics)
    slope: np.ndarray  # outcomes per US$ million (metric units)
    weighted: np.ndarray  # impact units per US$ million, undiscounted

    @classmethod
    def of(cls, world: World, curves) -> Oracle:
        sc = world.scenario
        seg = curves.segments
        years = [sc.budget.first_year + t for t in range(sc.budget.horizon_years)]
        rows = [
            (r.iso3, r.component, y, r.width_usd / UNIT, r.value_slope * UNIT, r.slope * UNIT)
            for r in seg.itertuples()
            for y in years
        ]
        iso, comp, year, width, weighted, slope = (np.array(c) for c in zip(*rows, strict=True))
        delta = (1.0 + sc.budget.discount_rate) ** -(year - sc.budget.first_year).astype(float)
        cat = world.catalogue
        once = np.array([cat.metrics[cat.components[k].metric].counted == "once" for k in comp])
        value = np.where(once, 0.0, weighted.astype(float) * delta)
        return cls(
            world, iso, comp, year, width.astype(float), value, slope.astype(float), weighted
        )

    # ------------------------------------------------- the focus-country mechanisms, by hand
    def metric(self) -> np.ndarray:
        cat = self.world.catalogue
        return np.array([cat.components[k].metric for k in self.comp])

    def once_pairs(self) -> list[tuple[str, str]]:
        """(country, component) pairs whose metric is counted once: one coverage column each."""
        cat = self.world.catalogue
        keys = sorted({(i, k) for i, k in zip(self.iso, self.comp, strict=True)})
        return [(i, k) for i, k in keys if cat.metrics[cat.components[k].metric].counted == "once"]

    def factors(self) -> dict[str, tuple[float, float, float]]:
        """Per country: (people within reach, readiness factor rho, yearly absorptive cap $M)."""
        sc, view = self.world.scenario, self.world.view
        ob = sc.objective
        rho = {c: 1.0 for c in view.index}
        if "readiness" in view and ob.readiness_strength > 0:
            med = view["readiness"].median()
            rho = {
                c: float(np.clip((view.at[c, "readiness"] / med) ** ob.readiness_strength, 0.25, 2))
                for c in view.index
            }
        out = {}
        for c in view.index:
            reach = (
                500_000 * (view.at[c, "people_in_modern_slavery"] / 500_000) ** ob.scale_exponent
            )
            parts = [view.at[c, k] for k in ("rule_of_law_pct", "control_of_corruption_pct")]
            capacity = (sum(parts) + view.at[c, "voice_accountability_pct"]) / 300
            cap = sc.selection.absorptive_cap_usd
            yearly = np.inf if cap is None else cap * float(np.clip(capacity / 0.5, 0.25, 2)) / UNIT
            out[c] = (reach, rho[c], yearly)
        return out

    def tipping_on(self) -> bool:
        tp = self.world.scenario.tipping
        return tp.durable_years > 0 and tp.durable_share > 0

    def durable_factor(self) -> float:
        sc = self.world.scenario
        tp, h = sc.tipping, sc.budget.horizon_years
        delta = 1.0 / (1.0 + sc.budget.discount_rate)
        return sum(
            delta ** (h - 1 + j) * (1 - tp.decay) ** (j - 1) for j in range(1, tp.durable_years + 1)
        )

    def extra(self, chosen: tuple[str, ...]) -> list[tuple[str, str]]:
        """The columns after the spend columns: coverage per once-pair, durable per country."""
        cols = [("coverage", f"{i}|{k}") for i, k in self.once_pairs()]
        if self.tipping_on():
            cols += [("durable", c) for c in sorted(self.world.view.index)]
        tp = self.world.scenario.tipping
        if tp.systems_dividend > 0 and tp.systems_dividend_cap > 0:
            years = sorted(set(self.year.tolist()))[1:]
            cols += [("dividend", f"{c}|{y}") for c in sorted(self.world.view.index) for y in years]
        return cols

    def objective(self, chosen: tuple[str, ...]) -> np.ndarray:
        """Objective coefficients of every column (spend, then ``extra``)."""
        cat = self.world.catalogue
        coef = []
        for kind, key in self.extra(chosen):
            if kind == "coverage":
                coef.append(cat.metrics[cat.components[key.split("|")[1]].metric].weight.mode)
            elif kind == "dividend":
                bud = self.world.scenario.budget
                year = int(key.split("|")[1])
                coef.append((1.0 + bud.discount_rate) ** -(year - bud.first_year))
            else:
                coef.append(self.durable_factor())
        return np.concatenate([self.value, np.array(coef, dtype=float)])

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

    def rows(
        self, chosen: tuple[str, ...], tipped: tuple[str, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A_ub x <= b_ub for a fixed subset (and tipped subset of it), and the upper bounds of
        every column (spend columns 0 outside the subset), spend columns then ``extra``."""
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
        metric = self.metric()
        factors = self.factors()
        for c in chosen:
            mine = (self.iso == c) * 1.0
            reach, rho, yearly = factors[c]
            if np.isfinite(yearly):
                for y in years:
                    le(mine * (self.year == y), yearly)
            for k, share in pol.component_floor_share.items():
                if share > 0:
                    le(mine * (share - (self.comp == k)), 0.0)
            if pol.aftercare_share > 0 and (mine * (metric == "victims_identified")).any():
                found = pol.aftercare_share * (metric == "victims_identified")
                le(mine * self.slope * (found - (metric == "victims_assisted")), 0.0)
        extra = self.extra(chosen)
        n = len(self.width)
        A_full = [np.concatenate([row, np.zeros(len(extra))]) for row in A]
        upper_extra = []
        tp = sc.tipping
        pillars = sorted({comp.pillar for comp in comps.values()})
        last = years[-tp.pillar_years :] if tp.pillar_years else []
        once_col = np.array(
            [self.world.catalogue.metrics[comps[k].metric].counted == "once" for k in self.comp]
        )
        for j, (kind, key) in enumerate(extra):
            row = np.zeros(n + len(extra))
            row[n + j] = 1.0
            if kind == "coverage":
                i, k = key.split("|")
                pair = (self.iso == i) & (self.comp == k)
                row[:n] = -self.slope * pair  # coverage <= outcomes over the years
                A_full.append(row)
                b.append(0.0)
                r = self.world.catalogue.components[k].saturation.mode
                upper_extra.append(r * factors[i][0])  # one saturation: r_k * people within reach
            elif kind == "dividend":  # <= g * systems spend before, <= cap * service value
                c, year = key.split("|")[0], int(key.split("|")[1])
                systems = np.isin(self.comp, tp.systems_components)
                row[:n] = -tp.systems_dividend * ((self.iso == c) & systems & (self.year < year))
                A_full.append(row)
                b.append(0.0)
                cap_row = np.zeros(n + len(extra))
                cap_row[n + j] = 1.0
                served = (self.iso == c) & ~systems & ~once_col & (self.year == year)
                cap_row[:n] = -tp.systems_dividend_cap * self.weighted * served
                A_full.append(cap_row)
                b.append(0.0)
                upper_extra.append(np.inf)
            else:
                c = key
                if c not in tipped:
                    upper_extra.append(0.0)
                    continue
                reach, rho, _ = factors[c]
                kappa = min(1.0, tp.durable_share * rho)
                final = (self.iso == c) & (self.year == years[-1]) & ~once_col
                row[:n] = -kappa * self.weighted * final  # durable <= kappa * final-year value
                A_full.append(row)
                b.append(0.0)
                upper_extra.append(np.inf)
                mine = (self.iso == c) * 1.0
                total = np.concatenate([-mine, np.zeros(len(extra))])
                A_full.append(total)  # total_c >= threshold * reach
                b.append(-tp.threshold_usd_per_person * reach / UNIT)
                for y in last:
                    for p in pillars:
                        part = mine * (self.year == y) * (pillar == p)
                        A_full.append(np.concatenate([-part, np.zeros(len(extra))]))
                        b.append(-tp.pillar_min_usd / UNIT)
        upper = np.where(np.isin(self.iso, chosen), self.width, 0.0)
        return np.array(A_full), np.array(b), np.concatenate([upper, np.array(upper_extra)])

    def bonus(self, chosen) -> float:
        return self.world.scenario.objective.tipping_bonus * len(chosen)

    def best(self) -> tuple[float | None, tuple[str, ...] | None]:
        """The best value over all allowed subsets (None when no subset is feasible)."""
        best_value, best_set = None, None
        for chosen in self.subsets():
            tips = [()]
            if self.tipping_on():
                tips = [
                    t for r in range(len(chosen) + 1) for t in itertools.combinations(chosen, r)
                ]
            for tipped in tips:
                A, b, upper = self.rows(chosen, tipped)
                res = linprog(
                    -self.objective(chosen),
                    A_ub=A if len(b) else None,
                    b_ub=b if len(b) else None,
                    bounds=list(zip(np.zeros_like(upper), upper, strict=True)),
                    method="highs",
                )
                if res.status == 2:  # infeasible
                    continue
                assert res.status == 0, (chosen, tipped, res.message)
                value = -res.fun + self.bonus(chosen)
                if best_value is None or value > best_value:
                    best_value, best_set = value, chosen
        return best_value, best_set

    def violation(
        self, x: np.ndarray, chosen: tuple[str, ...], tipped: tuple[str, ...] = ()
    ) -> float:
        """Largest violation of the oracle's own rows by an allocation (US$ million)."""
        A, b, upper = self.rows(chosen, tipped)
        worst = max(0.0, float(np.max(-x)), float(np.max(x - upper)))
        if len(b):
            worst = max(worst, float(np.max(A @ x - b)))
        return worst


def engine_spend(prep, info) -> dict[tuple[str, str, int], float]:
    """The engine's spend per (country, component, year), US$ million, whatever its variables are
    (one per segment or one per year): the sum of the spend column ``var`` over each key."""
    cols = prep.model.columns
    spend: dict[tuple[str, str, int], float] = {}
    for i, k, t, v in zip(cols["iso3"], cols["component"], cols["year"], cols["var"], strict=True):
        spend[(i, k, int(t))] = spend.get((i, k, int(t)), 0.0) + info.value(v)
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


def own_segments(prep, info, oracle: Oracle) -> np.ndarray:
    """The engine's value of each segment variable, in the oracle's column order."""
    cols = prep.model.columns
    keys = zip(cols["iso3"], cols["component"], cols["year"], cols["segment"], strict=True)
    value = {
        (i, k, int(t), int(s)): info.value(v)
        for (i, k, t, s), v in zip(keys, cols["var"], strict=True)
    }
    seg = prep.curves.segments
    years = sorted(set(oracle.year.tolist()))
    return np.array(
        [value[(r.iso3, r.component, y, int(r.segment))] for r in seg.itertuples() for y in years]
    )


def instance(seed: int) -> World:
    rng = np.random.default_rng(1000 + seed)
    return random_instance(rng, rule_probability=0.6, focus_rules=True)


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
    model = prep.model
    chosen = tuple(info.chosen(model.select))
    tipped = tuple(info.chosen(model.tipped))
    spend = engine_spend(prep, info)
    x_max = prep.curves.params["x_max"] / UNIT
    assert all(v <= x_max[(i, k)] * (1 + 1e-9) + 1e-9 for (i, k, _), v in spend.items())

    def column(kind: str, key: str):
        if kind == "coverage":
            return model.coverage[tuple(key.split("|"))]
        if kind == "dividend":
            iso, year = key.split("|")
            return model.dividend[(iso, int(year))]
        return model.durable[key]

    extra = [column(kind, key) for kind, key in oracle.extra(chosen)]
    # The aftercare link bounds identified outcomes from above, so where rules force spending
    # the model may fund a curve's segments out of order (docs/model.md, section 10): check the
    # model's own segment values then, else the best fill of its spend.
    aftercare = world.scenario.policy.aftercare_share > 0
    spent = own_segments(prep, info, oracle) if aftercare else as_segments(spend, prep, oracle)
    x = np.concatenate([spent, [info.value(v) for v in extra]])
    scale = max(1.0, world.scenario.budget.total_usd / UNIT)
    assert oracle.violation(x, chosen, tipped) <= 1e-6 * scale
    untied = float(oracle.objective(chosen) @ x) + oracle.bonus(chosen)
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
            "readiness",
            "scale_exponent",
            "absorptive_cap",
            "component_floor",
            "aftercare",
            "counted_once",
            "tipping",
            "systems_dividend",
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
        world = instance(seed)
        on["readiness"] += sc.objective.readiness_strength > 0
        on["scale_exponent"] += sc.objective.scale_exponent < 1
        on["absorptive_cap"] += sel.absorptive_cap_usd is not None
        on["component_floor"] += bool(pol.component_floor_share)
        on["aftercare"] += pol.aftercare_share > 0
        on["counted_once"] += any(m.counted == "once" for m in world.catalogue.metrics.values())
        on["tipping"] += sc.tipping.durable_years > 0
        on["systems_dividend"] += sc.tipping.systems_dividend > 0
    assert min(on.values()) >= 5, on
    feasible = sum(oracle_best(seed)[0] is not None for seed in SEEDS)
    assert feasible >= 0.75 * len(SEEDS)
