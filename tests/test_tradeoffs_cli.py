"""The trade-off commands: bad input (exit 2, one message, nothing written), a small real frontier
that never decreases with more budget, explain on real countries."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from optimizer.cli import main

SMALL = ["--set", "selection.max_countries=3", "--set", "eligibility.min_rule_of_law_pct=50"]


def invoke(args: list[str], code: int):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    return result


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["frontier", "--vary", "budget.nope=1M:2M:1M"], "budget.nope: unknown key"),
        (["frontier", "--vary", "eligibility.require_mission=0:1:1"], "not a numeric scenario key"),
        (["frontier", "--vary", "name=1:2:1"], "name"),
        (["frontier", "--vary", "budget.total_usd=300M:200M:10M"], "reversed"),
        (["frontier", "--vary", "budget.total_usd=200M:300M:0"], "empty"),
        (["frontier", "--vary", "budget.total_usd=1M:600M:1M"], "more than 500"),
        (["frontier", "--vary", "budget.total_usd=lots:2M:1M"], "START"),
        (["frontier", "--vary", "budget.total_usd"], "KEY=START:STOP:STEP"),
        (["frontier", "--vary", "selection.max_countries=3:5:0.5"], "whole numbers"),
        (["alternatives", "--within", "0"], "outside (0, 100%)"),
        (["alternatives", "--within", "100%"], "outside (0, 100%)"),
        (["alternatives", "--within", "two"], "not a margin"),
        (["explain", "XYZ"], "not a TIP-rated country"),
        (["explain", "arm"], "ARM Armenia is not eligible: Tier 1"),
    ],
)
def test_bad_input_is_one_message_and_nothing_written(args, words, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(args, 2)
    finally:
        os.chdir(cwd)
    assert words in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(Path(tmp_path).iterdir()) == []


def test_budget_frontier_never_decreases(tmp_path):
    out = tmp_path / "frontier"
    result = invoke(
        ["frontier", *SMALL, "--vary", "budget.total_usd=45M:105M:15M", "--out", str(out)], 0
    )
    assert "5 points (5 solved)" in result.output
    frame = pd.read_csv(out / "frontier.csv", keep_default_na=False)
    assert list(frame.columns[:5]) == [
        "value",
        "status",
        "objective",
        "budget_used_usd",
        "countries",
    ]
    assert list(frame["value"]) == [45e6, 60e6, 75e6, 90e6, 105e6]
    objective = frame["objective"].astype(float)
    assert (objective.diff().dropna() >= -1e-6 * objective.max()).all()
    assert (frame["budget_used_usd"].astype(float) <= frame["value"] + 1).all()
    assert all(len(c.split(";")) <= 3 for c in frame["countries"])
    assert (out / "frontier.png").stat().st_size > 1000
    # the points re-solved in place agree with a model built at that budget
    from optimizer.engine import run
    from optimizer.scenario import load_scenario

    built = run(load_scenario(None, [SMALL[1], SMALL[3], "budget.total_usd=105M"]))
    assert objective.iloc[-1] == pytest.approx(built.summary.objective, rel=1e-6)
    assert frame["countries"].iloc[-1] == ";".join(built.summary.selected)
    again = invoke(
        ["frontier", *SMALL, "--vary", "budget.total_usd=45M:45M:1M", "--out", str(out)], 2
    )
    assert "--force" in again.output


def test_rebuilt_frontier_marks_infeasible_points(tmp_path):
    """min_compact_usd is not a right-hand side: each point is rebuilt; a minimum compact above
    what 3 countries can share in the budget is a row with its status, not a crash."""
    out = tmp_path / "f"
    args = [
        "frontier",
        *SMALL,
        "--set",
        "selection.min_countries=3",
        "--set",
        "budget.total_usd=60M",
    ]
    invoke([*args, "--vary", "selection.min_compact_usd=10M:30M:10M", "--out", str(out)], 0)
    frame = pd.read_csv(
        out / "f" / "frontier.csv" if False else out / "frontier.csv", keep_default_na=False
    )
    assert list(frame["status"][:2]) == ["optimal", "optimal"]
    assert frame["status"].iloc[2] == "infeasible"
    assert frame["countries"].iloc[2] == ""


def test_interrupted_sweep_keeps_the_points_solved():
    from optimizer.analysis.frontier import parse_sweep, solve_points
    from optimizer.scenario import DEFAULT_SCENARIO

    overrides = [SMALL[1], SMALL[3]]
    sweep = parse_sweep("budget.total_usd=45M:105M:15M", DEFAULT_SCENARIO, overrides)
    solved = []

    def tick():
        solved.append(1)
        if len(solved) == 2:
            raise KeyboardInterrupt

    frame, interrupted = solve_points(sweep, DEFAULT_SCENARIO, overrides, tick)
    assert interrupted
    # the first point builds the model; after it two threads sweep the rest, so the second point
    # kept is whichever arrived first
    assert len(frame) == 2 and frame["value"].iloc[0] == 45e6
    assert set(frame["value"]) <= set(sweep.values)
    assert list(frame["status"]) == ["optimal", "optimal"]


def test_sweep_in_threads_matches_one_after_another():
    from optimizer.analysis.frontier import parse_sweep, solve_points
    from optimizer.scenario import DEFAULT_SCENARIO

    overrides = [SMALL[1], SMALL[3]]
    sweep = parse_sweep("budget.total_usd=45M:105M:15M", DEFAULT_SCENARIO, overrides)
    alone, _ = solve_points(sweep, DEFAULT_SCENARIO, overrides, workers=1)
    both, _ = solve_points(sweep, DEFAULT_SCENARIO, overrides, workers=2)
    assert list(both["value"]) == sweep.values
    assert list(both["countries"]) == list(alone["countries"])
    assert both["objective"].astype(float).tolist() == pytest.approx(
        alone["objective"].astype(float).tolist(), rel=1e-6
    )


def test_run_writes_tradeoffs_unless_told_not_to(tmp_path):
    result = invoke(["run", *SMALL, "--out", str(tmp_path / "with")], 0)
    assert "Trade-offs (exact re-solves" in result.output
    prices = pd.read_csv(tmp_path / "with" / "tradeoffs.csv", keep_default_na=False)
    assert {"pillar_floor", "pillar_floor:protection", "budget"} <= set(prices["rule"])
    assert (prices["impact_lost"].astype(float) >= 0).all()
    margins = pd.read_csv(tmp_path / "with" / "marginal_values.csv", keep_default_na=False)
    assert "budget_total" in set(margins["name"])
    plain = invoke(["run", *SMALL, "--no-tradeoffs", "--out", str(tmp_path / "without")], 0)
    assert "Trade-offs" not in plain.output
    assert not (tmp_path / "without" / "tradeoffs.csv").exists()


def test_alternatives_and_explain_on_real_countries():
    found = invoke(["alternatives", *SMALL, "--within", "15%", "--count", "2"], 0).output
    lines = [line for line in found.splitlines() if line[:2] in ("1.", "2.")]
    assert len(lines) == 2
    optimum = found.splitlines()[0].split(": ")[1].split(" (")[0].split()
    sets = [line.split(": ")[0][3:].split() for line in lines]
    assert len({tuple(optimum), *(tuple(s) for s in sets)}) == 3  # all different
    for line in lines:
        loss = float(line.split(": ")[1].split("%")[0])
        assert 0 <= loss <= 15
    chosen = set(optimum)
    left_out = sorted({iso for s in sets for iso in s} - chosen)[0]  # in an alternative, not chosen
    out = invoke(["explain", left_out, *SMALL], 0).output
    assert out.startswith(f"{left_out} ")
    assert "is eligible but left out: forcing it in costs" in out.splitlines()[0]
    assert "It would enter if its programmes were" in out


def test_lock_out_is_priced_on_a_model_built_without_it():
    """A country in SMALL's optimum, locked out: priced by building the model with it back."""
    from optimizer.engine import run
    from optimizer.scenario import DEFAULT_SCENARIO, load_scenario

    free = run(load_scenario(DEFAULT_SCENARIO, [SMALL[1], SMALL[3]]))
    iso = free.summary.selected[-1]
    locked = load_scenario(DEFAULT_SCENARIO, [SMALL[1], SMALL[3], f'selection.lock_out=["{iso}"]'])
    result = run(locked, tradeoffs=True)
    prices = result.tradeoffs.set_index("rule")
    lost = prices.at[f"lock_out_{iso}", "impact_lost"]
    assert lost == pytest.approx(free.summary.objective - result.summary.objective, rel=1e-6)
    assert lost > 0
    assert iso in prices.at[f"lock_out_{iso}", "countries_without_rule"].split(";")
    assert any(s.startswith(f"Locking out {iso} costs") for s in result.summary.tradeoffs)


def test_prices_from_the_optimum_in_threads_match_plain_re_solves():
    """Every row of the price table (re-solves from the run's optimum, two HiGHS copies at once,
    a part of a free family priced 0 without a re-solve) equals a plain re-solve of that rule
    alone, on the small baseline (tipping points on)."""
    from optimizer.analysis.pool import ResolverPool
    from optimizer.analysis.prices import price_rules, rules
    from optimizer.analysis.resolve import Resolver
    from optimizer.engine import prepare
    from optimizer.scenario import DEFAULT_SCENARIO, load_scenario
    from optimizer.solve import solve

    sc = load_scenario(DEFAULT_SCENARIO, [SMALL[1], SMALL[3]])
    prep = prepare(sc)
    info = solve(prep.model, sc.solver)
    resolver = Resolver(prep.model, sc.solver)
    start = resolver.incumbent()
    plain = Resolver(prep.model, sc.solver)
    with ResolverPool(resolver, 2) as pool:
        table = price_rules(resolver, info.objective, start=start, pool=pool).set_index("rule")
    tolerance = 2 * sc.solver.mip_gap * abs(info.objective)
    assert len(table) == len(rules(prep.model))
    for rule, _family, names in rules(prep.model):
        with plain.relaxed(names):
            alone = plain.solve()
        lost = max(0.0, alone.objective - info.objective)
        assert table.at[rule, "impact_lost"] == pytest.approx(lost, abs=tolerance), rule


def test_fixed_lp_from_the_optimum_equals_its_re_solve():
    """With tipping points on, the fixed LP takes the run's tipping points from its optimum
    instead of re-solving for them: the same tipping points, the same LP optimum and the same
    marginal value of money (the link rows' duals are degenerate: y is fixed by its bounds too)."""
    from optimizer.analysis.margins import fixed_duals, marginal_values
    from optimizer.analysis.resolve import Resolver
    from optimizer.engine import collect, prepare
    from optimizer.scenario import DEFAULT_SCENARIO, load_scenario
    from optimizer.solve import solve

    sc = load_scenario(DEFAULT_SCENARIO, [SMALL[1], SMALL[3]])
    prep = prepare(sc)
    selected = tuple(collect(prep, solve(prep.model, sc.solver)).summary.selected)
    resolver = Resolver(prep.model, sc.solver)
    tips = np.setdiff1d(resolver.integer_cols, list(resolver.select_cols.values()))
    assert len(tips)  # tipping points in the model
    taken = fixed_duals(resolver, selected, resolver.incumbent())
    again = Resolver(prep.model, sc.solver)
    solved = fixed_duals(again, selected)
    assert np.array_equal(taken.values[tips].round(), solved.values[tips].round())
    assert resolver.cost @ taken.values == pytest.approx(resolver.cost @ solved.values, rel=1e-9)
    money = [marginal_values(r, d, selected) for r, d in ((resolver, taken), (again, solved))]
    first, second = (m[m["kind"] == "resource"] for m in money)
    assert first["impact_per_1m_usd"].tolist() == pytest.approx(
        second["impact_per_1m_usd"].tolist(), rel=1e-6, abs=1e-9
    )
