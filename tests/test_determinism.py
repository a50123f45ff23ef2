"""Same input, same bytes: ``allocation.csv`` and ``outcomes.csv`` do not depend on the run or solver,
and every run file but ``timings.json`` repeats byte for byte.

Proves, through ``optimizer.result.write_run`` into fresh folders:

* two runs of the same input (model rebuilt from scratch each time) write byte-identical
  ``allocation.csv`` and ``outcomes.csv``, with HiGHS and with CBC, on small random worlds and on a
  reduced baseline (the bundled baseline cut to 4 countries, 3 years, 4 segments);
* HiGHS and CBC write byte-identical files on the reduced baseline and on small random worlds,
  including one built to expose CBC's 8-significant-digit solution output and worlds with no
  discount (years interchangeable). Both hold because every solve ends with the same LP, the
  selection fixed, solved by HiGHS in full precision (``optimizer.session.Session.fixed_lp``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from world import World, catalogue, component, random_instance, scenario, view

from optimizer import engine
from optimizer.result import write_run
from optimizer.scenario import load_scenario
from optimizer.solve import Status

FILES = ("allocation.csv", "outcomes.csv")
REDUCED = ["selection.max_countries=4", "budget.horizon_years=3", "objective.segments=4"]
SEEDS = [0, 1, 2, 4, 5, 8, 9, 10, 11, 13, 14, 15]  # feasible rule-rich worlds


def world(seed: int) -> World:
    return random_instance(np.random.default_rng(2000 + seed), rule_probability=0.6)


def files(result, folder) -> dict[str, bytes]:
    write_run(result, folder)
    return {name: (folder / name).read_bytes() for name in FILES}


def every_file_but_timings(folder) -> dict[str, bytes]:
    """The run folder's files that must repeat byte for byte (README: all but timings.json)."""
    names = sorted(p.name for p in folder.iterdir())
    assert "timings.json" in names and "summary.json" in names
    return {name: (folder / name).read_bytes() for name in names if name != "timings.json"}


def small_result(seed: int, solver: str):
    """A fresh build and solve (new PuLP problem, new variables) of the seed's world."""
    w = world(seed)
    prep, info = w.solve(solver)
    assert info.status == Status.OPTIMAL, (seed, solver, info)
    return engine.collect(prep, info)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_small_worlds_repeat_byte_identical(solver, tmp_path):
    for seed in SEEDS[:6]:
        first = files(small_result(seed, solver), tmp_path / f"{seed}-a")
        second = files(small_result(seed, solver), tmp_path / f"{seed}-b")
        assert first == second, (seed, solver)
        a, b = (every_file_but_timings(tmp_path / f"{seed}-{x}") for x in "ab")
        assert a == b, (seed, solver, [n for n in a if a[n] != b.get(n)])
        assert first["allocation.csv"].count(b"\n") > 1  # not vacuously equal: rows were written


@pytest.mark.slow
def test_reduced_baseline_repeat_and_across_solvers(tmp_path):
    sc = load_scenario(None, REDUCED)
    highs_a = files(engine.run(sc, solver="highs"), tmp_path / "highs-a")
    highs_b = files(engine.run(sc, solver="highs"), tmp_path / "highs-b")
    cbc = files(engine.run(sc, solver="cbc"), tmp_path / "cbc")
    assert highs_a == highs_b
    assert every_file_but_timings(tmp_path / "highs-a") == every_file_but_timings(
        tmp_path / "highs-b"
    )
    assert highs_a == cbc, first_differences(tmp_path / "highs-a", tmp_path / "cbc")


# ---------------------------------------------------------------------------- across solvers


def first_differences(a, b, limit: int = 6) -> str:
    """The differing lines of allocation.csv in two run folders, for assertion messages."""
    left = (a / "allocation.csv").read_text().splitlines()
    right = (b / "allocation.csv").read_text().splitlines()
    diff = [f"{x}  |  {y}" for x, y in zip(left, right, strict=False) if x != y]
    return f"{len(left)} vs {len(right)} lines; " + "; ".join(diff[:limit])


def amounts(result) -> pd.Series:
    return result.allocation.set_index(["iso3", "component", "year"])["amount_usd"]


@pytest.mark.parametrize("seed", SEEDS)
def test_across_solvers_what_holds(seed):
    """Same objective; with discount > 0 (years not interchangeable) the same amounts up to CBC's
    8 significant digits in US$ million (at most $10 on amounts below $1 billion) and rounding."""
    w = world(seed)
    (hp, hi), (cp, ci) = w.solve("highs"), w.solve("cbc")
    assert ci.objective == pytest.approx(hi.objective, rel=1e-6)
    if w.scenario.budget.discount_rate > 0:
        h, c = amounts(engine.collect(hp, hi)), amounts(engine.collect(cp, ci))
        both = pd.concat([h, c], axis=1, keys=["highs", "cbc"]).fillna(0.0)
        gap = (both["highs"] - both["cbc"]).abs()
        assert (gap <= 1.0 + 1e-7 * both.max(axis=1)).all(), both[gap > 1]


def test_random_small_worlds_byte_identical_across_solvers(tmp_path):
    differing = []
    for seed in SEEDS:
        h = files(small_result(seed, "highs"), tmp_path / f"{seed}-highs")
        c = files(small_result(seed, "cbc"), tmp_path / f"{seed}-cbc")
        if h != c:
            differing.append(
                f"{seed}: "
                + first_differences(tmp_path / f"{seed}-highs", tmp_path / f"{seed}-cbc")
            )
    assert not differing, "\n".join(differing)


def precision_world() -> World:
    """One country, one component, annual cap binding at $100,000,041 in every year.

    The curve can absorb far more than the cap, the discount makes every year want as much as it
    may, so the optimum spends exactly the cap each year: a unique allocation."""
    v = view({"AAA": {"people": 5_000_000}})
    cat = catalogue({"k": component(cost=2000.0, saturation=0.05)})
    sc = scenario(
        budget={"total_usd": 1e9, "annual_cap_usd": 100_000_041, "discount_rate": 0.05},
        objective={"segments": 4},
    )
    return World(scenario=sc, view=v, catalogue=cat)


def test_precision_world_is_what_it_says():
    result = precision_world().result("highs")
    assert list(result.allocation["amount_usd"]) == [100_000_041] * 3


def test_small_world_byte_identical_across_solvers(tmp_path):
    w = precision_world()
    h = files(w.result("highs"), tmp_path / "highs")
    c = files(w.result("cbc"), tmp_path / "cbc")
    assert h == c, first_differences(tmp_path / "highs", tmp_path / "cbc")
