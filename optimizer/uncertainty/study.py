"""A Monte Carlo study from end to end: mode solve, draws, tables, summary and charts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from optimizer.engine import Prepared
from optimizer.errors import InputError, setting
from optimizer.result import file_sha256
from optimizer.uncertainty import charts, summary
from optimizer.uncertainty.montecarlo import Finished, Study, run_draws, study_of
from optimizer.uncertainty.outputs import Resumed, figure


@dataclass
class StudyResult:
    study: Study
    finished: Finished
    tables: dict[str, pd.DataFrame]
    summary: dict
    figures: dict[str, Figure]


def monte_carlo(
    prep: Prepared,
    draws: int,
    seed: int,
    pool: Executor,
    tick: Callable[[], None] = lambda: None,
    preparer: Callable | None = None,
    resumed: Resumed | None = None,
) -> StudyResult:
    """Solve at the mode values, then ``draws`` draws through ``pool``; tables and charts.
    ``resumed``: an earlier study of the same fingerprint, whose finished draws are kept."""
    study = study_of(prep)
    printed = fingerprint(prep, study)
    earlier = []
    if resumed is not None:
        if printed != resumed.fingerprint:
            raise InputError(
                str(resumed.folder),
                f"was run on another scenario, {setting('overrides')}, data, catalogue or solver: "
                "its draws do not fit",
                hint=f"resume it with what it was run on, or give a new {setting('output')}",
            )
        earlier = resumed.outcomes
    options = {} if preparer is None else {"preparer": preparer}
    finished = run_draws(study, draws, seed, pool, tick, earlier=earlier, **options)
    return tabulate(prep, study, finished, seed, printed)


def fingerprint(prep: Prepared, study: Study) -> str:
    """What a study's draws depend on, hashed: the resolved scenario, the ranges, every input
    file's contents and the mode allocation. A study resumes only on the same fingerprint."""
    digest = hashlib.sha256(study.key.encode())
    for path in sorted(prep.inputs):
        if path.is_file():
            digest.update(file_sha256(path).encode())
    digest.update(repr((study.mode_impact, study.mode_selected)).encode())
    return digest.hexdigest()


def tabulate(
    prep: Prepared, study: Study, finished: Finished, seed: int, printed: str
) -> StudyResult:
    """The study's tables, summary (with ``printed``, its ``fingerprint``) and charts."""
    names = prep.screen.frame["name"].to_dict()
    countries = summary.country_table(finished, study, names)
    draws = summary.draws_table(finished)
    info = {"scenario": prep.scenario.name, "seed": seed, "fingerprint": printed}
    info |= {
        "distribution": prep.scenario.uncertainty.distribution,
        "shared": prep.scenario.uncertainty.shared,
    }
    info |= summary.impact_summary(finished, study)
    tables = {
        "uncertainty": countries,
        "uncertainty_pillars": summary.pillar_table(finished),
        "draws": draws,
        "ranges": study.table,
    }
    figures = {}
    if info["draws_solved"]:
        figures = {
            "impact_histogram": figure(charts.impact_histogram, draws, study.mode_impact),
            "selection_probability": figure(charts.selection_probability, countries, height=5.5),
            "allocation_ranges": figure(charts.allocation_ranges, countries, height=5.5),
        }
    return StudyResult(study, finished, tables, info, figures)
