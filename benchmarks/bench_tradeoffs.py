"""Benchmark the trade-off analyses against one cold `tipfocus run`, measured in the same run.

    python benchmarks/bench_tradeoffs.py [--repeat 3] [--scenario FILE]

Targets (issue 11), each as a ratio to the median wall time of a cold `tipfocus run --no-tradeoffs`
(a fresh process, the baseline):
- a 41-point budget frontier (`tipfocus frontier --vary budget.total_usd=150M:350M:5M`): at most 8x;
- the price-of-rules table, i.e. what `tipfocus run --tradeoffs` adds over a plain run: at most 3x.
Every figure is wall time in a fresh process; this machine's speed varies by 2-4x from hour to
hour, so compare the ratios, measured minutes apart, rather than the seconds. The CPU seconds of
each process (its threads summed) are printed too: on a machine shared with other work the wall
ratios depend on how many cores were free, the CPU ratios do not (trade-offs and frontiers solve
on two HiGHS copies at once, so on two free cores their wall time is about half their CPU time).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from optimizer.scenario import DEFAULT_SCENARIO

EXE = Path(sys.executable).with_name("tipfocus")
FRONTIER = "budget.total_usd=150M:350M:5M"  # 41 points around the baseline's $250M


def wall(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(EXE), *args, "--out", f"{tmp}/out"], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    args = parser.parse_args()
    scenario = str(args.scenario)
    cold, full, frontier = [], [], []
    for _ in range(args.repeat):  # interleaved, so a slow minute hits every figure alike
        cold.append(wall(["run", scenario, "--no-tradeoffs"]))
        full.append(wall(["run", scenario, "--tradeoffs"]))
        frontier.append(wall(["frontier", scenario, "--vary", FRONTIER]))
    for i, kind in enumerate(("wall", "CPU")):
        base = statistics.median(t[i] for t in cold)
        with_tradeoffs = statistics.median(t[i] for t in full)
        added = with_tradeoffs - base
        sweep = statistics.median(t[i] for t in frontier)
        print(f"{kind} seconds")
        print(f"  cold run (--no-tradeoffs)    {base:7.2f} s   runs: {_runs(cold, i)}")
        print(f"  run with trade-offs          {with_tradeoffs:7.2f} s   runs: {_runs(full, i)}")
        print(
            f"    trade-offs added           {added:7.2f} s   {added / base:5.2f}x cold (target <= 3x)"
        )
        print(
            f"  41-point budget frontier     {sweep:7.2f} s   {sweep / base:5.2f}x cold "
            f"(target <= 8x)   runs: {_runs(frontier, i)}"
        )


def _runs(times: list[tuple[float, float]], i: int) -> str:
    return ", ".join(f"{t[i]:.2f}" for t in times)


if __name__ == "__main__":
    main()
