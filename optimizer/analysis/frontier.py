"""Frontiers: solve the scenario at every value of one numeric key and tabulate the optimum.

Keys that are a right-hand side of the built model (the budget, the yearly cap, the focus-country
count) are changed in place on one warm HiGHS copy; any other key changes the model's structure
or coefficients, so each point is loaded, screened and built again. Both go through
``Resolver.solve``. A point the rules cannot meet is a row with its status, not an error.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.analysis.pool import WORKERS
from optimizer.analysis.resolve import Point, Resolver
from optimizer.errors import InfeasibleError, InputError, ScenarioError, setting
from optimizer.model import UNIT, AllocationModel
from optimizer.scenario import Scenario, load_scenario, parse_money

MAX_POINTS = 500
FRONTIER_COLUMNS = [
    "value",
    "status",
    "objective",
    "budget_used_usd",
    "countries",
    "marginal_return",
    "knee",
    "note",
]

# key -> (rows of the built model it is the right-hand side of, which bound, model units per unit)
IN_PLACE: dict[str, tuple[Callable[[AllocationModel], list[str]], str, float]] = {
    "budget.total_usd": (lambda m: m.families.get("budget", []), "upper", UNIT),
    "budget.annual_cap_usd": (lambda m: m.families.get("annual_cap", []), "upper", UNIT),
    "selection.max_countries": (
        lambda m: [r for r in m.families.get("country_count", []) if r == "countries_max"],
        "upper",
        1.0,
    ),
    "selection.min_countries": (
        lambda m: [r for r in m.families.get("country_count", []) if r == "countries_min"],
        "lower",
        1.0,
    ),
}


@dataclass(frozen=True)
class Sweep:
    key: str
    values: list[float]
    whole: bool  # the key takes whole numbers

    def override(self, value: float) -> str:
        return f"{self.key}={round(value) if self.whole else repr(float(value))}"


def _lookup(scenario: Scenario, key: str):
    """The value at a dotted key; None if it is unset or there is no such key."""
    value = scenario
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    return value


def parse_sweep(text: str, scenario_path: Path | None, overrides: list[str] | None = None) -> Sweep:
    """``KEY=START:STOP:STEP`` (money as in scenarios: ``150M``), START and STOP included."""
    key, _, spec = text.partition("=")
    key, parts = key.strip(), spec.split(":")
    if not key or len(parts) != 3:
        raise InputError(
            setting("vary"),
            f"{text!r}: write KEY=START:STOP:STEP, e.g. budget.total_usd=150M:350M:5M",
        )
    numbers = []
    for name, part in zip(("START", "STOP", "STEP"), parts, strict=True):
        try:
            numbers.append(parse_money(part.strip()))
        except ValueError as exc:
            raise InputError(setting("vary"), f"{key} {name}: {exc}") from None
    start, stop, step = numbers
    if step <= 0:
        raise InputError(
            setting("vary"),
            f"{key}: STEP must be above 0 (got {parts[2].strip()!r}); the range is empty",
        )
    if start > stop:
        raise InputError(
            setting("vary"),
            f"{key}: START {parts[0].strip()} is above STOP {parts[1].strip()}; the range is reversed",
        )
    count = math.floor((stop - start) / step * (1 + 1e-12) + 1e-9) + 1
    last = start + (count - 1) * step
    extra = 1 if stop - last > 1e-9 * max(1.0, abs(stop)) else 0
    if count + extra > MAX_POINTS:
        raise InputError(
            setting("vary"),
            f"{key}: {count + extra} points, more than {MAX_POINTS}; use a larger STEP",
        )
    values = [start + i * step for i in range(count)] + ([stop] if extra else [])
    current = _lookup(load_scenario(scenario_path, overrides), key)
    if (
        current is None
    ):  # not set (an optional value, a new dict key) or no such key: ask the schema
        current = _lookup(
            load_scenario(scenario_path, [*(overrides or []), f"{key}={start!r}"]), key
        )
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise InputError(
            setting("vary"),
            f"{key} is not a numeric scenario key; sweep a number such as budget.total_usd",
        )
    whole = isinstance(current, int)
    if whole and any(abs(v - round(v)) > 1e-9 for v in values):
        raise InputError(
            setting("vary"), f"{key} takes whole numbers; use whole START, STOP and STEP"
        )
    return Sweep(key=key, values=values, whole=whole)


def _row(value: float, point: Point | None, note: str = "") -> dict:
    ok = point is not None and point.ok
    return {
        "value": value,
        "status": str(point.status) if point is not None else "invalid",
        "objective": point.objective if ok else None,
        "budget_used_usd": round(point.spend_usd, 0) if ok else None,
        "countries": ";".join(point.selected) if ok else "",
        "note": note,
    }


def solve_points(
    sweep: Sweep,
    scenario_path: Path | None,
    overrides: list[str] | None = None,
    tick: Callable[[], None] | None = None,
    workers: int = WORKERS,
) -> tuple[pd.DataFrame, bool]:
    """Every point of ``sweep``: (the frontier table in the sweep's order, whether it was
    interrupted). Ctrl-C stops between or during solves and keeps the points already solved.

    Once a point has left a model whose right-hand side the key is, the rest of the sweep is cut
    into ``workers`` runs of neighbouring values, each solved in place on its own HiGHS copy
    (``Resolver.clone``) in a thread, each point starting from the one before it."""
    overrides = list(overrides or [])
    rows: dict[int, dict] = {}
    warm: list = []  # [resolver, last point]: the model whose right-hand side later points change
    interrupted = False
    try:
        for i, value in enumerate(sweep.values):
            if warm and workers > 1 and len(sweep.values) - i > 1:
                _in_threads(sweep, i, scenario_path, overrides, warm, rows, tick, workers)
                break
            rows[i] = _solve_point(sweep, value, scenario_path, overrides, warm)
            if tick:
                tick()
    except KeyboardInterrupt:
        interrupted = True
    columns = [c for c in FRONTIER_COLUMNS if c not in ("marginal_return", "knee")]
    return finish(pd.DataFrame([rows[i] for i in sorted(rows)], columns=columns)), interrupted


def _in_threads(sweep, first, path, overrides, warm, rows, tick, workers) -> None:
    """Points ``first`` on, in ``workers`` runs on the warm resolver and its clones; rows land in
    ``rows`` (index -> row) and ``tick`` runs in this thread as each arrives."""
    resolver, last = warm
    resolvers = [resolver] + [resolver.clone() for _ in range(workers - 1)]
    indices = list(range(first, len(sweep.values)))
    runs = [list(chunk) for chunk in np.array_split(indices, len(resolvers)) if len(chunk)]
    arrived: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def run(on: Resolver, chunk: list[int]) -> None:
        mine = [on, last]  # every run starts from the last point solved before the split
        try:
            for i in chunk:
                row = _solve_point(sweep, sweep.values[i], path, overrides, mine)
                if stop.is_set():
                    return  # the solve was cancelled: not a point
                arrived.put((i, row))
        finally:
            arrived.put(None)

    threads = [
        threading.Thread(target=run, args=pair, daemon=True)
        for pair in zip(resolvers, runs, strict=False)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            try:
                item = arrived.get(timeout=0.1)  # a timeout, so that Ctrl-C gets through
            except queue.Empty:
                continue
            if item is None:
                running -= 1
                continue
            rows[item[0]] = item[1]
            if tick:
                tick()
    finally:
        stop.set()
        for on in resolvers:
            on.session.cancel()
        for thread in threads:
            thread.join()


def _solve_point(
    sweep: Sweep, value: float, path: Path | None, overrides: list[str], warm: list
) -> dict:
    from optimizer.engine import prepare  # the engine imports analyses: import it late

    try:
        scenario = load_scenario(path, [*overrides, sweep.override(value)])
    except ScenarioError as exc:  # e.g. a count below the minimum: a row, not a failed sweep
        return _row(value, None, "; ".join(exc.problems))
    in_place = IN_PLACE.get(sweep.key)
    if in_place and warm:
        rows_of, side, scale = in_place
        resolver, last = warm
        change = resolver.set_rows_upper if side == "upper" else resolver.set_rows_lower
        change(rows_of(resolver.model), value / scale)
        # the previous optimum starts the search when it is still feasible (a budget or a count
        # that grows: always; the resolver checks it)
        point = resolver.solve(start=last.values if last.ok else None)
        warm[1] = point if point.ok else last
        return _row(value, point)
    try:
        prep = prepare(scenario)
    except InfeasibleError as exc:
        return {**_row(value, None, "; ".join(exc.problems)), "status": "infeasible"}
    fresh = Resolver(prep.model, scenario.solver)
    point = fresh.solve()
    if in_place and in_place[0](prep.model):
        warm[:] = [fresh, point]
    return _row(value, point)


def finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the marginal return per unit of the swept key (from the previous solved point) and the
    knee: the solved point farthest above the straight line from the first to the last."""
    frame = frame.copy()
    objective = pd.to_numeric(frame["objective"], errors="coerce")
    value = frame["value"].astype(float)
    solved = objective.notna()
    marginal = pd.Series(np.nan, index=frame.index)
    previous = None
    for i in frame.index[solved]:
        if previous is not None and value[i] != value[previous]:
            marginal[i] = (objective[i] - objective[previous]) / (value[i] - value[previous])
        previous = i
    frame["marginal_return"] = marginal
    frame["knee"] = False
    if solved.sum() >= 3:
        x, y = value[solved], objective[solved]
        span_x, span_y = x.max() - x.min(), y.max() - y.min()
        if span_x > 0 and span_y > 0:
            lift = (y - y.iloc[0]) / span_y - (x - x.iloc[0]) / span_x
            if lift.max() > 1e-6:
                frame.loc[lift.idxmax(), "knee"] = True
    return frame[FRONTIER_COLUMNS]
