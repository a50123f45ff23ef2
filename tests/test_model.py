"""Pinned optima on hand-solvable instances.

The trick that makes them hand-solvable: with a huge saturation, each (country, component) curve is
in its first piecewise-linear segment for every spend in the test, so value is linear in spend with
slope  C1 * phi / u, where  C1 = (1 - exp(-X f)) / (X f),  X = -ln(1 - REACH),  f = (1/S) ** SPACING
(the first segment's share of the curve's spend range). The context multiplier phi = ctx / median
lets countries differ: three countries with governance context 30, 20, 10 have phi 1.5, 1, 0.5.
"""

from __future__ import annotations

import math

import pytest
from world import World, catalogue, component, scenario, view

from optimizer.impact import REACH, SPACING
from optimizer.model import UNIT
from optimizer.solve import Status, solve

X = -math.log(1.0 - REACH)
F1 = (1.0 / 8) ** SPACING
C1 = (1.0 - math.exp(-X * F1)) / (X * F1)
COST = 1000.0
RATE = C1 / COST * UNIT  # impact units per US$ million at phi = 1


def three_countries(**sections) -> World:
    """A (phi 1.5), B (phi 1.0), C (phi 0.5): value per $M = 1.5, 1, 0.5 times RATE."""
    countries = {
        "AAA": {"rl": 30, "cc": 30, "region": "AF"},
        "BBB": {"rl": 20, "cc": 20, "region": "AF"},
        "CCC": {"rl": 10, "cc": 10, "region": "WHA"},
    }
    comps = {"k": component(cost=COST, saturation=1000.0, context="governance", elasticity=1.0)}
    defaults = {
        "budget": {"total_usd": 10e6},
        "selection": {"max_compact_usd": 4e6},
    }
    for key, value in sections.items():
        defaults[key] = {**defaults.get(key, {}), **value}
    return World(scenario=scenario(**defaults), view=view(countries), catalogue=catalogue(comps))


def solved(world: World):
    result = world.result()
    assert result.summary.status == Status.OPTIMAL
    return result, result.totals("iso3").to_dict()


def test_single_curve_saturates_at_reach():
    """One country, budget not binding: every segment filled, 95% of saturation each year."""
    w = World(
        scenario=scenario(budget={"total_usd": 100e6}),
        view=view({"AAA": {"people": 100_000}}),
        catalogue=catalogue({"k": component(cost=1000.0, saturation=0.01)}),
    )
    result, totals = solved(w)
    saturation = 0.01 * 100_000
    assert result.summary.objective == pytest.approx(REACH * saturation * 3, rel=1e-6)
    spend_cap = X * 1000.0 * saturation  # spend at which the curve reaches REACH
    assert totals["AAA"] == pytest.approx(3 * spend_cap, abs=3)


def test_money_goes_where_it_does_most_good():
    """No threshold: A and B full (4M each), C gets the last 2M: 1.5*4 + 1*4 + 0.5*2 = 11."""
    result, totals = solved(three_countries())
    assert totals == pytest.approx({"AAA": 4e6, "BBB": 4e6, "CCC": 2e6}, abs=2)
    assert result.summary.objective == pytest.approx(11 * RATE, rel=1e-6)


def test_minimum_or_zero_threshold():
    """Compacts of 0 or at least 3M: C cannot take 2M, so B gives 1M to reach C's 3M minimum:
    1.5*4 + 1*3 + 0.5*3 = 10.5, better than leaving C out (1.5*4 + 1*4 = 10)."""
    result, totals = solved(three_countries(selection={"min_compact_usd": 3e6}))
    assert totals == pytest.approx({"AAA": 4e6, "BBB": 3e6, "CCC": 3e6}, abs=2)
    assert result.summary.objective == pytest.approx(10.5 * RATE, rel=1e-6)


def test_threshold_too_high_for_a_third_country():
    """Minimum 3.5M: C at 3.5M would leave B 2.5M, below its minimum; best is A4 B4 C0 = 10
    against A4 B2.5 C3.5 (infeasible for B) or A3.5 B3 ... (worse)."""
    result, totals = solved(three_countries(selection={"min_compact_usd": 3.5e6}))
    assert totals == pytest.approx({"AAA": 4e6, "BBB": 4e6}, abs=2)
    assert result.summary.objective == pytest.approx(10 * RATE, rel=1e-6)
    assert result.summary.selected == ["AAA", "BBB"]


def test_focus_country_count():
    """At most 2 countries: A4 B4 = 10, 2M unspent."""
    result, totals = solved(three_countries(selection={"max_countries": 2}))
    assert totals == pytest.approx({"AAA": 4e6, "BBB": 4e6}, abs=2)
    assert result.summary.objective == pytest.approx(10 * RATE, rel=1e-6)
    assert "country_count" in result.summary.binding


def test_minimum_country_count_forces_a_third():
    """At most and at least 3 countries with a 3M minimum: A4 B3 C3 = 10.5, as with the threshold."""
    world = three_countries(
        selection={"min_countries": 3, "max_countries": 3, "min_compact_usd": 3e6}
    )
    result, totals = solved(world)
    assert totals == pytest.approx({"AAA": 4e6, "BBB": 3e6, "CCC": 3e6}, abs=2)
    assert result.summary.objective == pytest.approx(10.5 * RATE, rel=1e-6)


def test_lock_in_and_lock_out():
    result, totals = solved(three_countries(selection={"max_countries": 2, "lock_in": ["CCC"]}))
    assert totals == pytest.approx({"AAA": 4e6, "CCC": 4e6}, abs=2)
    assert result.summary.objective == pytest.approx(8 * RATE, rel=1e-6)
    result, totals = solved(three_countries(selection={"lock_out": ["AAA"]}))
    assert totals == pytest.approx({"BBB": 4e6, "CCC": 4e6}, abs=2)
    assert result.summary.objective == pytest.approx(6 * RATE, rel=1e-6)


def test_region_limit():
    """A and B are both AF; at most one AF country: A4 + C4 = 8."""
    result, totals = solved(three_countries(selection={"region_max": {"AF": 1}}))
    assert totals == pytest.approx({"AAA": 4e6, "CCC": 4e6}, abs=2)
    assert result.summary.objective == pytest.approx(8 * RATE, rel=1e-6)


def test_annual_cap():
    """1M a year over 3 years: all 3M to A."""
    result, totals = solved(three_countries(budget={"annual_cap_usd": 1e6}))
    assert totals == pytest.approx({"AAA": 3e6}, abs=2)
    assert result.summary.objective == pytest.approx(4.5 * RATE, rel=1e-6)
    by_year = result.totals("year")
    assert (by_year <= 1e6 + 1).all()


def test_pillar_floor_buys_the_worse_component():
    """One country, two components: 'good' (protection, value 2/$) and 'poor' (prevention, 1/$).
    A 25% prevention floor on a 4M compact puts 1M on 'poor': 2*3 + 1*1 = 7."""
    comps = {
        "good": component(pillar="protection", cost=COST / 2, saturation=1000.0),
        "poor": component(pillar="prevention", cost=COST, saturation=1000.0),
    }
    w = World(
        scenario=scenario(
            budget={"total_usd": 4e6},
            policy={"pillar_floor_share": {"prevention": 0.25}},
        ),
        view=view({"AAA": {}}),
        catalogue=catalogue(comps),
    )
    result, _ = solved(w)
    by_component = result.totals("component")
    assert by_component["poor"] == pytest.approx(1e6, abs=2)
    assert by_component["good"] == pytest.approx(3e6, abs=2)
    assert result.summary.objective == pytest.approx(7 * RATE, rel=1e-6)


def test_government_cap_where_corruption_is_weak():
    """Government component twice as good, but control of corruption 20 < 33: at most half."""
    comps = {
        "gov": component(channel="government", cost=COST / 2, saturation=1000.0),
        "cso": component(channel="civil_society", cost=COST, saturation=1000.0),
    }
    w = World(
        scenario=scenario(budget={"total_usd": 4e6}, policy={"government_cap_share": 0.5}),
        view=view({"AAA": {"cc": 20}}),
        catalogue=catalogue(comps),
    )
    result, _ = solved(w)
    assert result.totals("channel")["government"] == pytest.approx(2e6, abs=2)
    assert result.summary.objective == pytest.approx((2 * 2 + 1 * 2) * RATE, rel=1e-6)


def test_discounting_and_ramp_up_shape_the_years():
    """Discounting pulls money forward: ramp-up limits growth, not decline, so year 1 takes all;
    with a 1M annual cap the years fill evenly and the objective is the discounted sum."""
    comps = {"k": component(cost=COST, saturation=1000.0)}
    w = World(
        scenario=scenario(
            budget={"total_usd": 4.75e6, "discount_rate": 0.1}, policy={"ramp_up": 0.5}
        ),
        view=view({"AAA": {}}),
        catalogue=catalogue(comps),
    )
    result, _ = solved(w)
    by_year = result.totals("year")
    assert by_year.iloc[0] == pytest.approx(4.75e6, abs=2)
    w2 = World(
        scenario=scenario(
            budget={"total_usd": 4.75e6, "discount_rate": 0.1, "annual_cap_usd": 1e6},
            policy={"ramp_up": 0.5},
        ),
        view=view({"AAA": {}}),
        catalogue=catalogue(comps),
    )
    result2, _ = solved(w2)
    years = result2.totals("year").to_numpy()
    assert years == pytest.approx([1e6, 1e6, 1e6], abs=2)
    expected = (1 + 1 / 1.1 + 1 / 1.1**2) * RATE
    assert result2.summary.objective == pytest.approx(expected, rel=1e-6)


def test_ramp_down_keeps_compacts_running():
    """Discounting wants everything in year 1; a 25% ramp-down limit keeps later years at
    >= 75% of the year before: y + 0.75y + 0.5625y = 4.625M -> y = 2M."""
    comps = {"k": component(cost=COST, saturation=1000.0)}
    w = World(
        scenario=scenario(
            budget={"total_usd": 4.625e6, "discount_rate": 0.1}, policy={"ramp_down": 0.25}
        ),
        view=view({"AAA": {}}),
        catalogue=catalogue(comps),
    )
    result, _ = solved(w)
    years = result.totals("year").to_numpy()
    y = 4.625e6 / (1 + 0.75 + 0.75**2)
    assert years == pytest.approx([y, 0.75 * y, 0.75**2 * y], abs=3)


def test_tipping_bonus_rewards_a_full_compact():
    """A bonus of 3 RATE-units per compact makes a third country worth funding under max 3."""
    plain, _ = solved(three_countries(selection={"min_compact_usd": 3.5e6}))
    bonus, totals = solved(
        three_countries(selection={"min_compact_usd": 3e6}, objective={"tipping_bonus": 3 * RATE})
    )
    assert sorted(totals) == ["AAA", "BBB", "CCC"]
    assert bonus.summary.objective == pytest.approx(10.5 * RATE + 9 * RATE, rel=1e-6)
    assert plain.summary.objective < bonus.summary.objective


def test_highs_and_cbc_agree_on_pinned_instance():
    w = three_countries(selection={"min_compact_usd": 3e6})
    high = w.result("highs").summary.objective
    cbc = w.result("cbc").summary.objective
    assert cbc == pytest.approx(high, rel=1e-7)


def test_outcomes_score_the_allocation_on_the_model_curve():
    """The outcomes table (from Curves.outcomes) reproduces the objective the solver reports."""
    result, _ = solved(three_countries(selection={"min_compact_usd": 3e6}))
    assert result.outcomes["impact"].sum() == pytest.approx(result.summary.objective, rel=1e-6)


def test_an_empty_compact_is_warned_about():
    """With no minimum compact, min_countries can be met by a country that gets nothing; the
    summary says so rather than count it silently."""
    result, totals = solved(
        three_countries(
            budget={"total_usd": 4e6}, selection={"min_compact_usd": 0, "min_countries": 2}
        )
    )
    assert len(result.summary.selected) >= 2 and list(totals) == ["AAA"]  # one full compact
    empty = sorted(set(result.summary.selected) - set(totals))  # which ones: a tie for the solver
    assert empty and result.summary.warnings == [
        f"focus countries that receive no money: {', '.join(empty)} (with "
        "selection.min_compact_usd at 0 a compact may be empty; set a minimum compact)"
    ]
    funded, _ = solved(three_countries(selection={"min_compact_usd": 1e6, "min_countries": 2}))
    assert funded.summary.warnings == []


def test_a_stray_variable_the_model_does_not_know_is_refused():
    """Columns come from AllocationModel.variables (PuLP would walk every row to find them), so a
    variable made behind the model's back is a clear error, not a silently wrong matrix."""
    prep = three_countries().prepare()
    stray = prep.model.problem.add_variable("stray", lowBound=0)
    prep.model.problem.addConstraint(stray + prep.model.select["AAA"] <= 1, "uses_stray")
    with pytest.raises(RuntimeError, match="uses_stray uses a variable not made with"):
        solve(prep.model, prep.scenario.solver)


def test_both_solve_paths_are_exercised():
    """The session's search: when the relaxation (which must fund some country) is integral it
    is the proven optimum with no MIP at all; otherwise HiGHS's MIP runs on the countries that
    relaxation funds and one more relaxation proves the rest cannot do better. HiGHS's MIP on
    the whole model (``restrict=False``) agrees. The pinned instances above cover both paths."""
    from optimizer.session import Session

    for selection, shortcut in (
        ({"max_countries": 2}, True),  # relaxation integral: no branch and bound needed
        ({"min_compact_usd": 3e6}, False),  # threshold: the relaxation splits a compact
    ):
        world = three_countries(selection=selection)
        prep = world.prepare()
        session = Session(prep.model, world.scenario.solver)
        found = session.search()
        assert found.status == Status.OPTIMAL
        assert session.mip_runs == 0
        assert (session.restricted_runs == 0) is shortcut
        whole = session.search(restrict=False)
        assert session.mip_runs == 1
        assert whole.objective == pytest.approx(found.objective, rel=1e-9)
        assert found.bound >= found.objective


def test_countries_too_small_for_a_compact_are_left_out_exactly():
    """A country that can usefully absorb less than the minimum compact is never selected, so
    leaving it out of the model (engine.prepare does) changes nothing."""
    from optimizer.diagnose import too_small

    countries = {"AAA": {"people": 100_000}, "TNY": {"people": 50}}
    comps = {"k": component(cost=COST, saturation=0.01)}
    world = World(
        scenario=scenario(budget={"total_usd": 10e6}, selection={"min_compact_usd": 1e6}),
        view=view(countries),
        catalogue=catalogue(comps),
    )
    prep, info = world.solve()
    # TNY: saturation 0.5 outcomes a year, useful spend about $1,500 a year: far below $1M
    assert list(too_small(world.scenario, prep.countries, prep.curves)) == ["TNY"]
    assert info.value(prep.model.select["TNY"]) == pytest.approx(0.0)
    without = World(world.scenario, world.view, world.catalogue, countries=["AAA"]).solve()[1]
    assert without.objective == pytest.approx(info.objective, rel=1e-7)
