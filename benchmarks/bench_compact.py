"""Benchmark the compact features: the baseline with and without funding streams and co-financing,
and a re-plan of the baseline from its own first year.

    python benchmarks/bench_compact.py [--repeat 3]

Prints, per case, the model size (columns, rows) and the median build and solve seconds; the
re-plan line times prepare + re-plan (the plan's run folder read back, not timed).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from optimizer.engine import prepare, run
from optimizer.replan import replan, template
from optimizer.result import read_run, write_run
from optimizer.scenario import DEFAULT_SCENARIO, SCENARIO_DIR, load_scenario
from optimizer.solve import solve

COFINANCING = ["cofinancing.host_share=[0.1, 0.175, 0.25, 0.325, 0.4]"]
CASES = {
    "baseline": (DEFAULT_SCENARIO, []),
    "compact-streams": (SCENARIO_DIR / "compact-streams.toml", []),
    "baseline + co-financing": (DEFAULT_SCENARIO, COFINANCING),
}


def one(path: Path, overrides: list[str]) -> tuple[int, int, float, float]:
    sc = load_scenario(path, overrides)
    prep = prepare(sc)
    start = time.perf_counter()
    solve(prep.model, sc.solver)
    solved = time.perf_counter() - start
    rows = len(prep.model.problem.constraints())
    return len(prep.model.variables), rows, prep.build_seconds, solved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, (path, overrides) in CASES.items():
        runs = [one(path, overrides) for _ in range(args.repeat)]
        build = statistics.median(r[2] for r in runs)
        solved = statistics.median(r[3] for r in runs)
        print(
            f"{name:<26} {runs[0][0]:>6} cols {runs[0][1]:>6} rows  build {build:6.2f}s  solve {solved:6.2f}s"
        )
    sc = load_scenario(DEFAULT_SCENARIO)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_run(run(sc), Path(tmp) / "plan")
        plan = read_run(folder)
        actuals = template(plan)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            replan(prepare(sc), plan, actuals, Path("actuals.csv"))
            times.append(time.perf_counter() - start)
    print(f"{'re-plan of the baseline':<26} prepare + re-plan {statistics.median(times):6.2f}s")


if __name__ == "__main__":
    main()
