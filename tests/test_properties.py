"""Properties of optimal allocations, checked by Hypothesis over random small worlds and rule sets.

Worlds come from ``world.random_instance`` (2-6 countries, 1-4 components, 3 years, every rule
family switched on at random); Hypothesis draws the seed, how many rules are on and the change made.
Examples per property: ``TIPFOCUS_FUZZ_EXAMPLES`` (default 25); derandomised, so runs repeat.

1. Every rule holds in the solution (budget, annual caps, compact minimum-or-zero and maximum,
   country count, locks, region limits, pillar floors, earmarks, government cap, M&E floor,
   ramp-up and ramp-down, no spend past the curve, no spend without a compact), both on the
   solver's values and, up to whole-dollar rounding, on the written allocation.
2. More budget never lowers the optimum.
3. Adding or tightening a rule never raises it (nor makes an infeasible scenario feasible).
4. Relabelling countries (permuting ISO codes) does not change the optimum.
5. Scaling every unit cost by f, together with every money rule (budget, annual cap, compact
   sizes), leaves the optimum unchanged, and the scaled optimum divided by f is an optimum of the
   original (so where the optimum is unique every amount scales by f and the same countries are
   chosen; see the proof there and why uniqueness is not asserted).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from world import World, catalogue, component, random_instance, scenario, view

from optimizer.catalogue import Catalogue
from optimizer.model import UNIT
from optimizer.scenario import MAX_USD, Scenario
from optimizer.solve import Status

EXAMPLES = int(os.environ.get("TIPFOCUS_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
REL = 1e-6

seeds = st.integers(0, 2**32 - 1)
rule_odds = st.sampled_from([0.3, 0.5, 0.7])


def instance(seed: int, odds: float, focus: bool = True) -> World:
    """A random world with every rule family, the focus-country mechanisms included."""
    rng = np.random.default_rng(seed)
    return random_instance(rng, rule_probability=odds, focus_rules=focus)


def with_changes(sc: Scenario, section: str, **changes) -> Scenario:
    """A validated copy of the scenario with some keys of one section changed."""
    data = sc.model_dump()
    data[section] = {**data[section], **changes}
    return Scenario.model_validate(data)


def optimum(w: World) -> float | None:
    _prep, info = w.solve()
    if info.status == Status.INFEASIBLE:
        return None
    assert info.status == Status.OPTIMAL, info
    return info.objective


def spend_frame(prep, info) -> pd.DataFrame:
    """Solver spend per (country, component, year), US$ million, with the component's attributes."""
    cols = prep.model.columns
    frame = pd.DataFrame(
        {
            "iso3": cols["iso3"],
            "component": cols["component"],
            "year": cols["year"].astype(int),
            "x": [info.value(v) for v in cols["var"]],
        }
    )
    return frame.groupby(["iso3", "component", "year"], as_index=False)["x"].sum()


# ---------------------------------------------------------------------------- 1. rules hold


def check_rules(w: World, spend: pd.DataFrame, selected: set[str], tol: float) -> None:
    """Assert every rule of the scenario on spend (US$ million per iso3, component, year)."""
    sc, cat, v = w.scenario, w.catalogue, w.view
    bud, sel, pol = sc.budget, sc.selection, sc.policy
    comps = cat.components
    spend = spend.assign(
        pillar=[comps[k].pillar for k in spend["component"]],
        channel=[comps[k].channel for k in spend["component"]],
        tags=[set(comps[k].tags) for k in spend["component"]],
    )
    total = spend.groupby("iso3")["x"].sum().reindex(v.index, fill_value=0.0)
    portfolio = float(total.sum())
    assert portfolio <= bud.total_usd / UNIT + tol, "budget"
    if bud.annual_cap_usd is not None:
        assert (spend.groupby("year")["x"].sum() <= bud.annual_cap_usd / UNIT + tol).all()
    # no spend without a compact; compact size 0 or within [min, max]
    assert set(total[total > tol].index) <= selected, "spend without a compact"
    for iso in selected:
        assert total[iso] <= sel.max_compact_usd / UNIT + tol, ("compact_max", iso)
        assert total[iso] >= sel.min_compact_usd / UNIT - tol, ("compact_min", iso)
    assert sel.min_countries <= len(selected) <= sel.max_countries
    assert set(sel.lock_in) <= selected and not set(sel.lock_out) & selected
    for region, limit in sel.region_max.items():
        assert sum(v.at[c, "region"] == region for c in selected) <= limit, region
    for iso in selected:
        mine = spend[spend["iso3"] == iso]
        for pillar, share in pol.pillar_floor_share.items():
            part = mine.loc[mine["pillar"] == pillar, "x"].sum()
            assert part >= share * total[iso] - tol, ("pillar_floor", iso, pillar)
        weak = v.at[iso, "control_of_corruption_pct"] < pol.weak_corruption_pct
        if pol.government_cap_share is not None and weak:
            part = mine.loc[mine["channel"] == "government", "x"].sum()
            assert part <= pol.government_cap_share * total[iso] + tol, ("government_cap", iso)
        if pol.me_floor_share > 0:
            part = mine.loc[mine["tags"].map(lambda t: "me_data" in t), "x"].sum()
            assert part >= pol.me_floor_share * total[iso] - tol, ("me_floor", iso)
        yearly = mine.groupby("year")["x"].sum().reindex(sc.years, fill_value=0.0).to_numpy()
        if pol.ramp_up is not None:
            assert (yearly[1:] <= (1 + pol.ramp_up) * yearly[:-1] + tol).all(), ("ramp_up", iso)
        ramp_down = getattr(pol, "ramp_down", None)
        if ramp_down is not None:
            assert (yearly[1:] >= (1 - ramp_down) * yearly[:-1] - tol).all(), ("ramp_down", iso)
    for tag, share in pol.earmark_share.items():
        part = spend.loc[spend["tags"].map(lambda t, tag=tag: tag in t), "x"].sum()
        assert part >= share * portfolio - tol, ("earmark", tag)


@FUZZ
@given(seed=seeds, odds=rule_odds)
def test_every_rule_holds(seed, odds):
    w = instance(seed, odds)
    prep, info = w.solve()
    if info.status == Status.INFEASIBLE:
        return
    assert info.status == Status.OPTIMAL
    scale = max(1.0, w.scenario.budget.total_usd / UNIT)
    spend = spend_frame(prep, info)
    x_max = prep.curves.params["x_max"] / UNIT
    limit = x_max.reindex(pd.MultiIndex.from_frame(spend[["iso3", "component"]])).to_numpy()
    assert (spend["x"].to_numpy() <= limit * (1 + 1e-9) + 1e-9).all(), "spend past the curve"
    selected = set(info.chosen(prep.model.select))
    check_rules(w, spend, selected, tol=1e-7 * scale)

    # The written allocation (whole dollars, rows under $1 dropped) keeps them up to rounding:
    # each amount moves by at most $0.5 (or $1 when dropped), so a row of n amounts by n dollars.
    result = engine_result(prep, info)
    written = result.allocation.rename(columns={"amount_usd": "x"})
    written = written.assign(x=written["x"] / UNIT)[["iso3", "component", "year", "x"]]
    rows = len(spend)
    check_rules(w, written, selected, tol=rows * 1.0 / UNIT + 1e-7 * scale)


def engine_result(prep, info):
    from optimizer.engine import collect

    return collect(prep, info)


def test_cbc_allocation_keeps_the_annual_cap():
    v = view({"AAA": {"people": 5_000_000}})
    cat = catalogue({"k": component(cost=2000.0, saturation=0.05)})
    sc = scenario(
        budget={"total_usd": 1e9, "annual_cap_usd": 100_000_046, "discount_rate": 0.05},
        objective={"segments": 4},
    )
    result = World(scenario=sc, view=v, catalogue=cat).result("cbc")
    assert (result.totals("year") <= 100_000_046).all(), result.totals("year")


# ---------------------------------------------------------------------------- 2. more budget


@FUZZ
@given(seed=seeds, odds=rule_odds, more=st.floats(0.01, 2.0))
def test_more_budget_never_lowers_the_optimum(seed, odds, more):
    w = instance(seed, odds)
    base = optimum(w)
    richer = World(
        scenario=with_changes(
            w.scenario, "budget", total_usd=w.scenario.budget.total_usd * (1 + more)
        ),
        view=w.view,
        catalogue=w.catalogue,
    )
    bigger = optimum(richer)
    if base is None:
        return  # more money may or may not make rules satisfiable; nothing to compare
    assert bigger is not None, "more budget made a feasible scenario infeasible"
    assert bigger >= base - REL * max(1.0, abs(base))


# ---------------------------------------------------------------------------- 3. tighter rules


def tightenings(w: World) -> list[tuple[str, Scenario]]:
    """Every applicable 'add or tighten one rule' change of the world's scenario."""
    sc, n = w.scenario, len(w.view)
    sel, pol, bud = sc.selection, sc.policy, sc.budget
    out: list[tuple[str, Scenario]] = []

    def add(name: str, section: str, **changes) -> None:
        out.append((name, with_changes(sc, section, **changes)))

    if min(sel.max_countries, n) > max(1, sel.min_countries):
        add("max_countries", "selection", max_countries=min(sel.max_countries, n) - 1)
    if sel.min_countries < min(sel.max_countries, n):
        add("min_countries", "selection", min_countries=sel.min_countries + 1)
    least = max(sel.min_compact_usd * 1.5, bud.total_usd / (3 * n))
    add("min_compact", "selection", min_compact_usd=min(least, sel.max_compact_usd))
    smaller = min(sel.max_compact_usd, bud.total_usd) * 0.6
    add("max_compact", "selection", max_compact_usd=max(smaller, sel.min_compact_usd))
    cap = bud.annual_cap_usd if bud.annual_cap_usd is not None else bud.total_usd
    add("annual_cap", "budget", annual_cap_usd=cap * 0.5 / (1 if bud.annual_cap_usd else 3))
    add("discount", "budget", discount_rate=bud.discount_rate + 0.05)  # later outcomes count less
    region = str(w.view["region"].iloc[0])
    limit = sel.region_max.get(region, n)
    if limit > 0:
        add("region_max", "selection", region_max={**sel.region_max, region: limit - 1})
    free = [c for c in w.view.index if c not in sel.lock_in and c not in sel.lock_out]
    if free:
        add("lock_out", "selection", lock_out=[*sel.lock_out, free[0]])
        add("lock_in", "selection", lock_in=[*sel.lock_in, free[-1]])
    pillars = sorted({c.pillar for c in w.catalogue.components.values()})
    room = 1.0 - sum(pol.pillar_floor_share.values()) - pol.me_floor_share
    if room > 0.01:
        p = pillars[0]
        floors = {**pol.pillar_floor_share, p: pol.pillar_floor_share.get(p, 0.0) + room * 0.5}
        add("pillar_floor", "policy", pillar_floor_share=floors)
        if any("me_data" in c.tags for c in w.catalogue.components.values()):
            add("me_floor", "policy", me_floor_share=pol.me_floor_share + room * 0.5)
    tags = sorted({t for c in w.catalogue.components.values() for t in c.tags} - {"me_data"})
    left = 1.0 - sum(pol.earmark_share.values())
    if tags and left > 0.01:
        t = tags[0]
        add(
            "earmark",
            "policy",
            earmark_share={**pol.earmark_share, t: pol.earmark_share.get(t, 0.0) + left * 0.5},
        )
    gov = pol.government_cap_share
    add("government_cap", "policy", government_cap_share=0.5 * (1.0 if gov is None else gov))
    add("weak_corruption", "policy", weak_corruption_pct=min(100.0, pol.weak_corruption_pct + 25))
    add("ramp_up", "policy", ramp_up=0.5 * (0.4 if pol.ramp_up is None else pol.ramp_up))
    if "ramp_down" in type(pol).model_fields:
        down = pol.ramp_down
        add("ramp_down", "policy", ramp_down=0.5 * (0.4 if down is None else down))
    cap = sel.absorptive_cap_usd
    add(
        "absorptive_cap",
        "selection",
        absorptive_cap_usd=bud.total_usd / (3 * n) if cap is None else cap / 2,
    )
    first = sorted(w.catalogue.components)[0]
    floors = dict(pol.component_floor_share)
    if sum(floors.values()) < 0.8:
        floors[first] = floors.get(first, 0.0) + 0.2
        add("component_floor", "policy", component_floor_share=floors)
    add("aftercare", "policy", aftercare_share=min(1.0, pol.aftercare_share + 0.3))
    tp = sc.tipping
    if tp.durable_years > 0:
        add("threshold", "tipping", threshold_usd_per_person=tp.threshold_usd_per_person + 10)
        add("pillar_min", "tipping", pillar_min_usd=2 * tp.pillar_min_usd + 1e4)
        add("durable_share", "tipping", durable_share=tp.durable_share / 2)
        add("decay", "tipping", decay=min(1.0, tp.decay + 0.3))
    return out


@FUZZ
@given(seed=seeds, odds=rule_odds, pick=st.integers(0, 10**6))
def test_adding_or_tightening_a_rule_never_raises_the_optimum(seed, odds, pick):
    w = instance(seed, odds)
    base = optimum(w)
    options = tightenings(w)
    name, tighter = options[pick % len(options)]
    after = optimum(World(scenario=tighter, view=w.view, catalogue=w.catalogue))
    if base is None:
        assert after is None, f"tightening {name} made an infeasible scenario feasible"
        return
    if after is not None:
        assert after <= base + REL * max(1.0, abs(base)), name


# ---------------------------------------------------------------------------- 4. relabelling


@FUZZ
@given(seed=seeds, odds=rule_odds, data=st.data())
def test_relabelling_countries_keeps_the_optimum(seed, odds, data):
    w = instance(seed, odds)
    isos = list(w.view.index)
    perm = data.draw(st.permutations(isos))
    rename = dict(zip(isos, perm, strict=True))
    sc, sel = w.scenario, w.scenario.selection
    relabelled = World(
        scenario=with_changes(
            sc,
            "selection",
            lock_in=[rename[c] for c in sel.lock_in],
            lock_out=[rename[c] for c in sel.lock_out],
        ),
        view=w.view.rename(index=rename).sort_index(),
        catalogue=w.catalogue,
    )
    before, after = optimum(w), optimum(relabelled)
    if before is None:
        assert after is None
        return
    # Only the tie-break (1e-7 relative, by (country, component) rank) sees the labels.
    assert after == pytest.approx(before, rel=REL, abs=1e-9)


# ---------------------------------------------------------------------------- 5. cost scaling


def scaled_catalogue(cat: Catalogue, f: float) -> Catalogue:
    comps = {}
    for key, comp in cat.components.items():
        cost = comp.unit_cost_usd.model_copy(
            update={n: getattr(comp.unit_cost_usd, n) * f for n in ("low", "mode", "high")}
        )
        comps[key] = comp.model_copy(update={"unit_cost_usd": cost})
    return cat.model_copy(update={"components": comps})


@FUZZ
@given(seed=seeds, odds=rule_odds, f=st.sampled_from([0.25, 0.5, 2.0, 4.0, 8.0]))
def test_scaling_costs_and_money_rules_scales_spend_only(seed, odds, f):
    """Why this is the true statement. With unit cost u -> f*u and spend x -> f*x:

        O(f x; f u) = A (1 - exp(-phi f x / (f u A))) = O(x; u),

    and x_max = 3 u A / phi and every breakpoint scale by f, so each segment's width scales by f and
    its slope by 1/f: the piecewise-linear outcome of f*x under the new costs equals that of x under
    the old. Every share rule (pillar floors, earmarks, government cap, M&E floor, ramps) is
    homogeneous in spend, and the money rules (budget, annual cap, compact minimum and maximum) are
    scaled by f too, so x is feasible before iff f*x is feasible after, with the same objective and
    the same country choices (the binaries and the tipping bonus do not see money). Hence: equal
    optimum, and optima map onto optima by x -> f*x with the same focus countries; where the
    optimum is unique, every amount times f. Scaling costs *alone* (budget fixed)
    changes what the budget buys and has no such law. f is a power of two, so the scaled inputs
    are exact in floating point."""
    # Without the focus-country mechanisms: their money keys (absorptive cap, tipping threshold,
    # pillar minimum) would scale too, but value_of below scores per-year outcomes only.
    w = instance(seed, odds, focus=False)
    sc = w.scenario
    bud, sel = sc.budget, sc.selection
    scaled = with_changes(
        with_changes(
            sc,
            "budget",
            total_usd=bud.total_usd * f,
            annual_cap_usd=None if bud.annual_cap_usd is None else bud.annual_cap_usd * f,
        ),
        "selection",
        min_compact_usd=sel.min_compact_usd * f,
        max_compact_usd=min(sel.max_compact_usd * f, MAX_USD),  # 1e12: unbounded here
    )
    other = World(scenario=scaled, view=w.view, catalogue=scaled_catalogue(w.catalogue, f))
    (p1, i1), (p2, i2) = w.solve(), other.solve()
    assert i1.status == i2.status
    if i1.status == Status.INFEASIBLE:
        return
    assert i2.objective == pytest.approx(i1.objective, rel=REL, abs=1e-9)
    # The scaled optimum divided by f is an optimum of the original world: it keeps every rule
    # and is worth the original optimum on the original curves. (Not "the same allocation": the
    # optimum is not always unique. A segment's slope is (phi/u) * g(segment) whatever the
    # country's size, so countries with the same phi tie exactly on a component, and TIE_BREAK
    # (1e-7) is below what the MIP gap lets the solver ignore; seed=0, odds=0.7, f=4 moves
    # $30M a year of k2 between CBY and CCX for a 1e-10 relative change in the objective.)
    back = spend_frame(p2, i2).assign(x=lambda d: d["x"] / f)
    chosen = set(i2.chosen(p2.model.select))
    check_rules(w, back, chosen, tol=1e-7 * max(1.0, bud.total_usd / UNIT))
    assert value_of(w, p1.curves, back, chosen) == pytest.approx(i1.objective, rel=REL, abs=1e-9)


def value_of(w: World, curves, spend: pd.DataFrame, chosen: set[str]) -> float:
    """Untied objective of spend (US$ million per iso3, component, year) on the given curves."""
    sc = w.scenario
    total = 0.0
    for year, part in spend.groupby("year"):
        amount = part.set_index(["iso3", "component"])["x"] * UNIT
        outcome = curves.outcomes(amount)
        weight = curves.params["weight"].reindex(outcome.index)
        delta = (1 + sc.budget.discount_rate) ** -(year - sc.budget.first_year)
        total += float((outcome * weight).sum()) * delta
    return total + sc.objective.tipping_bonus * len(chosen)
