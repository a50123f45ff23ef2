"""Benchmark the Monte Carlo: draws of the baseline, wall time, time per draw and peak memory.

    python benchmarks/bench_uncertainty.py [--draws 500] [--workers 2] [--seed 0]
    python benchmarks/bench_uncertainty.py --breakdown 10

Target (issue 13): 500 draws of the baseline in under 3 minutes on a 2-core machine, peak memory
under 2 GB. Prints the wall time, seconds per draw (wall and per worker), and the peak resident
memory of the parent and of the largest worker process. Each worker prepares the model once and
re-solves it for every draw; the first solve (the mode allocation) is timed apart.

``--breakdown N`` runs N draws in this process, one after another, and says where a draw's time
goes: drawing the values, the curves, the inputs on them, the model changed in place
(``set_inputs``), HiGHS's LPs (the outside relaxations, the final fixed-selection LP), HiGHS's
MIPs (on a set of countries, ``Session._restricted``; on the whole model only as a fallback), the
rest of the solve, scoring (``impact_of``) and sending the result back (pickling).
Each phase's own time, without the phases inside it.
"""

from __future__ import annotations

import argparse
import collections
import functools
import pickle
import resource
import sys
import time

from optimizer import changes as changes_module
from optimizer import session as session_module
from optimizer.engine import prepare
from optimizer.scenario import DEFAULT_SCENARIO, load_scenario
from optimizer.uncertainty import draws as draws_module
from optimizer.uncertainty import resolve as resolve_module
from optimizer.uncertainty.montecarlo import local_executor, run_draws, study_of


def _highs_phase(highs, is_mip: bool) -> str:
    return "HiGHS MIP" if is_mip else "HiGHS LPs"


# (module, function, phase or a function of the call's arguments): the phases of one draw
PHASES = [
    (draws_module, "sample", "draw the values"),
    (resolve_module, "draw_curves", "curves"),
    (resolve_module, "draw_inputs", "inputs on the curves"),
    (changes_module, "set_inputs", "model changed in place"),
    (session_module, "run", _highs_phase),
    (resolve_module, "solve", "rest of the solve"),
    (resolve_module, "model_spend", "read the solution"),
    (resolve_module, "impact_of", "scoring (impact_of, 2 a draw)"),
    (resolve_module, "resolve", "other"),
]


class PhaseClock:
    """Own time per phase: a wrapped call's time minus that of the wrapped calls inside it."""

    def __init__(self) -> None:
        self.own: dict[str, float] = collections.defaultdict(float)
        self.stack: list[float] = []  # time taken by nested phases, per open call
        self.mips = 0  # searches that ran HiGHS's MIP

    def wrap(self, module, name: str, phase) -> None:
        inner = getattr(module, name)

        @functools.wraps(inner)
        def timed(*args, **kwargs):
            self.stack.append(0.0)
            start = time.perf_counter()
            try:
                result = inner(*args, **kwargs)
            finally:
                took = time.perf_counter() - start
                nested = self.stack.pop()
                self.own[phase(*args) if callable(phase) else phase] += took - nested
                if self.stack:
                    self.stack[-1] += took
            if phase is _highs_phase and args[1]:
                self.mips += 1
            return result

        setattr(module, name, timed)


def breakdown(count: int, seed: int) -> None:
    scenario = load_scenario(DEFAULT_SCENARIO)
    prep = prepare(scenario)
    study = study_of(prep)
    clock = PhaseClock()
    for module, name, phase in PHASES:
        clock.wrap(module, name, phase)
    section = scenario.uncertainty
    sizes = []
    start = time.perf_counter()
    for index, draw_seed in enumerate(draws_module.draw_seeds(seed, count)):
        draw = draws_module.sample(
            study.table, list(study.countries), draw_seed, section.distribution, section.shared
        )
        outcome = resolve_module.resolve(prep, draw, index, study.mode_spend)
        began = time.perf_counter()
        sizes.append(len(pickle.dumps(outcome)))
        clock.own["send back (pickle)"] += time.perf_counter() - began
    total = time.perf_counter() - start
    print(f"{count} draws of the baseline in one process: {total / count:.2f} s a draw")
    print(f"HiGHS's MIP ran {clock.mips} times in {count} draws (restricted and whole)")
    for phase, seconds in sorted(clock.own.items(), key=lambda kv: -kv[1]):
        print(f"  {phase:36s} {seconds / count:7.3f} s a draw  {seconds / total:6.1%}")
    print(f"result sent back: {sum(sizes) / count:.0f} bytes a draw")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--breakdown", type=int, metavar="N", help="time the phases of N draws")
    args = parser.parse_args()
    if args.breakdown:
        breakdown(args.breakdown, args.seed)
        return
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
