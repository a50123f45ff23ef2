"""Benchmark the trade-off analyses against one cold `tipfocus run`, measured in the same run.

    python benchmarks/bench_tradeoffs.py [--repeat 3] [--scenario FILE]

Targets (issue 11), each as a ratio to the median wall time of a cold `tipfocus run --no-tradeoffs`
(a fresh process, the baseline):
- a 41-point budget frontier (`tipfocus frontier --vary budget.total_usd=150M:350M:5M`): at most 8x;
- the price-of-rules table, i.e. what `tipfocus run --tradeoffs` adds over a plain run: at most 3x.
Every figure is wall time in a fresh process; this machine's speed varies by 2-4x from hour to
hour, so compare the ratios, measured minutes apart, rather than the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from optimizer.scenario import DEFAULT_SCENARIO

EXE = Path(sys.executable).with_name("tipfocus")
FRONTIER = "budget.total_usd=150M:350M:5M"  # 41 points around the baseline's $250M


def wall(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([str(EXE), *args, "--out", f"{tmp}/out"], check=True, capture_output=True)
        return time.perf_counter() - start


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
    base = statistics.median(cold)
    prices = statistics.median(full) - base
    sweep = statistics.median(frontier)
    print(
        f"cold run (--no-tradeoffs)      {base:7.2f} s   runs: {', '.join(f'{t:.2f}' for t in cold)}"
    )
    print(
        f"run with trade-offs            {statistics.median(full):7.2f} s   runs: {', '.join(f'{t:.2f}' for t in full)}"
    )
    print(
        f"  trade-offs added             {prices:7.2f} s   {prices / base:5.2f}x cold (target <= 3x)"
    )
    print(
        f"41-point budget frontier       {sweep:7.2f} s   {sweep / base:5.2f}x cold (target <= 8x)   runs: {', '.join(f'{t:.2f}' for t in frontier)}"
    )


if __name__ == "__main__":
    main()
