"""One model, many solves: a change made in place and re-solved on the warm solver session gives
what a cold build of the changed scenario gives (objective and allocation); the Result reports the
numbers solved; the final LP's duals are the rules' marginal values; lock_out rows are priced.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from world import World, random_instance

from optimizer.changes import _curve_families
from optimizer.cli import main
from optimizer.engine import collect
from optimizer.focus import CURVE_FAMILIES
from optimizer.impact import build_curves
from optimizer.inputs import model_inputs
from optimizer.model import UNIT, build_model
from optimizer.solve import Status, solve

SEEDS = [1, 2, 5, 6]  # instances with focus countries chosen
FAMILY_OFF = {  # a family, and the scenario change that switches it off
    "pillar_floor": ("policy", {"pillar_floor_share": {}}),
    "earmark": ("policy", {"earmark_share": {}}),
    "me_floor": ("policy", {"me_floor_share": 0.0}),
    "government_cap": ("policy", {"government_cap_share": None}),
    "ramp_up": ("policy", {"ramp_up": None}),
    "ramp_down": ("policy", {"ramp_down": None}),
    "component_floor": ("policy", {"component_floor_share": {}}),
    "aftercare": ("policy", {"aftercare_share": 0.0}),
    "region_max": ("selection", {"region_max": {}}),
}


def instance(seed: int) -> World:
    return random_instance(
        np.random.default_rng(1000 + seed), rule_probability=0.6, focus_rules=True
    )


def changed(world: World, section: str, update: dict) -> World:
    """``world`` with one scenario section changed: the cold build to compare with."""
    sc = world.scenario
    part = getattr(sc, section).model_copy(update=update)
    return World(
        sc.model_copy(update={section: part}), world.view, world.catalogue, world.countries
    )


def warm(seed: int) -> tuple[World, object, object]:
    """The seed's world, prepared and solved once (its model keeps the session); the test is
    skipped if it is infeasible."""
    world = instance(seed)
    prep, info = world.solve()
    if info.status != Status.OPTIMAL:
        pytest.skip("infeasible instance")
    return world, prep, info


def same(resolved, cold) -> None:
    """Objective and allocation of a warm re-solve equal those of a cold build."""
    assert resolved.summary.status == cold.summary.status == "optimal"
    assert resolved.summary.objective == pytest.approx(cold.summary.objective, rel=1e-9)
    assert resolved.summary.selected == cold.summary.selected
    pd.testing.assert_frame_equal(
        resolved.allocation, cold.allocation, check_exact=False, atol=1.0, rtol=0
    )


def resolved(prep):
    info = solve(prep.model, prep.scenario.solver)
    assert prep.model.session.solves >= 2  # the warm session, not a new one
    return collect(prep, info)


def scaled_inputs(world: World, prep, scale: dict):
    """The model's inputs on new curves: each uncertain number of a kind in ``scale`` times its
    factor (a draw, by hand)."""
    curves = build_curves(
        world.view,
        prep.countries,
        world.catalogue,
        world.scenario.objective,
        draw=lambda kind, key, iso, value: value * scale.get(kind, 1.0),
    )
    return prep.model.inputs.with_curves(curves)


@pytest.mark.parametrize("seed", SEEDS)
def test_budget_change_resolves_as_a_cold_build(seed):
    world, prep, _ = warm(seed)
    budget = 0.7 * world.scenario.budget.total_usd
    prep.model.set_rhs("budget_total", budget / UNIT)
    result = resolved(prep)
    cold = changed(world, "budget", {"total_usd": budget}).result()
    same(result, cold)
    assert result.summary.budget_usd == pytest.approx(budget)  # the number solved, not 10e6
    assert result.constraints.set_index("name").at["budget_total", "limit"] == pytest.approx(budget)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_family_switched_off_resolves_as_a_cold_build(seed):
    world, prep, _ = warm(seed)
    present = [f for f in FAMILY_OFF if prep.model.families.get(f)]
    if not present:
        pytest.skip("no family to switch off")
    family = present[seed % len(present)]  # a different family from one seed to the next
    prep.model.set_family(family, False)
    result = resolved(prep)
    assert family not in set(result.constraints["family"])
    same(result, changed(world, *FAMILY_OFF[family]).result())
    prep.model.set_family(family, True)  # and back on: the first optimum again
    assert resolved(prep).summary.objective == pytest.approx(world.result().summary.objective)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_column_bound_resolves_as_a_cold_build(seed):
    """Fixing a chosen focus country's selection at 0 is locking it out."""
    world, prep, info = warm(seed)
    chosen = info.chosen(prep.model.select)
    locked_in = set(world.scenario.selection.lock_in)
    iso = next((c for c in chosen if c not in locked_in), None)
    if iso is None:
        pytest.skip("no country to take out")
    prep.model.set_col_bounds([f"y_{iso}"], 0.0, 0.0)
    lock_out = [*world.scenario.selection.lock_out, iso]
    cold_world = changed(world, "selection", {"lock_out": lock_out})
    cold_prep, cold_info = cold_world.solve()
    if cold_info.status != Status.OPTIMAL:
        assert solve(prep.model, prep.scenario.solver).status == cold_info.status
        return
    same(resolved(prep), collect(cold_prep, cold_info))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("recorded", [False, True])
def test_a_draw_applied_in_place_resolves_as_a_cold_build(seed, recorded):
    """New curves (every unit cost down, saturations up): widths, slopes and every coefficient
    that depends on them, focus rows included, changed in place; on a model with a change
    recorded (a country held out), every family is rebuilt, not only the curve families."""
    world, prep, info = warm(seed)
    if recorded:
        iso = next(c for c in prep.model.countries if c not in info.chosen(prep.model.select))
        prep.model.set_col_bounds([f"y_{iso}"], 0.0, 0.0)
    inputs = scaled_inputs(world, prep, {"unit_cost_usd": 0.8, "saturation": 1.3, "weight": 1.1})
    assert _curve_families(prep.model, inputs) == (None if recorded else CURVE_FAMILIES)
    prep.model.set_inputs(inputs)
    result = resolved(prep)
    cold = build_model(inputs)

    def rows(model):  # the PuLP problem, the model of record (LP/MPS export, CBC)
        return {
            con.name: (con.constant, {v.name: c for v, c in con.items()})
            for con in model.problem.constraints()
        }

    def columns(model):  # bounds and objective coefficients, by column name
        cost = {v.name: c for v, c in model.problem.objective.items()}
        return {v.name: (v.lowBound, v.upBound, cost.get(v.name, 0.0)) for v in model.variables}

    assert rows(prep.model) == rows(cold)
    assert columns(prep.model) == columns(cold)
    cold_prep = type(prep)(**{**prep.__dict__, "model": cold})
    same(result, collect(cold_prep, solve(cold, world.scenario.solver)))


@pytest.mark.parametrize("seed", [0, 1, 2, "baseline"])
def test_only_the_curve_families_read_the_curves(seed):
    """Two draws of every uncertain number: every row of a family outside
    ``focus.CURVE_FAMILIES`` (selection links aside: ``set_inputs`` sets them from the widths)
    is the same in both cold builds, so a draw may rebuild those families alone; and every
    curve family with rows has rows that differ (on the baseline, all but the systems dividend,
    which it leaves off: the random worlds have it)."""
    if seed == "baseline":
        from optimizer.engine import prepare
        from optimizer.scenario import DEFAULT_SCENARIO, load_scenario

        prep = prepare(load_scenario(DEFAULT_SCENARIO))
        model, view, catalogue = prep.model, prep.screen.frame, prep.catalogue
    else:
        world = random_instance(np.random.default_rng(7000 + seed), focus_rules=True)
        model, view, catalogue = world.prepare().model, world.view, world.catalogue
    rng = np.random.default_rng(7 if seed == "baseline" else seed)

    def built():
        factors = {}

        def draw(kind, key, iso, value):
            return value * factors.setdefault((kind, key, iso), rng.uniform(0.5, 2.0))

        objective = model.inputs.source.objective
        curves = build_curves(view, model.countries, catalogue, objective, draw=draw)
        drawn = build_model(model.inputs.with_curves(curves))
        assert model.inputs.differs_only_in_curves(drawn.inputs)
        return drawn

    one, two = built(), built()
    assert one.rows_of.keys() == two.rows_of.keys()
    differ = set()
    for family, names in one.rows_of.items():
        assert names == two.rows_of[family]
        for name in names:
            left, right = one.problem._constraints[name], two.problem._constraints[name]
            terms = ({v.name: c for v, c in con.items()} for con in (left, right))
            if (left.constant, next(terms)) != (right.constant, next(terms)):
                differ.add(family)
    curve_families = {define.__name__ for define in CURVE_FAMILIES}
    assert differ - {"define_selection_link"} <= curve_families
    with_rows = {family for family in curve_families if one.rows_of[family]}
    assert with_rows <= differ
    if seed == "baseline":
        assert with_rows == curve_families - {"define_systems_dividend"}


def test_inputs_of_another_structure_leave_the_model_as_it_was():
    """``set_inputs`` builds on the model's own variables: when the new inputs turn out to have
    another structure (a country fewer), every column's bounds are given back."""
    world, prep, _ = warm(SEEDS[0])
    model = prep.model
    before = [(v.name, v.lowBound, v.upBound) for v in model.variables]
    fewer = model.countries[1:]
    curves = build_curves(
        world.view,
        fewer,
        world.catalogue,
        world.scenario.objective,
        draw=lambda kind, key, iso, value: value * (1.3 if kind == "saturation" else 1.0),
    )  # wider segments: the build sets new bounds on the variables it shares
    inputs = model_inputs(world.scenario, world.view, fewer, curves, world.catalogue)
    with pytest.raises(RuntimeError, match="another structure"):
        model.set_inputs(inputs)
    assert [(v.name, v.lowBound, v.upBound) for v in model.variables] == before


@pytest.mark.parametrize("seed", [2, 6, 8])  # instances with binding rules of several families
def test_duals_match_finite_differences_with_the_selection_fixed(seed):
    """With every binary fixed the model is an LP, and each rule row's dual is the change of the
    optimum per model unit of its right-hand side: between the one-sided finite differences (the
    optimum is concave in a right-hand side), and equal to both where they agree."""
    world = instance(seed)
    prep, info = world.solve()
    model = prep.model
    for var in model.binaries:
        value = float(round(info.value(var)))
        model.set_col_bounds([var.name], value, value)
    base = solve(model, world.scenario.solver)
    assert base.objective == pytest.approx(info.objective, rel=1e-9)
    rules = [name for names in model.families.values() for name in names]
    priced = [name for name in rules if abs(base.duals[name]) > 1e-6][:10]
    assert priced, "a binding rule to price"
    step = 1e-4  # model units: US$ 100 for a money row
    agreeing = 0
    for name in priced:
        rhs = -model.problem.get_constraint_by_name(name).constant
        slopes = []
        for moved in (rhs - step, rhs + step):
            model.set_rhs(name, moved)
            slopes.append(solve(model, world.scenario.solver).objective - base.objective)
        model.set_rhs(name, rhs)
        left, right = -slopes[0] / step, slopes[1] / step
        dual, tol = base.duals[name], 1e-5 * max(1.0, abs(base.duals[name]))
        assert right - tol <= dual <= left + tol, (name, left, dual, right)
        if abs(left - right) <= tol:
            agreeing += 1
            assert dual == pytest.approx(left, rel=1e-5, abs=1e-7)
    assert agreeing, "a non-degenerate row, where the dual is the derivative"


def test_lock_out_rows_are_priced_in_constraints_csv(tmp_path: Path):
    """A locked-out eligible country stays in the model, held at 0 by a lock_out row with its dual;
    it is not a focus country."""
    small = ["--set", "selection.max_countries=3", "--set", "eligibility.min_rule_of_law_pct=50"]
    first = tmp_path / "first"
    assert CliRunner().invoke(main, ["run", *small, "--out", str(first)]).exit_code == 0
    chosen = json.loads((first / "summary.json").read_text())["selected"]
    out = tmp_path / "locked"
    args = ["run", *small, "--set", f'selection.lock_out=["{chosen[0]}"]', "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "constraints.csv").set_index("name")
    row = rows.loc[f"lock_out_{chosen[0]}"]
    assert row["family"] == "lock_out" and row["selected"] == False  # noqa: E712
    assert (row["unit"], row["activity"], row["limit"]) == ("countries", 0.0, 0.0)
    assert np.isfinite(row["dual_impact_per_unit"])  # the final LP priced it
    summary = json.loads((out / "summary.json").read_text())
    assert chosen[0] not in summary["selected"]
    assert summary["objective"] < json.loads((first / "summary.json").read_text())["objective"]


def test_the_restricted_search_matches_the_whole_mip():
    """The session's search (the best allocation among a set of countries, proven by a
    relaxation that must fund a country outside it) finds the optimum HiGHS's MIP on the whole
    model finds, on a first solve and on re-solves after budget changes and new objective
    coefficients (a draw) that move the selection; its bound is a bound; and some re-solve had to
    bring in a country its set did not have."""
    from optimizer.session import Session

    grew = []
    for seed in range(10):
        world = random_instance(np.random.default_rng(2000 + seed), focus_rules=True)
        prep = world.prepare()
        session = Session(prep.model, world.scenario.solver)
        whole = Session(prep.model, world.scenario.solver)  # its own copy, changed in step
        rng = np.random.default_rng(seed)
        for share in (1.0, 0.45, 1.6, 0.8, "new costs", "new costs"):
            if share == "new costs":  # as a Monte Carlo draw: every spend column's value moves
                names = [session.variables[i].name for i in session.spend_cols]
                costs = session.sign * session.cost[session.spend_cols]
                costs = costs * rng.uniform(0.3, 1.7, len(costs))
                for s in (session, whole):
                    s.set_costs(names, costs)
            else:
                total = share * world.scenario.budget.total_usd / UNIT
                for s in (session, whole):
                    s.set_rows(["budget_total"], np.array([-np.inf]), np.array([total]))
            before = session.last
            found, truth = session.search(), whole.search(restrict=False)
            assert found.status == truth.status, (seed, share)
            assert not session.new_costs  # the search took note of the new objective
            if not found.status.has_solution:
                continue
            assert found.status == Status.OPTIMAL
            assert found.objective == pytest.approx(truth.objective, rel=1e-6, abs=1e-6)
            assert found.bound >= found.objective - 1e-9 * max(1.0, abs(found.objective))
            session.last = found.values  # as Session.solve keeps it: the next set's start
            if before is not None:
                now = {c for c, i in session.select_cols.items() if found.values[i] > 0.5}
                earlier = {c for c, i in session.select_cols.items() if before[i] > 0.5}
                grew.append(bool(now - earlier))
        assert session.mip_runs == 0, seed  # never needed HiGHS's MIP on the whole model
    assert any(grew)


def _held_out_columns_are_zero(model) -> None:
    """With every country's integer columns at 0 and every row that is not one country's own
    made free, no column of a country can leave 0 (in the relaxation, either way). A country
    with an own row that 0 breaks (a lock-in) is never held out, and is left out here."""
    from optimizer.session import Session, matrix_of

    session = Session(model, model.inputs.scenario.solver)
    highs, country = session.highs, session.col_country
    lp = highs.getLp()
    matrix = matrix_of(lp)
    owner = []  # each row's country, "" for a row that is not one country's own
    for r in range(matrix.shape[0]):
        of = set(country[matrix.indices[matrix.indptr[r] : matrix.indptr[r + 1]]])
        owner.append(of.pop() if len(of) == 1 else "")
    owner = np.array(owner)
    breaks = (np.array(lp.row_lower_) > 0) | (np.array(lp.row_upper_) < 0)
    kept_in = set(owner[breaks]) - {""}
    free = np.flatnonzero((owner == "") | np.isin(owner, sorted(kept_in))).astype(np.int32)
    highs.changeRowsBounds(len(free), free, np.full(len(free), -np.inf), np.full(len(free), np.inf))
    ints = session.integer_cols
    highs.changeColsBounds(len(ints), ints, np.zeros(len(ints)), np.zeros(len(ints)))
    session._integrality(ints, False)
    cols = np.flatnonzero((country != "") & ~np.isin(country, sorted(kept_in))).astype(np.int32)
    assert len(cols) > len(country) / 2
    every = np.arange(len(country), dtype=np.int32)
    for sign in (1.0, -1.0):  # maximise, then minimise, the sum of those columns alone
        cost = np.zeros(len(country))
        cost[cols] = -sign
        highs.changeColsCost(len(every), every, cost)
        highs.run()
        assert highs.getModelStatus() == highs.getModelStatus().kOptimal
        assert abs(highs.getInfo().objective_function_value) <= 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_a_country_held_out_has_every_column_at_zero(seed):
    """What ``Session._cut_out`` relies on: a country whose selection is held at 0 has every
    column named after it at 0, forced by its own rows, so cutting its columns out is the same
    problem."""
    world = random_instance(np.random.default_rng(3000 + seed), focus_rules=True)
    _held_out_columns_are_zero(world.prepare().model)


def test_on_the_baseline_a_country_held_out_has_every_column_at_zero():
    from optimizer.engine import prepare
    from optimizer.scenario import DEFAULT_SCENARIO, load_scenario

    _held_out_columns_are_zero(prepare(load_scenario(DEFAULT_SCENARIO)).model)


@pytest.mark.parametrize("seed", range(4))
def test_a_cut_out_set_solves_as_the_set_held_in_place(seed, monkeypatch):
    """The MIP over a set of countries on the cut-out model (``Session._cut_out``) has the
    optimum of the whole model with the other countries' integer columns held at 0."""
    from optimizer.session import Session

    world = random_instance(np.random.default_rng(4000 + seed), focus_rules=True)
    model = world.prepare().model
    session = Session(model, world.scenario.solver)
    rng = np.random.default_rng(seed)
    countries = list(session.select_cols)
    for size in (1, 3, len(countries) // 2):
        chosen = set(rng.choice(countries, size=min(size, len(countries)), replace=False))
        assert session._cut_out(chosen) is not None
        now = session.col_lower.copy(), session.col_upper.copy()
        cut = session._within(chosen, None, now)
        with monkeypatch.context() as patch:
            patch.setattr(Session, "_cut_out", lambda self, chosen: None)
            held = session._within(chosen, None, now)
        assert cut.status == held.status, (seed, chosen)
        if cut.status == Status.OPTIMAL:
            assert cut.objective == pytest.approx(held.objective, rel=1e-7, abs=1e-7)
            out = [i for c, idx in session.country_cols.items() if c not in chosen for i in idx]
            assert not cut.values[out].any()


@pytest.mark.parametrize("seed", range(8))
def test_the_split_relaxation_is_the_whole_relaxation(seed):
    """The decomposition by country (``optimizer.decompose``) reaches the relaxation with at
    least one country outside a set funded, as the whole LP solves it, after budget changes
    and new costs (where the LP has an optimum; where it is infeasible, the split gives no
    bound, or one that proves any allocation in hand); any prices give a bound no better. A
    rough split (from no proposal) gives a bound no better and an allocation of the relaxation
    within its tolerance of that bound."""
    from optimizer.decompose import Decomposition
    from optimizer.session import Session

    world = random_instance(np.random.default_rng(5000 + seed), focus_rules=True)
    session = Session(world.prepare().model, world.scenario.solver)
    rng = np.random.default_rng(seed)
    countries = list(session.select_cols)
    compared = 0
    for share in (1.0, 0.5, 1.5, "new costs"):
        if share == "new costs":
            names = [session.variables[i].name for i in session.spend_cols]
            costs = session.sign * session.cost[session.spend_cols]
            session.set_costs(names, costs * rng.uniform(0.3, 1.7, len(costs)))
        else:
            total = share * world.scenario.budget.total_usd / UNIT
            session.set_rows(["budget_total"], np.array([-np.inf]), np.array([total]))
        for size in (1, len(countries) // 2, len(countries)):
            outside = sorted(rng.choice(countries, size=size, replace=False))
            if session.split is not None:
                session.split.forget()
            rough = session._outside_split(outside, None, 1e-3)
            split = session._outside_split(outside, None)
            whole = session._outside_lp(outside, None)
            if whole.status == Status.OPTIMAL:
                value = session._score(whole.objective)
                assert session._score(rough.objective) >= value - 1e-7 * abs(value) - 1e-6
                reached = session._score(session.objective_of(rough.values))
                assert reached <= value + 1e-7 * abs(value) + 1e-6
                assert reached >= session._score(rough.objective) - 1e-3 * abs(value) - 1e-6
                assert rough.values[[session.select_cols[c] for c in outside]].sum() >= 1 - 1e-7
                assert split is not None and split.status == Status.OPTIMAL
                assert split.objective == pytest.approx(whole.objective, rel=1e-7, abs=1e-6)
                assert session.objective_of(split.values) == pytest.approx(split.objective)
                compared += 1
                dec = session.split
                assert isinstance(dec, Decomposition)
                prices = rng.normal(0.0, 50.0, len(dec.shared))
                found = dec._price(dec._clip(prices))
                assert found is not None
                bound = dec._lagrangian(dec._clip(prices), 3.0, set(outside), found[1])
                assert -bound >= session._score(whole.objective) - 1e-6 * abs(whole.objective)
            else:  # the split's allocations are the whole relaxation's: it has none either
                assert whole.status == Status.INFEASIBLE
                assert split is None
    assert compared


def test_a_row_belongs_to_the_one_country_all_its_columns_belong_to():
    """``decompose._owners``: a row is a country's own when every column in it is that
    country's; a row with columns of two countries, or of none (a shared column), is shared,
    and so is an empty row."""
    from scipy import sparse

    from optimizer.decompose import _owners

    country = np.array(["", "AAA", "BBB", "AAA", "", "CCC", "BBB"])  # each column's country
    rows = [
        [1, 1, 0, 1, 0, 0, 0],  # a shared column with AAA's: shared
        [0, 1, 0, 1, 0, 0, 0],  # AAA's alone
        [0, 0, 1, 0, 0, 0, 1],  # BBB's alone
        [0, 0, 0, 0, 0, 1, 0],  # CCC's
        [0, 0, 0, 0, 0, 0, 0],  # empty
        [0, 1, 1, 0, 0, 0, 0],  # AAA and BBB: shared
    ]
    matrix = sparse.csr_matrix(np.array(rows, dtype=float))
    owners = _owners(matrix, country, ["BBB", "CCC", "AAA"])
    assert owners.tolist() == ["", "AAA", "BBB", "CCC", "", ""]


def test_the_split_follows_a_change_to_a_country_s_own_columns():
    """A change to one country's own numbers (a spend column closed) makes a new split, and its
    relaxation is still the whole one."""
    from optimizer.session import Session

    world = random_instance(np.random.default_rng(5001), focus_rules=True)
    model = world.prepare().model
    session = Session(model, world.scenario.solver)
    outside = sorted(session.select_cols)
    first = session._outside_split(outside, None)
    assert first is not None
    split = session.split
    spend = session.spend_cols[np.argmax(first.values[session.spend_cols])]
    assert first.values[spend] > 0
    session.set_cols([session.variables[spend].name], np.zeros(1), np.zeros(1))
    again = session._outside_split(outside, None)
    assert session.split is not split
    whole = session._outside_lp(outside, None)
    assert again.objective == pytest.approx(whole.objective, rel=1e-7, abs=1e-6)
    assert session._score(again.objective) < session._score(first.objective)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_split_of_new_numbers_on_the_same_pattern_is_a_split_made_afresh(seed):
    """After a draw in place the split reuses its layout (where each country's rows and columns
    sit: the pattern alone), and gives what a split made without it gives: each country's LP
    (matrix, bounds), its shared rows and the master's rows; a change of pattern makes a new
    layout."""
    from optimizer.decompose import Decomposition
    from optimizer.session import matrix_of

    world, prep, _ = warm(seed)
    session = prep.model.session
    last = Decomposition(session)
    prep.model.set_inputs(scaled_inputs(world, prep, {"unit_cost_usd": 0.7, "saturation": 1.4}))

    def lps(split):  # each country's LP as it stands (the next split passes new ones)
        return [
            None
            if block.highs is None
            else [
                matrix_of(lp).toarray(),
                *map(np.array, (lp.col_lower_, lp.col_upper_, lp.row_lower_, lp.row_upper_)),
            ]
            for block, lp in ((b, b.highs and b.highs.getLp()) for b in split.blocks)
        ]

    reused = Decomposition(session, last)
    reused_lps = lps(reused)
    fresh = Decomposition(session)
    assert reused.layout is last.layout and fresh.layout is not last.layout
    assert any(lp is not None for lp in reused_lps)
    for ours, theirs, ours_lp, theirs_lp in zip(
        reused.blocks, fresh.blocks, reused_lps, lps(fresh), strict=True
    ):
        assert (ours.iso, ours.low, ours.high) == (theirs.iso, theirs.low, theirs.high)
        np.testing.assert_array_equal(ours.cols, theirs.cols)
        np.testing.assert_array_equal(ours.coupling, theirs.coupling)
        assert (ours_lp is None) == (theirs_lp is None)
        for a, b in zip(ours_lp or [], theirs_lp or [], strict=True):
            np.testing.assert_array_equal(a, b)
    for part in ("shared", "own", "loose", "shared_lower", "shared_upper", "cost"):
        np.testing.assert_array_equal(getattr(reused, part), getattr(fresh, part))
    row, col = next(zip(*session.a.nonzero(), strict=True))
    session.set_coeffs(np.array([row]), np.array([col]), np.array([0.0]))  # a non-zero gone
    assert Decomposition(session, reused).layout is not reused.layout


def _copy_of(session):
    """The solver copy's numbers: matrix (dense), costs, column and row bounds."""
    from optimizer.session import matrix_of

    lp = session.highs.getLp()
    return (
        matrix_of(lp).toarray(),
        np.array(lp.col_cost_),
        np.array(lp.col_lower_),
        np.array(lp.col_upper_),
        np.array(lp.row_lower_),
        np.array(lp.row_upper_),
    )


@pytest.mark.parametrize("bulk", [0, 10**9])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_draw_reaches_the_solver_copy_whole(seed, bulk, monkeypatch):
    """After a draw in place, the solver copy holds what a copy of a cold build holds (matrix,
    costs, bounds) and the session's own matrix is the copy's, whether the coefficients were
    handed over one by one or with the whole model (``Session.set_coeffs``)."""
    from optimizer import session as session_module
    from optimizer.session import Session

    monkeypatch.setattr(session_module, "BULK_COEFFS", bulk)
    world, prep, _ = warm(seed)
    inputs = scaled_inputs(world, prep, {"unit_cost_usd": 0.7, "saturation": 1.4})
    prep.model.set_inputs(inputs)
    session = prep.model.session
    fresh = Session(build_model(inputs), world.scenario.solver)
    assert [v.name for v in session.variables] == [v.name for v in fresh.variables]
    for ours, theirs in zip(_copy_of(session), _copy_of(fresh), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(session.matrix().toarray(), _copy_of(session)[0])


def test_a_coefficient_set_to_zero_or_added_reaches_the_copy_and_the_matrix():
    """``Session.set_coeffs`` where the matrix's structure changes (an entry set to 0, a new
    non-zero): the copy and the session's own matrix agree, and a later bulk change finds its
    entries in the new structure."""
    from optimizer import session as session_module
    from optimizer.session import Session

    world = random_instance(np.random.default_rng(5002), focus_rules=True)
    session = Session(world.prepare().model, world.scenario.solver)
    rows, selects = session.links()
    empty = next(i for i in range(len(session.variables)) if session.a[0, i] == 0)
    session.set_coeffs(np.array([rows[0], 0]), np.array([selects[0], empty]), np.array([0.0, 2.5]))
    assert session.a[rows[0], selects[0]] == 0 and session.a[0, empty] == 2.5
    np.testing.assert_array_equal(session.matrix().toarray(), _copy_of(session)[0])
    session_module.BULK_COEFFS, kept = 0, session_module.BULK_COEFFS
    try:
        session.set_coeffs(rows[1:], selects[1:], np.full(len(rows) - 1, -3.0))
    finally:
        session_module.BULK_COEFFS = kept
    assert (session.a[rows[1:], selects[1:]] == -3.0).all()
    np.testing.assert_array_equal(session.matrix().toarray(), _copy_of(session)[0])


def test_a_country_s_rows_with_one_column_become_its_bounds():
    """``decompose._as_bounds``: with the selection (column 0) fixed at 1, a row left with one
    column is that column's bound (its selection term a constant: x - 4y <= 0 is x <= 4;
    2x + y >= 3 is x >= 1; -x >= -5 is x <= 5); other rows stay; bounds that would cross leave
    the LP as it was."""
    from scipy import sparse

    from optimizer.decompose import _as_bounds

    inf = np.inf
    matrix = sparse.csr_matrix(
        np.array(
            [
                [-4.0, 1.0, 0.0],  # x1 - 4y <= 0
                [1.0, 2.0, 0.0],  # 2 x1 + y >= 3
                [0.0, -1.0, 0.0],  # -x1 >= -5
                [0.0, 1.0, 1.0],  # x1 + x2 <= 6: two columns, stays
                [1.0, 0.0, 0.0],  # y alone: stays
            ]
        )
    )
    rows = (np.array([-inf, 3.0, -5.0, -inf, 0.0]), np.array([0.0, inf, inf, 6.0, 1.0]))
    cols = (np.array([1.0, 0.0, 0.0]), np.array([1.0, 10.0, 10.0]))
    own, (r_lo, r_hi), (c_lo, c_hi) = _as_bounds(matrix, 0, rows, cols)
    assert own.toarray().tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    assert r_lo.tolist() == [-inf, 0.0] and r_hi.tolist() == [6.0, 1.0]
    assert c_lo.tolist() == [1.0, 1.0, 0.0] and c_hi.tolist() == [1.0, 4.0, 10.0]
    crossing = (np.array([1.0, 5.0, 0.0]), cols[1])  # x1 >= 5 against x1 <= 4
    same = _as_bounds(matrix, 0, rows, crossing)
    assert same[0] is not None and same[0].shape == matrix.shape
    assert same[2] is crossing


@pytest.mark.parametrize("seed", [0, 1, 2, 4, 5, 6, 7, 8])  # 3: no country is feasible alone
def test_a_country_s_lp_with_its_rows_as_bounds_has_the_same_optimum(seed):
    """On random instances, each country's LP (selection at 1) and the same LP with its
    one-column rows made bounds have the same optimum at random prices of the shared rows."""
    import highspy

    from optimizer.decompose import Decomposition, _highs
    from optimizer.session import Session, pass_lp

    world = random_instance(np.random.default_rng(6000 + seed), focus_rules=True)
    session = Session(world.prepare().model, world.scenario.solver)
    split = Decomposition(session)
    lp, matrix = session.lp(), session.matrix()
    rng = np.random.default_rng(seed)
    rows_matrix = matrix[: lp.num_row_ - 1]
    compared = 0
    for iso in session.select_cols:
        block = next(b for b in split.blocks if b.iso == iso)
        if block.highs is None:
            continue
        own_rows = [
            r
            for r in split.own
            if set(rows_matrix[r].indices) <= set(block.cols.tolist())
            and len(rows_matrix[r].indices)
        ]
        whole = _highs()
        lower, upper = np.array(lp.col_lower_)[block.cols], np.array(lp.col_upper_)[block.cols]
        at = block.cols.tolist().index(session.select_cols[iso])
        lower[at] = upper[at] = 1.0
        pass_lp(
            whole,
            rows_matrix[own_rows][:, block.cols],
            np.zeros(len(block.cols)),
            (lower, upper),
            (np.array(lp.row_lower_)[own_rows], np.array(lp.row_upper_)[own_rows]),
        )
        assert block.highs.getNumRow() < whole.getNumRow()  # the links went
        for _ in range(3):
            prices = split._clip(rng.normal(0.0, 50.0, len(split.shared)))  # as pricing has them
            costs = (split.cost - split.coupling.T @ prices)[block.cols]
            ends = []
            for highs in (whole, block.highs):
                highs.changeColsCost(len(costs), np.arange(len(costs), dtype=np.int32), costs)
                highs.run()
                ends.append((highs.getModelStatus(), highs.getInfo().objective_function_value))
            assert ends[1][0] == ends[0][0]  # a country with no compact has none either way
            if ends[0][0] == highspy.HighsModelStatus.kOptimal:
                assert ends[1][1] == pytest.approx(ends[0][1], rel=1e-9, abs=1e-9)
                compared += 1
    assert compared


@pytest.mark.parametrize("seed", SEEDS)
def test_the_fixed_lp_on_the_chosen_countries_gives_the_whole_one_s_amounts(seed):
    """``Session.fixed_cut`` (a solve without duals: the final LP on the chosen countries
    alone) gives the amounts of ``fixed_lp`` on the whole model, after a draw in place too; a
    solve without duals has none and the same allocation as one with them."""
    world, prep, info = warm(seed)
    session = prep.model.session
    for _ in range(2):
        found = session.last
        cut = session.fixed_cut(found)
        assert cut is not None
        whole = session.fixed_lp(np.round(found[session.integer_cols]), cold=True)
        np.testing.assert_allclose(cut[0], whole[0], rtol=1e-9, atol=1e-9)
        assert session.objective_of(cut[0]) == pytest.approx(session.objective_of(whole[0]))
        assert cut[1] == pytest.approx(session.objective_of(cut[0]), rel=1e-12)  # a start's
        without = solve(prep.model, world.scenario.solver, duals=False)
        assert without.duals == {} and info.duals
        assert without.values.keys() == info.values.keys()
        np.testing.assert_allclose(
            list(without.values.values()),
            list(solve(prep.model, world.scenario.solver).values.values()),
            rtol=1e-9,
            atol=1e-9,
        )
        prep.model.set_inputs(scaled_inputs(world, prep, {"unit_cost_usd": 0.8}))
        solve(prep.model, world.scenario.solver)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_re_solve_that_holds_a_chosen_country_out_never_returns_it(seed):
    """A re-solve starts its first MIP from the last optimum's countries, their amounts
    re-solved (``Session.fixed_cut``); with one of those countries held at 0 on the copy (as an
    analysis holds it, without telling the session), that start does not exist, and the
    re-solve is the optimum without the country: no better than before, and the country at 0."""
    world, prep, info = warm(seed)
    session = prep.model.session
    chosen = info.chosen(prep.model.select)
    y = np.array([session.select_cols[chosen[0]]], dtype=np.int32)
    assert session.fixed_cut(session.last) is not None  # the start, before the hold
    session.highs.changeColsBounds(1, y, np.zeros(1), np.zeros(1))
    try:
        assert session.fixed_cut(session.last) is None
        found = session.search()
    finally:
        session.highs.changeColsBounds(1, y, session.col_lower[y], session.col_upper[y])
    held = changed(
        world, "selection", {"lock_out": [*world.scenario.selection.lock_out, chosen[0]]}
    )
    cold = held.solve()[1]
    assert found.status.has_solution == cold.status.has_solution
    if cold.status == Status.OPTIMAL:
        assert found.values[y[0]] == 0
        assert found.objective == pytest.approx(cold.objective, rel=1e-6)
        assert session._score(found.objective) <= session._score(info.objective) + 1e-6
