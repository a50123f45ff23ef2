"""Monte Carlo over the impact model's ranges, on a tiny world (tests/world.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from world import World, catalogue, component, scenario, view

from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.uncertainty.draws import at_value, draw_seeds, ranges, sample
from optimizer.uncertainty.montecarlo import local_executor
from optimizer.uncertainty.outputs import write_folder
from optimizer.uncertainty.resolve import impact_of, model_spend
from optimizer.uncertainty.study import monte_carlo
from optimizer.uncertainty.summary import wilson_interval

COUNTRIES = {
    "AAA": {"people": 200_000, "rl": 30, "cc": 40, "va": 60},
    "BBB": {"people": 150_000, "rl": 70, "cc": 60, "va": 30},
    "CCC": {"people": 120_000, "rl": 50, "cc": 50, "va": 50},
    "DDD": {"people": 90_000, "rl": 20, "cc": 25, "va": 80},
}


def widened(spread: float) -> dict:
    """Components whose cost and saturation range over mode / spread .. mode * spread."""
    comps = {
        "shelter": component(cost=2000, saturation=0.01, context="governance", elasticity=0.5),
        "police": component(pillar="prosecution", metric="n", cost=800, saturation=0.004),
        "outreach": component(
            pillar="prevention", cost=300, saturation=0.03, context="voice", elasticity=1.0
        ),
    }
    for comp in comps.values():
        for key in ("unit_cost_usd", "saturation"):
            mode = comp[key]["mode"]
            comp[key] = {"low": mode / spread, "mode": mode, "high": mode * spread}
    if spread > 1:  # the voice context matters from not at all to strongly
        comps["outreach"]["elasticity"] = {"low": 0.0, "mode": 1.0, "high": 3.0}
    return comps


def world(sc: Scenario, spread: float = 2.0) -> World:
    return World(scenario=sc, view=view(COUNTRIES), catalogue=catalogue(widened(spread), WEIGHTS))


WEIGHTS = {"m": 1.0, "n": 2.0}
SCENARIO = scenario(
    budget={"total_usd": 3e6, "horizon_years": 3},
    selection={"max_countries": 2, "min_compact_usd": 4e5},
)


def prepare_wide(sc: Scenario):
    return world(sc).prepare()


def prepare_collapsed(sc: Scenario):
    return world(sc, spread=1.0).prepare()


def study(tmp_path, name, preparer, workers=1, draws=12, seed=7, sc=SCENARIO):
    with local_executor(workers) as pool:
        result = monte_carlo(preparer(sc), draws, seed, pool, preparer=preparer)
    write_folder(tmp_path / name, False, result.tables, result.summary, {})
    return result


def test_same_seed_same_files_with_one_and_two_workers(tmp_path):
    one = study(tmp_path, "one", prepare_wide, workers=1)
    two = study(tmp_path, "two", prepare_wide, workers=2)
    for name in ("uncertainty.csv", "uncertainty_pillars.csv", "draws.csv", "summary.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert one.summary["draws_solved"] == 12
    assert two.tables["draws"]["seed"].tolist() == draw_seeds(7, 12)
    other = study(tmp_path, "other", prepare_wide, seed=8)  # and the seed matters
    assert other.tables["draws"]["impact"].tolist() != one.tables["draws"]["impact"].tolist()


def test_a_draw_solves_to_the_same_bits_whatever_the_worker_solved_first():
    """On the baseline (draws 1 and 5 of seed 11): a worker's first solve is its first draw, and
    its HiGHS copy used to keep the scaling it computed from that draw's numbers, so draw 5 came
    out in the last digits otherwise after draw 1 than in a worker of its own; every amount of
    ``draws.jsonl`` must be the same bits."""
    from optimizer.engine import prepare
    from optimizer.scenario import DEFAULT_SCENARIO, load_scenario
    from optimizer.uncertainty.montecarlo import study_of
    from optimizer.uncertainty.resolve import resolve

    baseline = load_scenario(DEFAULT_SCENARIO)
    section = baseline.uncertainty
    parent = study_of(prepare(baseline))  # the mode solved apart, as the parent does
    countries, seeds = list(parent.countries), draw_seeds(11, 6)

    def solved(order):
        prep = prepare(baseline)  # as a worker: no mode solve, the first draw is its first solve
        for index in order:
            draw = sample(
                parent.table, countries, seeds[index], section.distribution, section.shared
            )
            outcome = resolve(prep, draw, index, parent.mode_spend)
        return outcome

    after, alone = solved([1, 5]), solved([5])
    assert after.selected == alone.selected
    assert after.objective == alone.objective
    assert after.spend == alone.spend  # every digit


def test_a_resumed_study_writes_what_one_run_at_once_writes(tmp_path):
    """Draws 0, 2 and 4 of 8 finished (an interrupted study keeps whichever chunks finished),
    then resumed to 8: the same files, byte for byte, as the 8 draws solved in one go."""
    from optimizer.uncertainty.outputs import read_study

    def run(name, draws, resumed=None):
        with local_executor(1) as pool:
            result = monte_carlo(
                prepare_wide(SCENARIO), draws, 7, pool, preparer=prepare_wide, resumed=resumed
            )
        outcomes = result.finished.outcomes
        write_folder(tmp_path / name, True, result.tables, result.summary, {}, outcomes)
        return result

    at_once = run("at_once", 8)
    run("part", 5)
    jsonl = tmp_path / "part" / "draws.jsonl"
    lines = jsonl.read_text().splitlines()
    jsonl.write_text("".join(lines[i] + "\n" for i in (0, 2, 4)))
    earlier = read_study(tmp_path / "part")
    assert [o.index for o in earlier.outcomes] == [0, 2, 4]
    assert earlier.outcomes == at_once.finished.outcomes[0:5:2]  # every digit kept
    solved = []
    with local_executor(1) as pool:  # only the 5 missing draws are solved
        from optimizer.uncertainty.montecarlo import run_draws

        run_draws(
            at_once.study, 8, 7, pool, lambda: solved.append(1), prepare_wide, earlier.outcomes
        )
    assert len(solved) == 5
    run("resumed", 8, earlier)
    names = sorted(p.name for p in (tmp_path / "at_once").iterdir())
    assert "draws.jsonl" in names
    for name in names:
        assert (tmp_path / "resumed" / name).read_bytes() == (
            tmp_path / "at_once" / name
        ).read_bytes()


def test_a_study_resumes_only_on_what_it_was_run_on(tmp_path):
    from optimizer.errors import InputError
    from optimizer.uncertainty.outputs import read_study

    with local_executor(1) as pool:
        result = monte_carlo(prepare_wide(SCENARIO), 2, 7, pool, preparer=prepare_wide)
    write_folder(tmp_path / "s", False, result.tables, result.summary, {}, result.finished.outcomes)
    other = SCENARIO.model_copy(
        update={"budget": SCENARIO.budget.model_copy(update={"total_usd": 2e6})}
    )
    with local_executor(1) as pool, pytest.raises(InputError, match="another scenario"):
        monte_carlo(
            prepare_wide(other),
            4,
            7,
            pool,
            preparer=prepare_wide,
            resumed=read_study(tmp_path / "s"),
        )
    (tmp_path / "s" / "draws.jsonl").write_text('{"index": 0, "seed": "x"}\n')
    with pytest.raises(InputError, match=r"draws.jsonl, line 1.*not a draw"):
        read_study(tmp_path / "s")
    summary = tmp_path / "s" / "summary.json"
    summary.write_text(summary.read_text().replace('"seed": 7', '"seed": "seven"'))
    with pytest.raises(InputError, match="seed is not a whole number"):
        read_study(tmp_path / "s")
    summary.write_text("[1, 2]")
    with pytest.raises(InputError, match="has no seed or fingerprint"):
        read_study(tmp_path / "s")
    (tmp_path / "s" / "draws.jsonl").unlink()
    with pytest.raises(InputError, match=r"has no draws\.jsonl"):
        read_study(tmp_path / "s")


def test_collapsed_ranges_reproduce_the_deterministic_optimum(tmp_path):
    prep = prepare_collapsed(SCENARIO)
    info = solve(prep.model, SCENARIO.solver)
    result = study(tmp_path, "flat", prepare_collapsed, draws=5)
    draws = result.tables["draws"]
    assert (draws["status"] == "optimal").all()
    assert np.allclose(draws["objective"], info.objective, rtol=1e-9)
    assert np.allclose(draws["regret"], 0.0, atol=1e-6 * info.objective)
    chosen = ";".join(info.chosen(prep.model.select))
    assert set(draws["focus_countries"]) == {chosen}


def test_selection_probabilities_sum_to_the_mean_number_of_focus_countries(tmp_path):
    result = study(tmp_path, "p", prepare_wide, draws=16)
    probability = result.tables["uncertainty"]["selection_probability"]
    assert probability.between(0, 1).all()
    assert 0 < probability.max() <= 1 and probability.min() < 1  # the ranges move the choice
    assert probability.sum() == pytest.approx(result.summary["mean_focus_countries"])
    table = result.tables["uncertainty"]
    low, high = table["selection_probability_low95"], table["selection_probability_high95"]
    assert (low >= 0).all() and (low <= probability).all()
    assert (probability <= high).all() and (high <= 1).all()
    assert (high - low).min() > 0  # 16 draws cannot pin any probability, 0 and 1 included
    impact = result.summary["impact"]
    assert 0 < impact["mean_margin95"] < impact["p90"] - impact["p10"]
    assert (table["allocation_p10_usd"] <= table["allocation_p50_usd"] + 1e-6).all()
    assert (table["allocation_p50_usd"] <= table["allocation_p90_usd"] + 1e-6).all()


def test_regret_is_never_negative(tmp_path):
    result = study(tmp_path, "r", prepare_wide, draws=10)
    regret = result.tables["draws"]["regret"]
    assert (regret >= -1e-6 * result.tables["draws"]["impact"]).all()
    assert regret.max() > 0  # some draw's optimum beats the mode allocation


def test_pert_draws_have_the_pert_mean_and_shared_draws_one_value():
    prep = prepare_wide(SCENARIO)
    table = ranges(prep.catalogue, SCENARIO)
    values = [
        sample(table, ["AAA", "BBB"], s, "pert", False)("unit_cost_usd", "shelter", "AAA", 0.0)
        for s in draw_seeds(1, 4000)
    ]
    low, mode, high = 1000.0, 2000.0, 4000.0
    assert np.mean(values) == pytest.approx((low + 4 * mode + high) / 6, rel=0.02)
    assert min(values) >= low and max(values) <= high
    shared = sample(table, ["AAA", "BBB"], 3, "triangular", True)
    one = shared("saturation", "police", "AAA", 0.0)
    assert one == shared("saturation", "police", "BBB", 0.0) != 0.0
    apart = sample(table, ["AAA", "BBB"], 3, "triangular", False)
    assert apart("saturation", "police", "AAA", 0.0) != apart("saturation", "police", "BBB", 0.0)


def test_impact_of_scores_the_solved_allocation_as_the_objective_does():
    prep = prepare_wide(SCENARIO)
    info = solve(prep.model, SCENARIO.solver)
    score = impact_of(model_spend(prep.model, info), prep.curves, SCENARIO, prep.catalogue)
    assert score == pytest.approx(info.objective, rel=1e-6)


def test_at_value_moves_only_its_parameter():
    draw = at_value("weight", "n", 5.0)
    assert draw("weight", "n", "", 2.0) == 5.0
    assert draw("weight", "m", "", 1.0) == 1.0
    assert draw("unit_cost_usd", "n", "AAA", 7.0) == 7.0


def _robust_beats_mode(tmp_path, sc, preparer):
    """Fitted on the first 10 of 13 draws and compared on them, then on the 3 held out."""
    from optimizer.uncertainty.robust import compare

    result = study(tmp_path, "robust", preparer, draws=13, sc=sc)
    plan, table = compare(
        preparer(sc), result.study, result.finished, lambda: preparer(sc), draws=10
    )
    rows = table.set_index(["sample", "allocation"])

    def pair(sample):  # the mode allocation's row, then the robust allocation's, on ``sample``
        return rows.loc[sample].loc[["mode allocation", "robust allocation"]].itertuples()

    mode, robust = pair("fitted")
    assert robust.draws == mode.draws == 10
    assert robust.expected_impact >= mode.expected_impact * (1 - 1e-7)
    assert robust.mean_regret <= mode.mean_regret + 1e-6 * mode.expected_impact
    gain = robust.expected_impact - mode.expected_impact
    assert robust.gain_over_mode == pytest.approx(gain, abs=1e-9 * mode.expected_impact)
    assert mode.margin95 > 0  # the draws move the mode allocation's impact
    assert plan["amount_usd"].sum() <= sc.budget.total_usd * (1 + 1e-9)
    assert plan["amount_usd"].sum() > 0
    held_mode, held_robust = pair("held out")
    assert held_mode.draws == held_robust.draws == 3
    draws = result.tables["draws"].iloc[10:]  # the study's own scores of the draws held out
    assert held_mode.expected_impact == pytest.approx(draws["mode_impact"].mean(), rel=1e-12)
    assert held_mode.mean_regret == pytest.approx(draws["regret"].mean(), rel=1e-12)
    if sc.policy.aftercare_share == 0:  # no draw's optimum beats the rule the plan escapes
        assert held_robust.mean_regret >= -1e-6 * held_mode.expected_impact
    return result, robust.expected_impact > mode.expected_impact * (1 + 1e-6)


def test_robust_allocation_beats_the_mode_allocation_on_its_draws(tmp_path):
    _robust_beats_mode(tmp_path, SCENARIO, prepare_wide)


# The focus-country mechanisms on (issue 10): survivors assisted (shelter) follow victims
# identified (police), a survey's coverage counted once, compacts that tip and durable outcomes.
FOCUS = scenario(
    budget={"total_usd": 3e6, "horizon_years": 3, "discount_rate": 0.03},
    selection={"max_countries": 2, "min_compact_usd": 4e5},
    policy={"aftercare_share": 0.25},
    tipping={
        "durable_years": 5,
        "threshold_usd_per_person": 4.0,
        "pillar_years": 2,
        "pillar_min_usd": 20e3,
    },
)


def prepare_focus(sc: Scenario):
    comps = widened(2.0)
    comps["shelter"]["metric"] = "victims_assisted"
    comps["police"]["metric"] = "victims_identified"
    comps["survey"] = component(pillar="partnership", metric="coverage", cost=2.0, saturation=1.0)
    comps["survey"]["unit_cost_usd"] = {"low": 1.0, "mode": 2.0, "high": 4.0}
    weights = {"m": 1.0, "victims_assisted": 1.5, "victims_identified": 2.0, "coverage": 0.002}
    cat = catalogue(comps, weights, once=("coverage",))
    return World(scenario=sc, view=view(COUNTRIES), catalogue=cat).prepare()


def test_robust_allocation_with_the_tipping_point_beats_the_mode_allocation(tmp_path):
    prep = prepare_focus(FOCUS)
    assert {"aftercare", "tipping_spend", "tipping_pillar"} <= set(prep.model.families)
    assert prep.model.coverage and prep.model.durable
    info = solve(prep.model, FOCUS.solver)
    assert any(info.value(t) > 0.5 for t in prep.model.tipped.values())  # a compact tips
    _robust_beats_mode(tmp_path, FOCUS, prepare_focus)


def test_the_robust_objective_is_the_mean_impact_of_its_plan_over_the_draws():
    """Per-draw copies of the curve rows: the sample-average objective is exactly the mean of
    ``impact_of`` over the draws, durable outcomes, stocks counted once and the systems dividend
    included (aftercare holds on the plan at the mode curves)."""

    from optimizer.uncertainty.resolve import draw_curves
    from optimizer.uncertainty.robust import robust_plan

    tipping = {**FOCUS.tipping.model_dump(), "systems_dividend": 50.0}
    tipping["systems_components"] = ["survey"]
    sc = FOCUS.model_copy(update={"tipping": FOCUS.tipping.model_validate(tipping)})
    prep = prepare_focus(sc)
    table = ranges(prep.catalogue, sc)
    curves = [
        draw_curves(prep, sample(table, prep.countries, s, "pert", False))
        for s in draw_seeds(11, 4)
    ]
    fresh = prepare_focus(sc)
    plan, info = robust_plan(fresh, curves, set(prep.countries))
    assert info.status == "optimal"
    objective = info.objective
    scores = [impact_of(plan, c, sc, prep.catalogue) for c in curves]
    assert any(info.value(t) > 0.5 for t in fresh.model.tipped.values())
    gains = [info.value(v) for v in fresh.model.variables if v.name.startswith("saa0_dividend")]
    assert max(gains) > 0  # the dividend counts
    assert objective == pytest.approx(np.mean(scores), rel=1e-7)
    # the fallback when the search stops early: the mode's focus countries, amounts over the draws
    from optimizer.uncertainty.montecarlo import study_of

    mode = study_of(prepare_focus(sc))
    kept = prepare_focus(sc)
    plan, info = robust_plan(kept, curves, set(mode.mode_selected), fixed=True)
    assert tuple(sorted(plan.loc[plan["amount_usd"] >= 1, "iso3"].unique())) == mode.mode_selected
    on_draws = [impact_of(mode.mode_spend, c, sc, prep.catalogue) for c in curves]
    assert info.objective >= np.mean(on_draws) * (1 - 1e-7)
    assert info.objective <= objective * (1 + 1e-7)  # a restriction of the search


def test_a_dask_cluster_gives_the_same_files_as_local_workers(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = study(tmp_path, "local", prepare_wide, draws=6)
    with (
        distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = monte_carlo(
            prepare_wide(SCENARIO), 6, 7, client.get_executor(), preparer=prepare_wide
        )
    write_folder(tmp_path / "dask", False, remote.tables, remote.summary, {})
    for name in ("uncertainty.csv", "uncertainty_pillars.csv", "draws.csv", "summary.json"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    assert local.summary["draws_solved"] == 6


# ---------------------------------------------------------------------------- bad input (CLI)


def _cli(args, tmp_path):
    from click.testing import CliRunner

    from optimizer.cli import main

    return CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")])


@pytest.mark.parametrize(
    ("section", "words"),
    [
        (
            "[uncertainty.unit_cost_usd]\nshelter_reintegration = { low = 900, mode = 800, high = 1000 }",
            "above mode",
        ),
        ("[uncertainty.weight]\nconvictions = { low = 5, mode = 4, high = 15 }", "above mode"),
        (
            "[uncertainty.saturation]\nshelter_reintegration = { low = 0.2, mode = 0.2, high = 0.2 }",
            "needs width",
        ),
        (
            "[uncertainty.unit_cost_usd]\nshelter_reintegration = { low = -5, mode = 800, high = 1000 }",
            "uncertainty.unit_cost_usd.shelter_reintegration.low",
        ),
        (
            "[uncertainty.unit_cost_usd]\nlabour_inspection = { low = 0, mode = 800, high = 1000 }",
            "low must be above 0",
        ),
        (
            "[uncertainty.elasticity]\nnot_a_component = { low = 0, mode = 1, high = 2 }",
            "not a component",
        ),
    ],
)
def test_bad_ranges_exit_2_with_one_message(tmp_path, section, words):
    from optimizer.scenario import DEFAULT_SCENARIO

    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "{DEFAULT_SCENARIO}"\nname = "bad"\n\n{section}\n')
    result = _cli(["uncertainty", str(path), "--draws", "2"], tmp_path)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("draws", ["0", "100001"])
def test_draws_out_of_range_exit_2(tmp_path, draws):
    result = _cli(["uncertainty", "--draws", draws], tmp_path)
    assert result.exit_code == 2
    assert "--draws" in result.output
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_exits_2(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from optimizer.uncertainty import executors

    monkeypatch.setattr(executors, "CONNECT_SECONDS", 1)
    result = _cli(["uncertainty", "--draws", "2", "--scheduler", "tcp://127.0.0.1:9"], tmp_path)
    assert result.exit_code == 2, result.output
    assert "cannot reach a Dask scheduler" in result.output
    assert not (tmp_path / "out").exists()


def test_robust_with_too_many_draws_exits_2(tmp_path):
    result = _cli(["uncertainty", "--robust", "--robust-draws", "51"], tmp_path)
    assert result.exit_code == 2
    assert "--robust-draws" in result.output


def test_sensitivity_moves_impact_the_right_way_and_finds_break_evens():
    from optimizer.uncertainty.montecarlo import study_of
    from optimizer.uncertainty.sensitivity import one_at_a_time, with_break_even

    prep = prepare_wide(SCENARIO)
    base = study_of(prep)
    with local_executor(1) as pool:
        table = one_at_a_time(base, pool, preparer=prepare_wide)
    rows = table.set_index(["kind", "key"])
    cost = rows.loc[("unit_cost_usd", "outreach")]
    assert cost["impact_low"] > base.mode_impact > cost["impact_high"]  # cheaper buys more
    assert ("weight", "n") not in rows.index  # collapsed in this world: not an assumption
    assert rows.loc[("budget", "discount_rate"), "impact_high"] < base.mode_impact
    assert rows.loc[("elasticity", "outreach"), "set_changes_low"]  # voice decides the set
    assert (table["swing"].diff().dropna() <= 1e-9).all()  # largest swing first
    table = with_break_even(base, table, preparer=prepare_wide, top=2)
    found = table.dropna(subset=["break_even"])
    assert ("elasticity", "outreach") in set(zip(found["kind"], found["key"], strict=True))
    for row in found.itertuples():
        side = "low" if row.set_changes_low else "high"
        assert (
            min(row.mode, getattr(row, side)) <= row.break_even <= max(row.mode, getattr(row, side))
        )


def test_sensitivity_rows_tied_to_the_shown_decimals_sort_by_kind_and_key():
    """Swings that differ only below the CSV's 6 decimals (solver noise) do not order the rows:
    kind and key do, so the file does not depend on that noise."""
    from optimizer.uncertainty.sensitivity import by_swing

    table = pd.DataFrame(
        {
            "kind": ["weight", "saturation", "saturation", "unit_cost_usd"],
            "key": ["a", "b", "a", "c"],
            "swing": [0.0, 3e-11, 0.0, 2.5],
        }
    )
    ordered = by_swing(table)
    assert list(zip(ordered["kind"], ordered["key"], strict=True)) == [
        ("unit_cost_usd", "c"),
        ("saturation", "a"),
        ("saturation", "b"),
        ("weight", "a"),
    ]


def test_sensitivity_includes_the_tipping_point_parameters():
    from optimizer.uncertainty.montecarlo import study_of
    from optimizer.uncertainty.sensitivity import one_at_a_time, with_break_even

    base = study_of(prepare_focus(FOCUS))
    with local_executor(1) as pool:
        table = one_at_a_time(base, pool, preparer=prepare_focus)
    rows = table.set_index(["kind", "key"])
    tipping = {key for kind, key in rows.index if kind == "tipping"}
    assert tipping == {
        "threshold_usd_per_person",
        "pillar_years",
        "pillar_min_usd",
        "durable_share",
        "durable_years",
        "decay",
    }  # the systems dividend is off: not an assumption here, nor readiness (strength 0)
    assert ("objective", "readiness_strength") not in rows.index
    share, decay = rows.loc[("tipping", "durable_share")], rows.loc[("tipping", "decay")]
    assert share["impact_low"] < base.mode_impact < share["impact_high"]
    assert decay["impact_low"] > base.mode_impact > decay["impact_high"]
    years = rows.loc[("tipping", "durable_years")]
    assert (years["low"], years["mode"], years["high"]) == (3, 5, 10)
    assert years["impact_low"] < base.mode_impact < years["impact_high"]
    assert rows.loc[("objective", "scale_exponent"), "low"] == 0.3
    table = with_break_even(base, table, preparer=prepare_focus, top=3)
    for row in table.dropna(subset=["break_even"]).itertuples():
        if row.kind == "tipping" and row.key.endswith("years"):
            assert row.break_even == round(row.break_even)  # years are whole


def test_scenario_ranges_are_the_ones_the_scenario_keys_document():
    import re

    from optimizer.uncertainty.sensitivity import SCENARIO_RANGES

    units = {"": 1.0, "k": 1e3, "M": 1e6}
    number = r"\$?(\d+(?:\.\d+)?)([kM]?)"
    checked = 0
    for (section, key), (low, high, _) in SCENARIO_RANGES.items():
        text = Scenario.model_fields[section].annotation.model_fields[key].description
        found = re.search(rf"range {number}-{number}", text)
        if found is None:
            continue
        a, unit_a, b, unit_b = found.groups()
        stated = (float(a) * units[unit_a or unit_b], float(b) * units[unit_b])
        assert stated == pytest.approx((low, high)), f"{section}.{key}: {text}"
        checked += 1
    assert checked >= 10


def test_draws_sent_in_chunks_give_the_same_outcomes(monkeypatch):
    from optimizer.uncertainty import montecarlo
    from optimizer.uncertainty.montecarlo import chunk_size, run_draws, study_of

    assert [chunk_size(n) for n in (1, 79, 80, 500, 100_000)] == [1, 1, 2, 10, 10]
    base = study_of(prepare_wide(SCENARIO))
    with local_executor(2) as pool:
        one = run_draws(base, 7, 3, pool, preparer=prepare_wide)
        monkeypatch.setattr(montecarlo, "chunk_size", lambda draws: 3)
        ticks = []
        three = run_draws(base, 7, 3, pool, lambda: ticks.append(1), preparer=prepare_wide)
    assert len(ticks) == 7  # one tick per draw, whatever the chunk
    assert one.outcomes == three.outcomes


def test_ctrl_c_keeps_the_finished_draws():
    from optimizer.uncertainty.montecarlo import run_draws, study_of

    base = study_of(prepare_wide(SCENARIO))
    seen = []

    def tick():
        seen.append(1)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with local_executor(1) as pool:
        finished = run_draws(base, 20, 7, pool, tick, preparer=prepare_wide)
    assert finished.interrupted
    assert 3 <= len(finished.outcomes) < 20
    indexes = [o.index for o in finished.outcomes]
    assert indexes == sorted(set(indexes))


def test_cli_uncertainty_writes_the_study_folder(tmp_path):
    import json

    result = _cli(["uncertainty", "--draws", "2", "--workers", "1", "--seed", "3"], tmp_path)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out"
    for name in ("uncertainty.csv", "uncertainty_pillars.csv", "draws.csv", "ranges.csv"):
        assert (folder / name).stat().st_size > 0
    assert (folder / "impact_histogram.png").stat().st_size > 0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["draws_solved"] == 2 and summary["seed"] == 3
    assert "Regret of the mode allocation" in result.output
    first_draws = (folder / "draws.csv").read_text().splitlines()[1:]
    again = _cli(["uncertainty", "--draws", "2", "--workers", "1"], tmp_path)
    assert again.exit_code == 2 and "--force" in again.output  # an existing folder is kept
    # resumed: refused on another seed, fewer draws or another scenario; else one more draw
    resume = ["uncertainty", "--workers", "1", "--resume"]
    for extra, words in (
        (["--draws", "3", "--seed", "4"], "--seed 3"),
        (["--draws", "1"], "--draws 2 or more"),
        (["--draws", "3", "--set", "budget.total_usd=2e8"], "another scenario"),
    ):
        refused = _cli([*resume, *extra], tmp_path)
        assert refused.exit_code == 2 and words in refused.output, refused.output
        assert "Traceback" not in refused.output
    resumed = _cli([*resume, "--draws", "3"], tmp_path)
    assert resumed.exit_code == 0, resumed.output
    assert "Resumed: kept 2 draws" in resumed.output
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["draws_solved"] == 3 and summary["seed"] == 3
    draws = (folder / "draws.csv").read_text().splitlines()
    assert len(draws) == 4 and draws[1:3] == first_draws


def test_cli_robust_compares_on_fitted_and_held_out_draws(tmp_path):
    import pandas as pd

    args = ["uncertainty", "--draws", "2", "--workers", "1", "--robust", "--robust-draws", "1"]
    result = _cli(args, tmp_path)
    assert result.exit_code == 0, result.output
    versus = pd.read_csv(tmp_path / "out" / "robust_vs_mode.csv")
    assert list(versus["sample"]) == ["fitted", "fitted", "held out", "held out"]
    assert (versus["draws"] == 1).all()
    plan = pd.read_csv(tmp_path / "out" / "robust_allocation.csv")
    assert 0 < plan["amount_usd"].sum() <= 250e6 * (1 + 1e-9)
    assert "On 1 held-out draw the robust allocation gains" in result.output


def test_a_draw_changed_in_place_solves_as_a_model_rebuilt_on_its_curves():
    from optimizer.model import build_model
    from optimizer.uncertainty import resolve as module

    prep = prepare_wide(SCENARIO)
    info = solve(prep.model, SCENARIO.solver)  # the warm session the draws then change
    table = ranges(prep.catalogue, SCENARIO)
    spend = model_spend(prep.model, info)
    for seed in draw_seeds(5, 2):
        draw = sample(table, prep.countries, seed, "pert", False)
        in_place = module.resolve(prep, draw, 0, spend)
        cold = prepare_wide(SCENARIO)
        cold.model = build_model(module.draw_inputs(cold, draw))
        rebuilt = module.resolve(cold, draw, 0, spend)
        assert in_place.objective == pytest.approx(rebuilt.objective, rel=1e-9)
        assert in_place.selected == rebuilt.selected
        assert in_place.spend.keys() == rebuilt.spend.keys()


@pytest.mark.parametrize("name", ["baseline", "three-year"])
def test_impact_of_scores_an_allocation_as_the_objective_counts_it(bundled, name):
    """Durable outcomes after a tipped compact and stocks counted once included: the bundled
    scenarios' optima (whole dollars) score their own objective."""
    from optimizer.engine import prepare

    scenario, result = bundled(name)
    assert result.summary.tipped  # the tipping point is on and crossed
    prep = prepare(scenario)
    score = impact_of(result.allocation, prep.curves, scenario, prep.catalogue)
    assert score == pytest.approx(result.summary.objective, rel=1e-5)


def test_wilson_intervals_match_the_published_values():
    """95% Wilson score intervals (Newcombe 1998, Stat. Med. 17, 857, table I: 81 of 263 gives
    0.2553-0.3662; 0 of 10 gives 0-0.2775); narrower with more draws; none without draws."""
    low, high = wilson_interval(np.array([81, 0, 50, 200]), 263)
    assert low[0] == pytest.approx(0.2553, abs=1e-4) and high[0] == pytest.approx(0.3662, abs=1e-4)
    low, high = wilson_interval(np.array([0, 10]), 10)
    assert low[0] == 0 and high[0] == pytest.approx(0.2775, abs=1e-4)
    assert high[1] == 1 and low[1] == pytest.approx(1 - 0.2775, abs=1e-4)
    few, many = wilson_interval(np.array([50]), 100), wilson_interval(np.array([200]), 400)
    assert many[1][0] - many[0][0] < few[1][0] - few[0][0]
    assert np.isnan(wilson_interval(np.array([0]), 0)[0]).all()


def test_mean_margins_are_students_t_intervals():
    """Half the width of SciPy's one-sample t interval (a textbook case: 1..10 gives 5.5 +-
    2.166); wider than 1.96 standard errors for few draws; none from one draw."""
    from scipy.stats import ttest_1samp

    from optimizer.uncertainty.summary import mean_margin95

    values = np.arange(1.0, 11.0)
    ci = ttest_1samp(values, 0.0).confidence_interval(0.95)
    assert mean_margin95(values) == pytest.approx((ci.high - ci.low) / 2, rel=1e-12)
    assert mean_margin95(values) == pytest.approx(2.166, abs=1e-3)
    assert mean_margin95(values) > 1.96 * np.std(values, ddof=1) / np.sqrt(10)
    assert mean_margin95(np.array([4.0])) is None


def test_a_scenario_point_that_leaves_a_mode_country_out_still_scores_the_mode_allocation():
    """A larger minimum compact makes a focus country of the mode allocation too small for a
    compact, so the re-prepared model leaves it out; the mode allocation's spend there is still
    scored, on that country's curves (which the minimum compact does not change)."""
    from dataclasses import replace

    from optimizer.diagnose import too_small
    from optimizer.uncertainty.montecarlo import run_point, study_of

    def prepare_as_the_engine(sc: Scenario):  # which leaves out the countries too small
        everyone = world(sc)
        curves = everyone.prepare().curves
        small = too_small(sc, list(everyone.view.index), curves)
        return replace(everyone, countries=[c for c in everyone.view.index if c not in small])

    prep = prepare_wide(SCENARIO)
    base = study_of(prep)
    capacity = prep.curves.capacity(SCENARIO.budget.horizon_years)
    smallest = min(base.mode_selected, key=lambda c: capacity[c])
    floor = 0.5 * (capacity[smallest] + capacity.max())
    assert capacity[smallest] < floor <= capacity.max()  # one mode country out, one left in
    changed = SCENARIO.model_copy(
        update={"selection": SCENARIO.selection.model_copy(update={"min_compact_usd": floor})}
    )
    assert smallest not in prepare_as_the_engine(changed).prepare().countries
    outcome = run_point(
        base,
        0,
        "selection",
        "min_compact_usd",
        floor,
        lambda sc: prepare_as_the_engine(sc).prepare(),
    )
    assert smallest not in outcome.selected
    assert outcome.mode_impact == pytest.approx(base.mode_impact, rel=1e-12)
