"""Time ``load_tables`` + ``country_view`` on the bundled data (median of several runs).

Run: ``python benchmarks/bench_data.py [runs]``. Target: well under 1 s, aim < 150 ms.
"""

from __future__ import annotations

import statistics
import sys
import time

from optimizer.data import DATA_DIR, country_view, load_tables


def main(runs: int = 15) -> None:
    """Print median/min/max timings for loading, the view, and both together."""
    load_tables(DATA_DIR)  # warm imports and the file cache
    loads, views = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        tables = load_tables(DATA_DIR)
        t1 = time.perf_counter()
        country_view(tables, 2013)
        t2 = time.perf_counter()
        loads.append(t1 - t0)
        views.append(t2 - t1)
    totals = [a + b for a, b in zip(loads, views, strict=True)]
    for label, xs in (("load_tables", loads), ("country_view", views), ("total", totals)):
        print(
            f"{label:13s} median {1000 * statistics.median(xs):7.1f} ms   "
            f"min {1000 * min(xs):7.1f} ms   max {1000 * max(xs):7.1f} ms   ({runs} runs)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
