"""Benchmark re-solves on one model (issue 9): the baseline, in one process, median of ``--repeat``.

    python benchmarks/bench_resolve.py [--repeat 5] [--draws 20]

- cold run: prepare (tables, screening, curves, build) + solve + collect, from nothing;
- budget change: ``model.set_rhs("budget_total", ...)`` on the solved model, re-solve on its warm
  session, collect (the Result reports the new budget);
- objective change: a new draw of the curve parameters applied in place
  (``model.set_inputs``: widths, slopes, every coefficient that depends on them), re-solve,
  collect;
each in seconds and as a ratio to the cold run (targets: budget <= 1/3, objective <= 1/2).
Then the Monte Carlo path: ``--draws`` consecutive draws re-solved in place on one model and
session, against the same draws each on a model rebuilt from its inputs and solved cold.
Quote the ratios: machine speed varies between runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

from optimizer.engine import collect, prepare
from optimizer.model import UNIT, build_model
from optimizer.scenario import DEFAULT_SCENARIO, load_scenario
from optimizer.solve import Status, solve
from optimizer.uncertainty.draws import draw_seeds, ranges, sample
from optimizer.uncertainty.resolve import draw_inputs


def timed(step) -> tuple[float, object]:
    start = time.perf_counter()
    out = step()
    return time.perf_counter() - start, out


def cold(scenario):
    prep = prepare(scenario)
    info = solve(prep.model, scenario.solver)
    assert info.status == Status.OPTIMAL, info.status
    return prep, collect(prep, info)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args()
    scenario = load_scenario(DEFAULT_SCENARIO)

    cold_times = []
    for _ in range(args.repeat):
        seconds, (prep, _result) = timed(lambda: cold(scenario))
        cold_times.append(seconds)
    base = scenario.budget.total_usd

    def budget_change(total: float):
        prep.model.set_rhs("budget_total", total / UNIT)
        info = solve(prep.model, scenario.solver)
        out = collect(prep, info)
        assert out.summary.budget_usd == total
        return out

    rhs_times = [
        timed(lambda k=k: budget_change(base * (1.2 if k % 2 == 0 else 0.9)))[0]
        for k in range(args.repeat)
    ]
    prep.model.set_rhs("budget_total", base / UNIT)
    solve(prep.model, scenario.solver)

    table = ranges(prep.catalogue, scenario)
    section = scenario.uncertainty
    seeds = draw_seeds(11, max(args.repeat, args.draws))
    draws = [sample(table, prep.countries, s, section.distribution, section.shared) for s in seeds]

    def draw_change(draw):
        prep.model.set_inputs(draw_inputs(prep, draw))
        info = solve(prep.model, scenario.solver)
        return collect(prep, info)

    objective_times = [timed(lambda d=d: draw_change(d))[0] for d in draws[: args.repeat]]

    def in_place(draw):
        prep.model.set_inputs(draw_inputs(prep, draw))
        return solve(prep.model, scenario.solver).objective

    def rebuilt(draw):
        model = build_model(draw_inputs(prep, draw))
        return solve(model, scenario.solver).objective

    warm_total, warm_values = timed(lambda: [in_place(d) for d in draws[: args.draws]])
    cold_total, cold_values = timed(lambda: [rebuilt(d) for d in draws[: args.draws]])
    worst = max(abs(a - b) / abs(b) for a, b in zip(warm_values, cold_values, strict=True))

    c = statistics.median(cold_times)
    r = statistics.median(rhs_times)
    o = statistics.median(objective_times)
    print(f"baseline: {len(prep.model.variables):,} columns, median of {args.repeat}")
    print(f"cold run (prepare + solve + collect) {c:7.2f} s   1.00")
    print(f"re-solve after a budget change       {r:7.2f} s   {r / c:.2f}  (target <= 0.33)")
    print(f"re-solve after a new draw (objective) {o:6.2f} s   {o / c:.2f}  (target <= 0.50)")
    print(
        f"{args.draws} draws: in place {warm_total:.1f} s, rebuilt {cold_total:.1f} s "
        f"({warm_total / cold_total:.2f}); largest objective difference {worst:.1e} (relative)"
    )


if __name__ == "__main__":
    main()
