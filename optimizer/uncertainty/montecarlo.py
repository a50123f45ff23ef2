"""Monte Carlo over the impact model's ranges: draws through any ``concurrent.futures`` executor.

Each worker (a process, or a Dask worker thread or process) prepares the scenario's model once and
keeps it (one per thread), then re-solves it for every draw it is sent (``resolve.resolve``). Draws
go out in chunks (``chunk_size``): one task, one copy of the study sent, per chunk. A draw's values
come from its own seed (``draws.draw_seeds``), so results are the same for a given seed whatever
the number of workers, the chunking and wherever they run; they are put in draw order.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import pandas as pd

from optimizer.engine import Prepared, prepare
from optimizer.errors import InfeasibleError, SolverError
from optimizer.impact import Curves, build_curves
from optimizer.scenario import Scenario, resolved_toml
from optimizer.solve import blas_on_one_thread, solve
from optimizer.uncertainty.draws import KINDS, at_value, draw_seeds, ranges, sample
from optimizer.uncertainty.resolve import DrawOutcome, impact_of, model_spend, resolve

MAX_DRAWS = 100_000
MAX_CHUNK = 10  # draws per task at most: Ctrl-C loses at most this many a worker
TASKS_PER_CHUNKING = 40  # aim for about this many tasks, so that workers finish together


@dataclass(frozen=True)
class Study:
    """Everything a worker needs, picklable: the scenario, the ranges and the mode allocation."""

    scenario: Scenario
    table: pd.DataFrame  # draws.ranges
    mode_spend: pd.DataFrame  # resolve.model_spend of the deterministic optimum
    mode_impact: float
    mode_selected: tuple[str, ...]
    countries: tuple[str, ...]
    key: str  # the scenario and ranges as text: a worker's prepared model is for one key


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


def run_chunk(
    study: Study,
    draws: list[tuple[int, int]],
    preparer: Callable[[Scenario], Prepared] = prepare,
) -> list[DrawOutcome]:
    """Several (index, seed) draws in one task."""
    blas_on_one_thread()  # a worker's first task (a Dask worker's too: it is no fork of ours)
    return [run_draw(study, index, seed, preparer) for index, seed in draws]


def chunk_size(draws: int) -> int:
    """Draws per task: about ``TASKS_PER_CHUNKING`` tasks, 1 to ``MAX_CHUNK`` draws each."""
    return max(1, min(MAX_CHUNK, draws // TASKS_PER_CHUNKING))


def with_value(scenario: Scenario, section: str, key: str, value: float) -> Scenario:
    """``scenario`` with ``[section] key = value`` (an int where the key is an int)."""
    part = getattr(scenario, section)
    if isinstance(getattr(part, key), int):
        value = round(value)
    return scenario.model_copy(update={section: part.model_copy(update={key: value})})


def run_point(
    study: Study,
    index: int,
    kind: str,
    key: str,
    value: float,
    preparer: Callable[[Scenario], Prepared] = prepare,
) -> DrawOutcome:
    """One assumption at ``value``, the rest nominal: a sensitivity task. ``kind`` is a kind of
    ``draws.ranges`` (set for every country at once: the worker's model re-solved) or a scenario
    section, ``key`` one of its keys (the scenario changed and its model built anew)."""
    blas_on_one_thread()
    if kind not in KINDS:
        return _scenario_point(study, index, with_value(study.scenario, kind, key, value), preparer)
    prep = _prepared(study, preparer)
    with _SOLVING:
        return resolve(prep, at_value(kind, key, value), index, study.mode_spend)


def _scenario_point(
    study: Study, index: int, scenario: Scenario, preparer: Callable[[Scenario], Prepared]
) -> DrawOutcome:
    """The optimum of a changed scenario, and the mode allocation scored on its curves."""
    prep = preparer(scenario)
    with _SOLVING:
        info = solve(prep.model, scenario.solver)
    mode_impact = impact_of(
        study.mode_spend, curves_for(prep, study.mode_spend), scenario, prep.catalogue
    )
    if not info.status.has_solution:
        return DrawOutcome(index, 0, str(info.status), None, None, mode_impact, (), {})
    spend = model_spend(prep.model, info)
    by_pillar = spend.groupby(["iso3", "pillar"])["amount_usd"].sum()
    return DrawOutcome(
        index=index,
        seed=0,
        status=str(info.status),
        objective=info.objective,
        impact=impact_of(spend, prep.curves, scenario, prep.catalogue),
        mode_impact=mode_impact,
        selected=tuple(info.chosen(prep.model.select)),
        spend={key: float(v) for key, v in by_pillar.items() if v >= 1.0},
    )


def curves_for(prep: Prepared, spend: pd.DataFrame) -> Curves:
    """``prep``'s curves, with those of every eligible country ``spend`` funds that ``prep`` left
    out: an assumption (a smaller absorptive cap, say) can make a mode country too small for a
    compact, and the mode allocation's spend there is still scored, on its curves."""
    offered = set(prep.countries)
    missing = set(spend["iso3"]) - offered
    if not missing:
        return prep.curves
    countries = [c for c in prep.screen.eligible if c in missing or c in offered]
    return build_curves(prep.screen.frame, countries, prep.catalogue, prep.scenario.objective)


def study_of(prep: Prepared) -> Study:
    """Solve the scenario as given (the mode allocation) and pack the study."""
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
    table = ranges(prep.catalogue, prep.scenario)
    return Study(
        scenario=prep.scenario,
        table=table,
        mode_spend=spend,
        mode_impact=impact_of(spend, prep.curves, prep.scenario, prep.catalogue),
        mode_selected=selected,
        countries=tuple(prep.countries),
        key=resolved_toml(prep.scenario) + table.to_csv(),
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
    earlier: Iterable[DrawOutcome] = (),
) -> Finished:
    """Send every draw to ``executor`` in chunks of ``chunk_size``; on Ctrl-C keep the draws
    that finished. ``tick`` is called once per finished draw. ``earlier``: draws of this study
    that finished before (a study resumed), kept and not solved again; draw i has the same seed
    whatever the number of draws, so a study resumed gives what it would have given at once."""
    done: dict[int, DrawOutcome] = {o.index: o for o in earlier}
    items = [(i, s) for i, s in enumerate(draw_seeds(seed, draws)) if i not in done]
    size = chunk_size(len(items))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    futures = [executor.submit(run_chunk, study, chunk, preparer) for chunk in chunks]
    interrupted = False
    try:
        for future in as_completed(futures):
            for outcome in future.result():
                done[outcome.index] = outcome
                tick()
    except KeyboardInterrupt:
        interrupted = True
        for future in futures:
            future.cancel()
        for future in futures:  # a chunk that finished while we stopped still counts
            if future.done() and not future.cancelled():
                with contextlib.suppress(Exception):
                    done.update((o.index, o) for o in future.result())
    return Finished([done[i] for i in sorted(done)], draws, interrupted)
