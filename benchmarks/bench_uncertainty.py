"""Benchmark the Monte Carlo: draws of the baseline, wall time, time per draw and peak memory.

    python benchmarks/bench_uncertainty.py [--draws 500] [--workers 2] [--seed 0]

Target (issue 13): 500 draws of the baseline in under 3 minutes on a 2-core machine, peak memory
under 2 GB. Prints the wall time, seconds per draw (wall and per worker), and the peak resident
memory of the parent and of the largest worker process. Each worker prepares the model once and
re-solves it for every draw; the first solve (the mode allocation) is timed apart.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from optimizer.engine import prepare
from optimizer.scenario import DEFAULT_SCENARIO, load_scenario
from optimizer.uncertainty.montecarlo import local_executor, run_draws, study_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scenario = load_scenario(DEFAULT_SCENARIO)
    start = time.perf_counter()
    prep = prepare(scenario)
    prepared = time.perf_counter()
    study = study_of(prep)
    mode = time.perf_counter()
    with local_executor(args.workers) as pool:
        finished = run_draws(study, args.draws, args.seed, pool)
    end = time.perf_counter()
    solved = sum(o.impact is not None for o in finished.outcomes)
    wall = end - mode
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit
    print(f"baseline: prepare {prepared - start:.1f} s, mode solve {mode - prepared:.1f} s")
    print(
        f"{args.draws} draws ({solved} solved) on {args.workers} workers: {wall:.1f} s wall, "
        f"{wall / args.draws:.2f} s per draw, {wall * args.workers / args.draws:.2f} s per draw "
        "per worker"
    )
    print(f"peak memory: parent {parent / 1e6:.0f} MB, largest worker {child / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
