"""Plain tables from finished draws: per country, per pillar, per draw, and the impact summary.

Percentiles are over the draws that found an allocation; a draw that is infeasible (or stopped
without one) is counted and listed, never averaged in. A country not chosen in a draw gets 0 there,
so its allocation P50 is 0 when it is chosen in fewer than half of the draws.

How far the study's own figures may be off because it ran N draws and not infinitely many (the
draws are independent): a selection probability carries its 95% Wilson score interval, a mean its
95% margin (Student's t: 2.26 standard errors at 10 draws, 1.98 at 100, 1.96 in the limit; none
with one draw). A planner reads whether N draws were enough: the interval of a country chosen in
half of 100 draws is 0.40 to 0.60, of 400 draws 0.45 to 0.55.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest, t

from optimizer.uncertainty.montecarlo import Finished, Study
from optimizer.uncertainty.resolve import DrawOutcome

QUANTILES = {"p10": 0.10, "p50": 0.50, "p90": 0.90}


def wilson_interval(successes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval of a proportion, ``successes`` of ``n`` independent draws (both
    ends in [0, 1], a proportion of 0 or 1 included): SciPy's ``binomtest(...).proportion_ci``.
    NaN without draws."""
    counts = np.asarray(successes, dtype=int)
    if n <= 0:
        return np.full(counts.shape, np.nan), np.full(counts.shape, np.nan)
    cis = [binomtest(int(k), n).proportion_ci(0.95, method="wilson") for k in counts]
    return np.array([ci.low for ci in cis]), np.array([ci.high for ci in cis])


def solved(finished: Finished) -> list[DrawOutcome]:
    return [o for o in finished.outcomes if o.impact is not None]


def draws_table(finished: Finished) -> pd.DataFrame:
    """One row per finished draw: draw, seed, status, objective, impact, mode_impact, regret, focus."""
    rows = [
        {
            "draw": o.index,
            "seed": o.seed,
            "status": o.status,
            "objective": o.objective,
            "impact": o.impact,
            "mode_impact": o.mode_impact,
            "regret": None if o.impact is None else o.impact - o.mode_impact,
            "focus_countries": ";".join(o.selected),
        }
        for o in finished.outcomes
    ]
    return pd.DataFrame(rows, columns=DRAW_COLUMNS)


DRAW_COLUMNS = [
    "draw",
    "seed",
    "status",
    "objective",
    "impact",
    "mode_impact",
    "regret",
    "focus_countries",
]


def _spend_matrix(outcomes: list[DrawOutcome], by_pillar: bool) -> pd.DataFrame:
    """US$ per draw (rows) and country, or (country, pillar) (columns)."""
    records = {}
    for o in outcomes:
        row: dict = {}
        for (iso, pillar), usd in o.spend.items():
            key = (iso, pillar) if by_pillar else iso
            row[key] = row.get(key, 0.0) + usd
        records[o.index] = row
    return pd.DataFrame.from_dict(records, orient="index").fillna(0.0)


def _quantiles(matrix: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({name: matrix.quantile(q, axis=0) for name, q in QUANTILES.items()}).rename(
        columns=lambda c: f"allocation_{c}_usd"
    )


def country_table(finished: Finished, study: Study, names: dict[str, str]) -> pd.DataFrame:
    """One row per eligible country: selection probability and allocation P10 / P50 / P90."""
    outcomes = solved(finished)
    countries = sorted(study.countries)
    frame = pd.DataFrame(index=pd.Index(countries, name="iso3"))
    frame["country"] = [names.get(c, c) for c in countries]
    count = pd.Series([c for o in outcomes for c in o.selected], dtype=object).value_counts()
    chosen = count.reindex(countries).fillna(0).to_numpy()
    frame["selection_probability"] = chosen / max(1, len(outcomes))
    low, high = wilson_interval(chosen, len(outcomes))
    frame["selection_probability_low95"], frame["selection_probability_high95"] = low, high
    frame["in_mode_allocation"] = [c in study.mode_selected for c in countries]
    matrix = _spend_matrix(outcomes, by_pillar=False).reindex(columns=countries).fillna(0.0)
    if len(matrix):
        frame = frame.join(_quantiles(matrix))
    else:
        for name in QUANTILES:
            frame[f"allocation_{name}_usd"] = np.nan
    return frame.reset_index().sort_values(
        ["selection_probability", "iso3"], ascending=[False, True], ignore_index=True
    )


def pillar_table(finished: Finished) -> pd.DataFrame:
    """One row per (country, pillar) that any draw funds: allocation P10 / P50 / P90."""
    matrix = _spend_matrix(solved(finished), by_pillar=True)
    if matrix.empty:
        return pd.DataFrame(columns=["iso3", "pillar", *(f"allocation_{q}_usd" for q in QUANTILES)])
    table = _quantiles(matrix)
    table.index = pd.MultiIndex.from_tuples(table.index, names=["iso3", "pillar"])
    return table.sort_index().reset_index()


def impact_summary(finished: Finished, study: Study) -> dict:
    """Impact distribution of the draws' optima, and the mode allocation's regret on them."""
    outcomes = solved(finished)
    statuses = pd.Series([o.status for o in finished.outcomes], dtype=object).value_counts()
    summary: dict = {
        "draws_requested": finished.requested,
        "draws_finished": len(finished.outcomes),
        "draws_solved": len(outcomes),
        "interrupted": finished.interrupted,
        "statuses": {str(k): int(v) for k, v in statuses.items()},
        "mode_impact": study.mode_impact,
        "mode_focus_countries": list(study.mode_selected),
    }
    if outcomes:
        impact = np.array([o.impact for o in outcomes])
        regret = impact - np.array([o.mode_impact for o in outcomes])
        mode = np.array([o.mode_impact for o in outcomes])
        summary["impact"] = _spread(impact)
        summary["mode_allocation_impact"] = _spread(mode)
        summary["regret"] = _spread(regret)
        summary["mean_focus_countries"] = float(np.mean([len(o.selected) for o in outcomes]))
    return summary


def mean_margin95(values: np.ndarray) -> float | None:
    """Half the width of the 95% confidence interval of the mean of ``values`` (independent
    draws): Student's t quantile times the standard error. None with fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    return float(t.ppf(0.975, n - 1) * np.std(values, ddof=1) / np.sqrt(n))


def _spread(values: np.ndarray) -> dict[str, float | None]:
    """Mean, its 95% margin (``mean_margin95``) and the percentiles."""
    return {
        "mean": float(np.mean(values)),
        "mean_margin95": mean_margin95(values),
        **{name: float(np.quantile(values, q)) for name, q in QUANTILES.items()},
    }
