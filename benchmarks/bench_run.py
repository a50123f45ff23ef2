"""Benchmark the allocation model: the baseline end to end, and the stress scenario by stage.

    python benchmarks/bench_run.py [--repeat 3] [--skip-cbc]

Targets (issue 3): baseline end to end (``tipfocus run``, wall, a fresh process) under 2 s;
stress scenario (every rated country eligible, full catalogue, 5 years) under 15 s; building the
model plus handing it to the solver faster than the solver itself on the stress scenario.

"engine solve" is what `tipfocus run` does: hand-over, the linear relaxation (the proven optimum
when its selection is integral, else the MIP), and the final LP with the selection fixed.
"HiGHS MIP alone" runs HiGHS's branch and bound on the same model, for reference.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import highspy

from optimizer.catalogue import DEFAULT_CATALOGUE, load_catalogue
from optimizer.data import load_tables
from optimizer.diagnose import too_small
from optimizer.engine import Prepared, collect
from optimizer.impact import build_curves
from optimizer.inputs import model_inputs
from optimizer.model import build_model
from optimizer.scenario import DEFAULT_SCENARIO, load_scenario
from optimizer.screening import screen
from optimizer.solve import _highs_lp, _highs_options, _stdout_silenced, solve

HERE = Path(__file__).resolve().parent
STRESS = HERE / "stress.toml"


def end_to_end(scenario: Path, repeat: int) -> list[float]:
    """Wall seconds of `tipfocus run SCENARIO --out tmp` in a fresh process."""
    times = []
    exe = Path(sys.executable).with_name("tipfocus")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run(
                [str(exe), "run", str(scenario), "--no-tradeoffs", "--out", f"{tmp}/run"],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - start)
    return times


def stages(scenario_path: Path, solver: str = "highs") -> dict[str, float]:
    """Seconds per pipeline stage, in this process."""
    out: dict[str, float] = {}
    t = time.perf_counter()
    scenario = load_scenario(scenario_path)
    tables = load_tables()
    scr = screen(tables, scenario.eligibility, scenario.data.reference_year)
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    out["load + screen"] = time.perf_counter() - t
    t = time.perf_counter()
    countries = scr.eligible
    curves = build_curves(scr.frame, countries, catalogue, scenario.objective)
    small = set(too_small(scenario, countries, curves))  # as engine.prepare does
    countries = [c for c in countries if c not in small]
    curves = curves.only(countries)
    out["curves"] = time.perf_counter() - t
    t = time.perf_counter()
    model = build_model(model_inputs(scenario, scr.frame, countries, curves, catalogue))
    out["build (PuLP)"] = time.perf_counter() - t
    t = time.perf_counter()
    lp, _, _ = _highs_lp(model)
    with _stdout_silenced():
        highs = highspy.Highs()
    _highs_options(highs, scenario.solver)
    highs.passModel(lp)
    out["hand-over to HiGHS"] = time.perf_counter() - t
    t = time.perf_counter()
    highs.run()
    out["HiGHS MIP alone (reference)"] = time.perf_counter() - t
    t = time.perf_counter()
    info = solve(model, scenario.solver, solver)
    out[f"engine solve ({solver}): all steps"] = time.perf_counter() - t
    prep = Prepared(scenario, scr, catalogue, curves, countries, model, 0.0, [])
    t = time.perf_counter()
    collect(prep, info)
    out["collect results"] = time.perf_counter() - t
    out["columns"] = float(len(model.variables))
    out["rows"] = float(len(model.problem.constraints()))
    out["countries in the model"] = float(len(countries))
    out["objective"] = info.objective or float("nan")
    return out


def machine_reference() -> float:
    """Seconds for a fixed pure-Python loop: this VM's speed varies by 2-4x from hour to hour, so
    every report carries it (about 0.2 s on a quiet machine)."""
    start = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cbc", action="store_true")
    args = parser.parse_args()

    print(f"machine reference (5M-step Python loop): {machine_reference():.2f} s")
    e2e = end_to_end(DEFAULT_SCENARIO, args.repeat)
    print(
        f"baseline end to end (tipfocus run, fresh process): median {statistics.median(e2e):.2f} s "
        f"over {args.repeat} (min {min(e2e):.2f}, max {max(e2e):.2f}); target < 2 s"
    )
    for name, path in (("baseline", DEFAULT_SCENARIO), ("stress", STRESS)):
        print(f"\n{name} by stage")
        for key, value in stages(path).items():
            unit = "" if key in ("columns", "rows", "countries in the model", "objective") else " s"
            print(f"  {key:<28} {value:>12,.3f}{unit}" if unit else f"  {key:<28} {value:>12,.0f}")
    stress_e2e = end_to_end(STRESS, 1)[0]
    print(f"\nstress end to end (tipfocus run, fresh process): {stress_e2e:.2f} s; target < 15 s")
    if not args.skip_cbc:
        t = time.perf_counter()
        print(
            f"\nbaseline with CBC: objective {stages(DEFAULT_SCENARIO, 'cbc')['objective']:,.3f}, "
            f"{time.perf_counter() - t:.1f} s in all"
        )


if __name__ == "__main__":
    main()
