"""Monte Carlo over the impact model's ranges: draws through any ``concurrent.futures`` executor.

Each worker (a process, or a Dask worker thread or process) prepares the scenario's model once and
keeps it (one per thread), then re-solves it for every draw it is sent (``resolve.resolve``). A
draw's values come from its own seed (``draws.draw_seeds``), so results are the same for a given
seed whatever the number of workers and wherever they run; they are put in draw order.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import pandas as pd

from optimizer.engine import Prepared, prepare
from optimizer.errors import InfeasibleError, SolverError
from optimizer.scenario import Scenario, resolved_toml
from optimizer.solve import solve
from optimizer.uncertainty.draws import Draw, at_value, draw_seeds, ranges, sample
from optimizer.uncertainty.resolve import DrawOutcome, model_spend, resolve

MAX_DRAWS = 100_000


@dataclass(frozen=True)
class Study:
    """Everything a worker needs, picklable: the scenario, the ranges and the mode allocation."""

    scenario: Scenario
    table: pd.DataFrame  # draws.ranges
    mode_spend: pd.DataFrame  # resolve.model_spend of the deterministic optimum
    mode_impact: float
    mode_selected: tuple[str, ...]
    countries: tuple[str, ...]

    @property
    def key(self) -> str:
        return resolved_toml(self.scenario) + self.table.to_csv()


_local = threading.local()
# highspy keeps its solve locks on the Highs class, so one process runs one interruptible solve at
# a time: worker threads of one process (a Dask worker with several threads) take turns. Use
# worker processes with one thread each (dask-worker --nthreads 1) to solve in parallel.
_SOLVING = threading.Lock()


def _prepared(study: Study, preparer: Callable[[Scenario], Prepared]) -> Prepared:
    """This thread's prepared model of ``study``'s scenario, built on first use."""
    if getattr(_local, "key", None) != study.key:
        _local.prep = preparer(study.scenario)
        _local.key = study.key
    return _local.prep


def run_draw(
    study: Study, index: int, seed: int, preparer: Callable[[Scenario], Prepared] = prepare
) -> DrawOutcome:
    """One draw, solved on this worker's model (the task sent to an executor)."""
    prep = _prepared(study, preparer)
    section = study.scenario.uncertainty
    draw = sample(study.table, list(study.countries), seed, section.distribution, section.shared)
    with _SOLVING:
        return resolve(prep, draw, index, study.mode_spend)


def run_point(
    study: Study,
    index: int,
    kind: str,
    key: str,
    value: float,
    preparer: Callable[[Scenario], Prepared] = prepare,
) -> DrawOutcome:
    """One assumption at ``value`` (every country), the rest nominal: a sensitivity task.
    ``kind`` is a kind of ``draws.ranges`` or "discount_rate"."""
    prep = _prepared(study, preparer)
    if kind == "discount_rate":
        draw, rate = Draw(seed=0), value
    else:
        draw, rate = at_value(kind, key, value), None
    with _SOLVING:
        return resolve(prep, draw, index, study.mode_spend, discount_rate=rate)


def study_of(prep: Prepared) -> Study:
    """Solve the scenario as given (the mode allocation) and pack the study."""
    from optimizer.uncertainty.resolve import impact_of

    info = solve(prep.model, prep.scenario.solver)
    if info.status.name == "INFEASIBLE":
        raise InfeasibleError(
            f"scenario {prep.scenario.name} is infeasible at its mode values",
            ["run `tipfocus run` on it to see which rules have to give"],
        )
    if not info.status.has_solution:
        raise SolverError(info.solver, f"no allocation at the mode values (status {info.status})")
    spend = model_spend(prep.model, info)
    selected = tuple(info.chosen(prep.model.select))
    return Study(
        scenario=prep.scenario,
        table=ranges(prep.catalogue, prep.scenario),
        mode_spend=spend,
        mode_impact=impact_of(spend, prep.curves, prep.scenario, prep.catalogue),
        mode_selected=selected,
        countries=tuple(prep.countries),
    )


def _ignore_interrupt() -> None:
    """Worker processes leave Ctrl-C to the parent, which keeps the finished draws."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_executor(workers: int) -> Executor:
    return ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupt)


@dataclass
class Finished:
    outcomes: list[DrawOutcome]
    requested: int
    interrupted: bool = False


def run_draws(
    study: Study,
    draws: int,
    seed: int,
    executor: Executor,
    tick: Callable[[], None] = lambda: None,
    preparer: Callable[[Scenario], Prepared] = prepare,
) -> Finished:
    """Send every draw to ``executor``; on Ctrl-C keep the draws that finished."""
    seeds = draw_seeds(seed, draws)
    futures = [executor.submit(run_draw, study, i, s, preparer) for i, s in enumerate(seeds)]
    done: list[DrawOutcome] = []
    interrupted = False
    try:
        for future in as_completed(futures):
            done.append(future.result())
            tick()
    except KeyboardInterrupt:
        interrupted = True
        for future in futures:
            future.cancel()
        for future in futures:  # a draw that finished while we stopped still counts
            if future.done() and not future.cancelled():
                with contextlib.suppress(Exception):
                    outcome = future.result()
                    if all(o.index != outcome.index for o in done):
                        done.append(outcome)
    return Finished(sorted(done, key=lambda o: o.index), draws, interrupted)
