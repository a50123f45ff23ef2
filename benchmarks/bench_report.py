"""Benchmark the reports on saved runs: `show`, `compare` and `report` (every chart, the workbook).

    python benchmarks/bench_report.py [--repeat 5] [--runs DIR]

Targets (issue 12), wall time of a fresh `tipfocus` process: `report` of 4 saved runs with every
chart and the workbook under 10 s; `show` and `compare` of saved runs under 2 s each. The four
runs (baseline, austerity, spread, labor-focus) are solved once into --runs (default: a temporary
folder) and reused; solving is not timed. Also times the report's parts in this process.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENARIOS = ["baseline", "austerity", "spread", "labor-focus"]
EXE = Path(sys.executable).with_name("tipfocus")


def saved_runs(where: Path) -> list[Path]:
    folders = []
    for name in SCENARIOS:
        folder = where / name
        if not (folder / "summary.json").exists():
            scenario = HERE.parent / "scenarios" / f"{name}.toml"
            subprocess.run(
                [str(EXE), "run", str(scenario), "--out", str(folder), "--force"],
                check=True,
                capture_output=True,
            )
        folders.append(folder)
    return folders


def timed(args: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system, the figure a busy machine disturbs least)."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(EXE), *args], check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def parts(folders: list[Path], out: Path) -> dict[str, float]:
    """Seconds of each part of `report` in this process (imports already paid)."""
    from optimizer.report.excel import write_workbook
    from optimizer.report.html import render
    from optimizer.report.sources import load_runs

    seconds = {}
    t = time.perf_counter()
    runs = load_runs(folders)
    seconds["read 4 run folders"] = time.perf_counter() - t
    t = time.perf_counter()
    render(runs, with_charts=False)
    seconds["HTML without charts"] = time.perf_counter() - t
    t = time.perf_counter()
    render(runs)
    seconds["HTML with 18 charts"] = time.perf_counter() - t
    t = time.perf_counter()
    write_workbook(runs[0].result, out / "parts.xlsx", force=True)
    seconds["workbook"] = time.perf_counter() - t
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=Path, help="Folder for the saved runs (reused if there).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.runs or Path(tmp)
        folders = saved_runs(where)
        out = Path(tmp)
        names = [str(f) for f in folders]
        cases = {
            "show baseline": ["show", names[0]],
            "compare 4 runs": ["compare", *names],
            "report 4 runs + workbook": [
                "report",
                *names,
                "--out",
                f"{out}/r.html",
                "--xlsx",
                f"{out}/r.xlsx",
                "--force",
            ],
            "chart 4 runs, every kind (png)": ["chart", *names, "--out", f"{out}/c", "--force"],
        }
        print(f"seconds, fresh process, {args.repeat} runs: wall median (min-max), CPU median")
        for label, command in cases.items():
            t, cpu = timed(command, args.repeat)
            print(
                f"  {label:<32} {statistics.median(t):6.2f}  ({min(t):.2f}-{max(t):.2f})"
                f"  cpu {statistics.median(cpu):5.2f}"
            )
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("parts of report, this process, seconds")
        for label, seconds in parts(folders, out).items():
            print(f"  {label:<32} {seconds:6.2f}")


if __name__ == "__main__":
    main()
