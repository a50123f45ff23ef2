"""The focus-country mechanisms (optimizer/focus.py, docs/model.md section 10) on hand-solvable
worlds: one country, one or two components, one curve segment (so a dollar buys a fixed amount)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from world import World, catalogue, component, scenario, view

from optimizer.diagnose import explain_infeasible
from optimizer.focus import durable_factor, greedy_value
from optimizer.impact import X_MAX_FACTOR, Curves, build_curves
from optimizer.inputs import model_inputs
from optimizer.model import UNIT, build_model
from optimizer.solve import solve

REACH = 0.95  # share of saturation at the curve's last breakpoint (optimizer.impact)


def slope(cost: float) -> float:
    """Outcomes per dollar on a one-segment curve: the secant from 0 to x_max."""
    return REACH / (X_MAX_FACTOR * cost)


def one_country(comps, metrics=None, once=(), people=100_000, **sections) -> World:
    sections.setdefault("objective", {})
    sections["objective"] = {"segments": 1, **sections["objective"]}
    budget = {"total_usd": 1e6, **sections.pop("budget", {})}
    return World(
        scenario=scenario(budget=budget, **sections),
        view=view({"AAA": {"people": people}}),
        catalogue=catalogue(comps, metrics, once),
    )


TIPPING = {
    "threshold_usd_per_person": 5.0,  # x 100,000 people = $500k
    "pillar_years": 3,
    "pillar_min_usd": 100e3,
    "durable_share": 0.5,
    "durable_years": 2,
    "decay": 0.5,  # durable factor with no discounting: 1 + 0.5 = 1.5
}


def tipping_world(**changes) -> World:
    return one_country({"k": component(cost=1000.0)}, tipping={**TIPPING, **changes})


def test_durable_factor_sums_the_decaying_discounted_years():
    assert durable_factor(0.0, 3, 2, 0.5) == pytest.approx(1.5)
    delta = 1 / 1.03
    assert durable_factor(0.03, 5, 2, 0.2) == pytest.approx(delta**5 + delta**6 * 0.8)
    assert durable_factor(0.03, 5, 0, 0.2) == 0.0


def test_a_compact_past_the_threshold_tips_and_back_loads():
    result = tipping_world().result()
    s = result.summary
    # $100k in each of the first two years (every pillar funded in the last three years), the
    # rest in the final year, whose outcomes last: 0.5 of them for 1.5 discounted years.
    spend = result.allocation.groupby("year")["amount_usd"].sum()
    assert list(spend) == pytest.approx([100e3, 100e3, 800e3], abs=1.0)
    assert s.tipped == ["AAA"]
    assert s.durable_impact == pytest.approx(0.5 * 1.5 * 800e3 * slope(1000.0), rel=1e-6)
    assert s.objective == pytest.approx((1e6 + 0.75 * 800e3) * slope(1000.0), rel=1e-6)
    assert result.outcomes["impact"].sum() + s.durable_impact == pytest.approx(s.objective)


def test_below_the_threshold_nothing_lasts():
    s = tipping_world(threshold_usd_per_person=20.0).result().summary  # needs $2M of $1M
    assert s.tipped == [] and s.durable_impact == 0.0
    assert s.objective == pytest.approx(1e6 * slope(1000.0), rel=1e-6)


def test_a_pillar_funded_too_little_in_the_last_years_blocks_the_tipping_point():
    s = tipping_world(pillar_min_usd=400e3).result().summary  # 3 x $400k > $1M
    assert s.tipped == []
    assert s.objective == pytest.approx(1e6 * slope(1000.0), rel=1e-6)


def test_a_compact_that_cannot_reach_its_threshold_cannot_tip_and_the_optimum_stands():
    """$2M threshold, at most $1M of spend: tip is bounded to 0 before the solve; the relaxation
    (tip free in [0, 1]) would otherwise earn durable outcomes the MIP cannot."""
    world = tipping_world(threshold_usd_per_person=20.0)
    model = world.prepare().model
    assert model.tipped["AAA"].upBound == 0
    reachable = tipping_world()  # $500k threshold: reachable, so the binary stays free
    assert reachable.prepare().model.tipped["AAA"].upBound == 1
    # without the bound the MIP finds the same optimum (the bound is valid)
    unbounded = world.prepare().model
    unbounded.tipped["AAA"].upBound = 1
    assert solve(unbounded, world.scenario.solver).objective == pytest.approx(
        solve(model, world.scenario.solver).objective, rel=1e-9
    )


def test_tipping_off_adds_no_binaries():
    prep = tipping_world(durable_years=0).prepare()
    assert prep.model.tipped == {} and prep.model.binaries == list(prep.model.select.values())


def test_readiness_scales_what_a_dollar_achieves_and_durability():
    countries = {"LOW": {"people": 100_000}, "HIGH": {"people": 100_000}}
    v = view(countries).assign(readiness=pd.Series({"LOW": 30.0, "HIGH": 60.0}))
    cat = catalogue({"k": component(cost=1000.0)})
    sc = scenario(objective={"readiness_strength": 1.0})
    params = build_curves(v, ["HIGH", "LOW"], cat, sc.objective).params
    # median readiness 45: rho = 60/45 and 30/45 multiply the context multiplier (1 here)
    assert params.loc[("HIGH", "k"), "phi"] == pytest.approx(60 / 45)
    assert params.loc[("LOW", "k"), "phi"] == pytest.approx(30 / 45)
    off = build_curves(v, ["HIGH", "LOW"], cat, scenario().objective).params
    assert (off["phi"] == 1.0).all()
    world = World(scenario(tipping=TIPPING, objective={"readiness_strength": 1.0}), v, cat)
    model = world.prepare().model
    last = model.columns[model.columns["year"] == world.scenario.years[-1]]
    kappa = {}  # durable <= kappa * final-year weighted outcomes, kappa = 0.5 * rho
    for row in last.itertuples():
        con = model.problem.get_constraint_by_name(f"def_durable_{row.iso3}")
        kappa[row.iso3] = -con[row.var] / (row.value_slope * UNIT)
    assert kappa["HIGH"] == pytest.approx(0.5 * 60 / 45)
    assert kappa["LOW"] == pytest.approx(0.5 * 30 / 45)


def test_saturation_grows_with_the_square_root_of_the_people():
    v = view({"BIG": {"people": 2_000_000}})
    cat = catalogue({"k": component(saturation=0.01)})
    params = build_curves(v, ["BIG"], cat, scenario(objective={"scale_exponent": 0.5}).objective)
    assert params.params.loc[("BIG", "k"), "saturation"] == pytest.approx(0.01 * 1_000_000)
    linear = build_curves(v, ["BIG"], cat, scenario().objective).params  # exponent 1
    assert linear.loc[("BIG", "k"), "saturation"] == pytest.approx(0.01 * 2_000_000)


def test_absorptive_cap_follows_institutional_capacity():
    world = World(
        scenario(selection={"absorptive_cap_usd": 1e6}, budget={"total_usd": 10e6}),
        view({"AAA": {"rl": 25.0, "cc": 25.0, "va": 25.0}}),
        catalogue({"k": component(cost=100.0, saturation=1.0)}),
    )
    result = world.result()
    # capacity 0.25 is half the median: $500k a year, whatever the budget
    spend = result.allocation.groupby("year")["amount_usd"].sum()
    assert list(spend) == pytest.approx([500e3] * 3, abs=1.0)
    assert "absorptive_cap_AAA_2015" in result.summary.binding["absorptive_cap"]


def test_absorptive_cap_shows_in_the_infeasibility_explanation():
    world = World(
        scenario(
            selection={"absorptive_cap_usd": 1e6, "lock_in": ["AAA"], "min_compact_usd": 3e6},
            budget={"total_usd": 10e6},
        ),
        view({"AAA": {"rl": 25.0, "cc": 25.0, "va": 25.0}}),
        catalogue({"k": component(cost=100.0, saturation=1.0)}),
    )
    prep, info = world.solve()
    assert not info.status.has_solution
    inputs = model_inputs(world.scenario, world.view, ["AAA"], prep.curves, world.catalogue)
    elastic = build_model(inputs, elastic=True)
    lines = explain_infeasible(elastic, lambda m: solve(m, world.scenario.solver, "highs"))
    assert any(line.startswith(("absorptive_cap", "compact_min")) for line in lines), lines


def test_aftercare_link_buys_care_for_a_share_of_those_identified():
    comps = {
        "find": component(metric="victims_identified", cost=100.0, saturation=0.1),
        "care": component(metric="victims_assisted", cost=1000.0, saturation=0.1),
    }
    metrics = {"victims_identified": 1.0, "victims_assisted": 1.0}
    free = one_country(comps, metrics, people=1_000_000).result()
    assert free.summary.outcomes_by_metric.get("victims_assisted", 0.0) == 0.0
    linked = one_country(comps, metrics, people=1_000_000, policy={"aftercare_share": 0.5})
    s = linked.result().summary
    # assisted = 0.5 identified with care 10x dearer: care gets 5/6 of the money
    assisted, found = (
        s.outcomes_by_metric["victims_assisted"],
        s.outcomes_by_metric["victims_identified"],
    )
    assert assisted == pytest.approx(0.5 * found, rel=1e-5)  # allocation rounded to the dollar
    assert found == pytest.approx(1e6 / 6 * slope(100.0), rel=1e-5)
    assert "aftercare_AAA" in s.binding["aftercare"]


def test_component_floor_funds_the_dearer_component():
    comps = {
        "police": component(pillar="prosecution", cost=1000.0),
        "inspect": component(pillar="prosecution", cost=100.0),
    }
    world = one_country(comps, policy={"component_floor_share": {"police": 0.3}})
    result = world.result()
    by = result.allocation.groupby("component")["amount_usd"].sum()
    assert by["police"] == pytest.approx(0.3 * by.sum(), abs=1.0)
    assert "component_floor_AAA_police" in result.summary.binding["component_floor"]


def test_component_floor_skips_a_pair_without_columns():
    """A component that does not apply in a country (no curve, e.g. a sector it lacks) has no
    floor there, and the rest of the model still solves."""
    comps = {
        "police": component(pillar="prosecution", cost=1000.0),
        "inspect": component(pillar="prosecution", cost=100.0),
    }
    world = one_country(comps, policy={"component_floor_share": {"police": 0.3}})
    curves = build_curves(world.view, ["AAA"], world.catalogue, world.scenario.objective)
    keep = curves.segments["component"] != "police"
    gated = Curves(
        params=curves.params.drop(index=("AAA", "police")),
        segments=curves.segments[keep].reset_index(drop=True),
    )
    model = build_model(model_inputs(world.scenario, world.view, ["AAA"], gated, world.catalogue))
    assert "component_floor" not in model.families
    info = solve(model, world.scenario.solver, "highs")
    assert info.objective == pytest.approx(3 * REACH * 0.01 * 100_000, rel=1e-6)  # saturated


def test_a_stock_is_counted_once_not_every_year():
    comps = {"survey": component(metric="coverage", cost=1.0, saturation=1.0)}
    once = one_country(comps, {"coverage": 1.0}, once=("coverage",), budget={"total_usd": 10e6})
    result = once.result()
    # 100,000 people covered once is worth 100,000 however many years it is bought again
    assert result.summary.objective == pytest.approx(100_000, rel=1e-9)
    assert result.outcomes["outcome"].sum() == pytest.approx(100_000, rel=1e-9)
    yearly = one_country(comps, {"coverage": 1.0}, budget={"total_usd": 10e6}).result()
    assert yearly.summary.objective == pytest.approx(3 * REACH * 100_000, rel=1e-6)


def test_a_component_floor_on_an_unknown_component_is_bad_input(tmp_path):
    from click.testing import CliRunner

    from optimizer.cli import main

    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--set", "policy.component_floor_share={police=0.1}"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "policy.component_floor_share.police: not a catalogue component" in result.output
    assert "police_anti_trafficking_units" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_locking_in_a_country_whose_institutions_cannot_absorb_a_compact_is_explained(tmp_path):
    from click.testing import CliRunner

    from optimizer.cli import main

    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--set", 'selection.lock_in=["AFG"]']
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "AFG is locked in but its institutions can absorb only $2.00M a year" in result.output
    assert "below the minimum compact $15.0M" in result.output
    assert not out.exists()


def test_capacity_that_builds_coordination_first_then_services():
    comps = {
        "coord": component(metric="none", cost=1000.0),  # almost no direct value
        "serve": component(metric="m", cost=1000.0),
    }
    metrics = {"m": 1.0, "none": 1e-9}
    plain = one_country(comps, metrics).result().summary
    assert plain.dividend_impact is None
    assert plain.objective == pytest.approx(1e6 * slope(1000.0), rel=1e-6)
    g, cap = 1000.0, 0.2  # impact units a year per $1M of coordination; at most +20% of services
    dividend = {"systems_dividend": g, "systems_dividend_cap": cap, "systems_components": ["coord"]}
    result = one_country(comps, metrics, tipping=dividend).result()
    s = result.summary
    # Year 1: just enough coordination to lift years 2 and 3 by 20%; no services in year 1 (they
    # would earn no dividend). Services X a year in years 2 and 3, coordination 0.2 s X / g.
    x = 1e6 / (2 + cap * slope(1000.0) * 1e6 / g)
    assert s.objective == pytest.approx(2 * (1 + cap) * slope(1000.0) * x, rel=1e-6)
    assert s.dividend_impact == pytest.approx(2 * cap * slope(1000.0) * x, rel=1e-6)
    spend = result.allocation.set_index(["component", "year"])["amount_usd"]
    assert spend[("coord", 2015)] == pytest.approx(cap * slope(1000.0) * x / g * 1e6, abs=1.0)
    assert ("serve", 2015) not in spend.index


def test_the_big_m_buys_the_steepest_segments_first():
    """``greedy_value`` (the durable switch's M): $4 on segments of width 2, 3, 1 and value per
    dollar 1, 5, 3 buys the 3 at 5 and 1 at 3: 18; every segment, if the money reaches: 2 + 15 + 3."""
    width, slope = np.array([2.0, 3.0, 1.0]), np.array([1.0, 5.0, 3.0])
    assert greedy_value(width, slope, 4.0) == 18.0
    assert greedy_value(width, slope, 100.0) == 20.0
    assert greedy_value(width, slope, 0.0) == 0.0


def test_the_big_m_takes_tied_segments_in_the_order_pandas_sorts_them():
    """Tied values per dollar are filled in the order ``DataFrame.sort_values(ascending=False)``
    gives them (the order the model was built with before the arrays): the same M to the last
    bit, so a draw's model is the model a cold build makes."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(2, 60))
        width = rng.uniform(0.0, 1.0, n) * 10.0 ** rng.integers(-3, 7, n)
        slope = rng.choice([0.5, 1.0 / 3.0, 2.0, 7.25], n)  # many ties
        budget = float(rng.uniform(0.0, 1.2) * width.sum())
        frame = pd.DataFrame({"width_usd": width, "value_slope": slope})
        seg = frame.sort_values("value_slope", ascending=False)
        spent = np.minimum(seg["width_usd"].cumsum(), budget)
        used = np.diff(np.concatenate([[0.0], spent.to_numpy()]))
        expected = float((used * seg["value_slope"].to_numpy()).sum())
        assert greedy_value(width, slope, budget) == expected
