"""Trade-offs on hand-solvable instances: rule prices, duals against finite differences, the
run folder's tradeoffs.csv.

The world is test_model's: with a huge saturation every curve stays in its first segment, so value
is linear in spend: A, B, C give 1.5, 1 and 0.5 times RATE impact units per US$1M; compacts are
capped at $4M and the budget is $10M.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from world import World, catalogue, component, scenario, view

from optimizer.analysis.alternatives import find_alternatives
from optimizer.analysis.explain import explain_country, solve_scaled
from optimizer.analysis.margins import fixed_duals, marginal_values
from optimizer.analysis.prices import price_rules, price_stream_restrictions, rules
from optimizer.analysis.resolve import Resolver
from optimizer.analysis.sentences import describe_rule, explain_sentences, price_sentences
from optimizer.analysis.tradeoffs import analyse
from optimizer.engine import collect, with_tradeoffs
from optimizer.impact import REACH, SPACING
from optimizer.model import UNIT
from optimizer.result import read_run, write_run

X = -math.log(1.0 - REACH)
F1 = (1.0 / 8) ** SPACING
RATE = (1.0 - math.exp(-X * F1)) / (X * F1) / 1000.0 * UNIT


def three_countries(**sections) -> World:
    countries = {
        "AAA": {"rl": 30, "cc": 30, "region": "AF"},
        "BBB": {"rl": 20, "cc": 20, "region": "AF"},
        "CCC": {"rl": 10, "cc": 10, "region": "WHA"},
    }
    comps = {"k": component(cost=1000.0, saturation=1000.0, context="governance", elasticity=1.0)}
    defaults = {"budget": {"total_usd": 10e6}, "selection": {"max_compact_usd": 4e6}}
    for key, value in sections.items():
        defaults[key] = {**defaults.get(key, {}), **value}
    return World(scenario=scenario(**defaults), view=view(countries), catalogue=catalogue(comps))


def priced(world: World):
    prep, info = world.solve()
    resolver = Resolver(prep.model, prep.scenario.solver)
    table = price_rules(resolver, info.objective).set_index("rule")
    return info, table


def test_country_count_price_is_the_third_country():
    """At most 2 countries: A and B full (1.5*4 + 1*4 = 10); without the count C takes the last
    $2M (+0.5*2 = 1): the count costs 1 RATE, 10% of the optimum."""
    info, table = priced(three_countries(selection={"max_countries": 2}))
    assert info.objective == pytest.approx(10 * RATE, rel=1e-6)
    assert table.at["country_count", "impact_lost"] == pytest.approx(1 * RATE, rel=1e-6)
    assert table.at["country_count", "impact_lost_pct"] == pytest.approx(10.0, rel=1e-6)
    assert table.at["country_count", "countries_without_rule"] == "AAA;BBB;CCC"


def test_each_lock_is_priced_on_its_own():
    """Lock in C, at most 2 countries: {A, C} = 1.5*4 + 0.5*4 = 8. Without the lock {A, B} = 10
    (costs 2); without the count A, B, C with the lock still on = 11 (costs 3); without the compact
    cap A takes all $10M and C stays in with nothing (no minimum compact): 15, costs 7."""
    world = three_countries(selection={"max_countries": 2, "lock_in": ["CCC"]})
    info, table = priced(world)
    assert info.objective == pytest.approx(8 * RATE, rel=1e-6)
    assert table.at["lock_in_CCC", "family"] == "lock_in"
    assert table.at["lock_in_CCC", "impact_lost"] == pytest.approx(2 * RATE, rel=1e-6)
    assert table.at["country_count", "impact_lost"] == pytest.approx(3 * RATE, rel=1e-6)
    assert table.at["compact_max", "impact_lost"] == pytest.approx(7 * RATE, rel=1e-6)
    # a rule that does not bind costs nothing
    assert table.at["budget", "impact_lost"] == pytest.approx(0.0, abs=1e-6)
    sentences = price_sentences(table.reset_index(), world.scenario)
    assert any(s.startswith("Locking in CCC costs 25.0% of projected impact") for s in sentences)
    assert any(
        s.startswith("Keeping between 0 and 2 focus countries costs 37.5%") for s in sentences
    )


def test_rules_are_every_family_with_rows():
    prep, _ = three_countries(selection={"lock_in": ["AAA", "BBB"]}).solve()
    found = rules(prep.model)
    assert {family for _, family, _ in found} == {f for f, r in prep.model.families.items() if r}
    assert [r for r, f, _ in found if f == "lock_in"] == ["lock_in_AAA", "lock_in_BBB"]


def test_budget_dual_matches_finite_difference():
    """Selection fixed to all three: the last dollar goes to C, 0.5 RATE per $1M; re-solving with
    $0.5M more (selection fixed) gains exactly that much, and the annual caps are not binding."""
    prep, info = three_countries().solve()
    resolver = Resolver(prep.model, prep.scenario.solver)
    selected = ("AAA", "BBB", "CCC")
    duals = fixed_duals(resolver, selected)
    margins = marginal_values(resolver, duals, selected).set_index("name")
    dual = margins.at["budget_total", "impact_per_1m_usd"]
    assert dual == pytest.approx(0.5 * RATE, rel=1e-6)
    y = np.array(list(resolver.select_cols.values()))
    step = 0.5  # US$ million
    with (
        resolver.cols_bounds(y, 1.0, 1.0),
        resolver.rows_bounds(["budget_total"], -np.inf, 10.0 + step),
    ):
        more = resolver.solve()
    assert (more.objective - info.objective) / step == pytest.approx(dual, rel=1e-6)


def test_unfunded_component_reduced_cost_is_its_loss_per_dollar():
    """Two components in the one country (phi 1: it is its own median): k (1 RATE per $1M) and j,
    five times the cost per outcome (0.2 RATE), left unfunded while the budget binds; forcing $1M
    into j loses 1 - 0.2 = 0.8 RATE."""
    countries = {"AAA": {"rl": 30, "cc": 30}}
    comps = {
        "k": component(cost=1000.0, saturation=1000.0, context="governance", elasticity=1.0),
        "j": component(cost=5000.0, saturation=1000.0, context="governance", elasticity=1.0),
    }
    world = World(
        scenario=scenario(budget={"total_usd": 3e6}),
        view=view(countries),
        catalogue=catalogue(comps),
    )
    prep, _ = world.solve()
    resolver = Resolver(prep.model, prep.scenario.solver)
    duals = fixed_duals(resolver, ("AAA",))
    table = marginal_values(resolver, duals, ("AAA",)).set_index("name")
    assert table.at["AAA_j", "impact_per_1m_usd"] == pytest.approx(-0.8 * RATE, rel=1e-6)
    assert "AAA_k" not in table.index  # funded


def test_run_folder_has_tradeoffs(tmp_path):
    world = three_countries(selection={"max_countries": 2})
    prep, info = world.solve()
    result = with_tradeoffs(prep, collect(prep, info))
    assert result.tradeoffs is not None and result.margins is not None
    first, second = result.summary.tradeoffs[:2]  # without the cap A takes all: 15 against 10
    assert first.startswith("Capping compacts at $4.00M costs 50.0% of projected impact")
    assert second.startswith("Keeping between 0 and 2 focus countries costs 10.0%")
    assert any("CCC" in s and "forcing it in costs" in s for s in result.summary.tradeoffs)
    folder = write_run(result, tmp_path / "run")
    back = read_run(folder)
    assert list(back.tradeoffs.columns[:5]) == ["rule", "family", "kind", "rows", "impact_lost"]
    assert list(back.tradeoffs["rule"][:2]) == ["compact_max", "country_count"]
    assert back.summary.tradeoffs == result.summary.tradeoffs


def test_analyse_leaves_the_collected_result_alone():
    """Re-solves change the PuLP values; the result was read before, and stays as solved."""
    world = three_countries(selection={"max_countries": 2})
    prep, info = world.solve()
    before = collect(prep, info)
    found = analyse(prep.model, info.objective, ("AAA", "BBB"), prep.screen.frame["name"])
    assert found.prices["status"].eq("optimal").all()
    assert before.totals("iso3").to_dict() == pytest.approx({"AAA": 4e6, "BBB": 4e6}, abs=2)


# ---------------------------------------------------------------------------- explain


def explained(world: World, iso: str):
    prep, _ = world.solve()
    resolver = Resolver(prep.model, prep.scenario.solver)
    base = resolver.solve()
    return resolver, base, explain_country(resolver, base, iso)


def test_left_out_country_multiplier_brings_it_in():
    """At most 2 countries: {A, B} = 10. Forcing C in gives {A, C} = 8 (20% lost); C replaces B
    once its programmes are more than twice as effective (0.5 m > 1)."""
    resolver, base, found = explained(three_countries(selection={"max_countries": 2}), "CCC")
    assert base.selected == ("AAA", "BBB")
    assert found.forced_loss_pct == pytest.approx(20.0, rel=1e-6)
    assert found.forced.selected == ("AAA", "CCC")
    assert 2.0 < found.multiplier <= 2.0 * 1.011
    applied = solve_scaled(resolver, "CCC", found.multiplier)
    assert "CCC" in applied.selected
    assert "CCC" not in solve_scaled(resolver, "CCC", 1.9).selected
    assert found.replaced(found.at_multiplier) == (["BBB"], ["CCC"])


def test_chosen_country_drops_out_below_the_next_best():
    """B drops out for C once its programmes are less than half as effective."""
    resolver, _, found = explained(three_countries(selection={"max_countries": 2}), "BBB")
    assert found.chosen
    assert 0.5 - 0.006 <= found.multiplier < 0.5
    assert "BBB" not in solve_scaled(resolver, "BBB", found.multiplier).selected
    assert found.replaced(found.at_multiplier) == (["BBB"], ["CCC"])
    lines = explain_sentences(found, "Country BBB")
    assert "50% less effective" in lines[1] or "51% less effective" in lines[1]
    assert "CCC would take its place" in lines[1]


def test_locked_country_never_drops_out():
    _, _, found = explained(three_countries(selection={"lock_in": ["CCC"]}), "CCC")
    assert found.chosen and found.multiplier is None
    assert "stays in" in explain_sentences(found, "C")[1]


# ---------------------------------------------------------------------------- alternatives


def test_alternatives_are_feasible_within_the_margin_and_different():
    """Within 25% of {A, B} = 10 only {A, C} = 8 qualifies ({B, C} = 6, {A} = 6 do not)."""
    world = three_countries(selection={"max_countries": 2})
    prep, _ = world.solve()
    resolver = Resolver(prep.model, prep.scenario.solver)
    optimum = resolver.solve()
    found, exhausted = find_alternatives(resolver, optimum, 0.25, 3)
    assert exhausted
    assert [a.point.selected for a in found] == [("AAA", "CCC")]
    assert found[0].impact_lost_pct == pytest.approx(20.0, rel=1e-6)
    assert found[0].distance == 2
    # the added row and column are gone: the optimum is as before
    again = resolver.solve()
    assert again.selected == optimum.selected
    assert again.objective == pytest.approx(optimum.objective, rel=1e-9)


def test_alternatives_differ_from_each_other():
    """Five equal countries, at most 2 chosen, a wide margin: every set is a different pair and
    each is within the margin."""
    countries = {f"C{c}{c}": {"rl": 20, "cc": 20, "region": "AF"} for c in "ABCDE"}
    comps = {"k": component(cost=1000.0, saturation=1000.0, context="governance", elasticity=1.0)}
    world = World(
        scenario=scenario(
            budget={"total_usd": 8e6}, selection={"max_countries": 2, "max_compact_usd": 4e6}
        ),
        view=view(countries),
        catalogue=catalogue(comps),
    )
    prep, _ = world.solve()
    resolver = Resolver(prep.model, prep.scenario.solver)
    optimum = resolver.solve()
    found, _ = find_alternatives(resolver, optimum, 0.05, 2)
    sets = [optimum.selected, *(a.point.selected for a in found)]
    assert len(found) == 2 and len(set(sets)) == 3
    assert all(len(s) == 2 for s in sets)
    assert set(sets[0]).isdisjoint(sets[1])  # the farthest pair shares no country
    for alt in found:
        assert alt.point.ok and alt.impact_lost_pct <= 5.0 + 1e-9


def test_pillar_floor_priced_as_a_whole_and_pillar_by_pillar():
    """Two like countries (phi 1), k in protection (1 RATE per $1M), j in prevention at five times
    the cost (0.2 RATE). At least 50% prevention: $3M each on j and k, 3*1 + 3*0.2 = 3.6; without
    it all $6M on k = 6: the prevention floor costs 2.4 (66.7%), the 10% protection floor nothing."""
    countries = {"AAA": {"rl": 20, "cc": 20}, "BBB": {"rl": 20, "cc": 20}}
    comps = {
        "k": component(pillar="protection", cost=1000.0, saturation=1000.0, context="governance"),
        "j": component(pillar="prevention", cost=5000.0, saturation=1000.0, context="governance"),
    }
    floors = {"pillar_floor_share": {"prevention": 0.5, "protection": 0.1}}
    world = World(
        scenario=scenario(budget={"total_usd": 6e6}, policy=floors),
        view=view(countries),
        catalogue=catalogue(comps),
    )
    info, table = priced(world)
    assert info.objective == pytest.approx(3.6 * RATE, rel=1e-6)
    assert table.at["pillar_floor", "impact_lost"] == pytest.approx(2.4 * RATE, rel=1e-6)
    assert table.at["pillar_floor:prevention", "impact_lost_pct"] == pytest.approx(
        200 / 3, rel=1e-6
    )
    assert table.at["pillar_floor:protection", "impact_lost"] == pytest.approx(0.0, abs=1e-6)
    assert table.at["pillar_floor:prevention", "rows"] == 2
    sentences = price_sentences(table.reset_index(), world.scenario)
    assert (
        "Requiring at least 50% prevention in every focus country costs 66.7%"
        in sentences[0] + sentences[1]
    )


def test_resolver_branches_to_the_threshold_optimum():
    """Compacts of 0 or at least $3M (test_model): the relaxation is fractional; the resolver's
    restricted search finds 1.5*4 + 1*3 + 0.5*3 = 10.5."""
    prep, _ = three_countries(selection={"min_compact_usd": 3e6}).solve()
    point = Resolver(prep.model, prep.scenario.solver).solve()
    assert point.selected == ("AAA", "BBB", "CCC")
    assert point.objective == pytest.approx(10.5 * RATE, rel=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_resolver_matches_the_engine_on_random_instances(seed):
    """Same optimum as solve.solve (HiGHS's relaxation-first MIP) on random small worlds with
    every kind of rule, including infeasible ones."""
    from world import random_instance

    from optimizer.solve import solve

    world = random_instance(np.random.default_rng(1000 + seed))
    prep = world.prepare()
    info = solve(prep.model, world.scenario.solver)
    point = Resolver(prep.model, world.scenario.solver).solve()
    assert point.status == info.status
    if info.status.has_solution:
        assert point.objective == pytest.approx(info.objective, rel=1e-6, abs=1e-6)


# ---------------------------------------------------------------------------- funding streams


def streams_world(streams: dict) -> World:
    """One country (phi 1), A in protection at unit cost 1000 (a per $1M) and B in prosecution at
    2000 (a/2), linear (test_compact's world), $10M budget, three years."""
    comps = {
        "A": component(pillar="protection", cost=1000.0, saturation=1000.0, tags=("labor",)),
        "B": component(pillar="prosecution", channel="government", cost=2000.0, saturation=1000.0),
    }
    return World(
        scenario=scenario(streams=streams), view=view({"AAA": {}}), catalogue=catalogue(comps)
    )


def rebuilder(world: World):
    return lambda sc: World(scenario=sc, view=world.view, catalogue=world.catalogue).prepare().model


def test_stream_amounts_and_restriction_priced_by_hand():
    """State gives $1M a year for anything (A: 3a); Labor $600k for B only (0.3a): 3.3a.
    Labor free to pay for A: 3.6a, its restriction costs 0.3a (9.09%). Without State's amount
    rows State pays $10M into A (10a, costs 6.7a); without Labor's it pays $7M into B (3a + 3.5a,
    costs 3.2a); without every stream row State takes the whole budget (10a)."""
    world = streams_world(
        {"state": {"per_year_usd": "1M"}, "labor": {"total_usd": "600k", "components": ["B"]}}
    )
    prep, info = world.solve()
    a = info.objective / 3.3
    found = analyse(
        prep.model,
        info.objective,
        ("AAA",),
        prep.screen.frame["name"],
        rebuild=rebuilder(world),
    )
    table = found.prices.set_index("rule")
    assert table.at["stream_restriction:labor", "family"] == "stream"
    assert table.at["stream_restriction:labor", "impact_lost"] == pytest.approx(0.3 * a, rel=1e-6)
    assert table.at["stream_restriction:labor", "impact_lost_pct"] == pytest.approx(
        100 * 0.3 / 3.3, rel=1e-6
    )
    assert "stream_restriction:state" not in table.index  # State may pay for everything already
    assert table.at["stream", "impact_lost"] == pytest.approx(6.7 * a, rel=1e-6)
    assert table.at["stream:state", "impact_lost"] == pytest.approx(6.7 * a, rel=1e-6)
    assert table.at["stream:labor", "impact_lost"] == pytest.approx(3.2 * a, rel=1e-6)
    assert table.at["stream:state", "rows"] == 3 and table.at["stream:labor", "rows"] == 1
    # the restriction's price is the objective of the model rebuilt without it, solved on its own
    _, alone = streams_world(
        {"state": {"per_year_usd": "1M"}, "labor": {"total_usd": "600k"}}
    ).solve()
    assert alone.objective == pytest.approx(3.6 * a, rel=1e-6)
    assert table.at["stream_restriction:labor", "impact_lost"] == pytest.approx(
        alone.objective - info.objective, rel=1e-6
    )
    assert any(
        s.startswith("Limiting the labor stream to component B costs 9.1% of projected impact")
        for s in found.sentences
    )
    assert any(
        s.startswith("Limiting the state stream to $1.00M a year costs 203.0%")
        for s in found.sentences
    )


def test_stream_restriction_that_does_not_bind_costs_nothing():
    """Labor may pay only for labor-tagged protection components, and A (the better one) is one:
    lifting the restriction changes nothing."""
    world = streams_world(
        {
            "state": {"per_year_usd": "1M"},
            "labor": {"total_usd": "600k", "tags": ["labor"], "pillars": ["protection"]},
        }
    )
    _, info = world.solve()
    table = price_stream_restrictions(world.scenario, info.objective, rebuilder(world))
    table = table.set_index("rule")
    assert table.at["stream_restriction:labor", "impact_lost"] == pytest.approx(0.0, abs=1e-6)
    assert table.at["stream_restriction:labor", "status"] == "optimal"
    sentences = price_sentences(table.reset_index(), world.scenario)
    assert "stream_restriction:labor" in sentences[-1]  # listed among the rules that cost nothing
    assert describe_rule("stream_restriction:labor", "stream", world.scenario) == (
        "Limiting the labor stream to labor components and protection components"
    )


def test_a_start_is_used_only_when_feasible():
    """The run's optimum as a start gives the same optimum; once the budget is cut below what it
    spends, the start is not feasible and is ignored."""
    prep, info = three_countries(selection={"max_countries": 2}).solve()
    resolver = Resolver(prep.model, prep.scenario.solver)
    start = resolver.incumbent()
    assert resolver.feasible(start)
    assert resolver.solve(start=start).objective == pytest.approx(info.objective, rel=1e-9)
    # HiGHS's MIP on the whole model with the start, not the session's restricted search
    assert resolver.solve(start=start, restrict=False).objective == pytest.approx(
        info.objective, rel=1e-9
    )
    with resolver.rows_bounds(prep.model.families["budget"], -np.inf, 5.0):  # $5M of $10M
        assert not resolver.feasible(start)
        cut = resolver.solve(start=start)
    assert cut.objective == pytest.approx(1.5 * 4 * RATE + 1 * RATE, rel=1e-6)  # A full, B $1M


def test_clone_solves_alone_and_as_the_original():
    prep, info = three_countries(selection={"max_countries": 2}).solve()
    resolver = Resolver(prep.model, prep.scenario.solver)
    twin = resolver.clone()
    with twin.relaxed(["countries_max"]):
        relaxed = twin.solve()
    assert relaxed.objective == pytest.approx(11 * RATE, rel=1e-6)  # C takes the last $2M
    assert resolver.solve().objective == pytest.approx(info.objective, rel=1e-9)
    assert twin.solve().objective == pytest.approx(info.objective, rel=1e-9)


def test_the_price_table_orders_losses_as_written_then_by_rule():
    """Costliest first; losses equal at the CSV's 6 decimals (a loss of 1e-11 is solver noise)
    tie and go by rule name; a rule with no price last."""
    import pandas as pd

    from optimizer.analysis.prices import by_price

    frame = pd.DataFrame(
        {
            "rule": ["b", "a", "c", "d", "e", "f"],
            "impact_lost": [1e-11, 0.0, 5.0, None, 5.000001, 5.0000001],
        }
    )
    assert by_price(frame)["rule"].tolist() == ["e", "c", "f", "a", "b", "d"]
