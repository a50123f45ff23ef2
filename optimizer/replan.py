"""Re-plan a compact from actuals: fix the years already passed, learn from them, re-optimise the rest.

Actuals (``iso3, component, year, spend_usd, outcome``) give what was spent and achieved in each
(country, component, year) already passed; a (country, component, year) of those years that is not
listed had no spend. The re-plan

1. fixes the past: each spend column of a passed year is bounded to the actual spend, filled
   segment by segment (as the optimiser itself fills a concave curve), to within a dollar
   (``WITHIN_USD``: actuals copied from allocation.csv are the exact plan rounded to the dollar,
   and rules the plan meets exactly, such as a compact at its maximum with binding ramps, would
   otherwise be broken by the rounding);
2. updates effectiveness by a bounded rule: for each (country, component) with spend in the past,
   ``ratio = actual outputs / outputs the plan's curve projects for the actual spend`` over the
   passed years, clipped to ``[0.5, 1.5]`` (``BOUNDS``; one or two years of results are weak
   evidence, so no curve more than halves or gains half again), and taken as 1 when it is within
   ``NOISE`` of 1 (outcomes.csv keeps 4 significant figures, so a smaller gap is no evidence).
   Every slope of that curve is multiplied by the ratio (the saturation level moves with it);
3. re-optimises the remaining years under the same rules, with the budget that is left (the
   budget rows count the fixed past spend);
4. reports, per (country, component, year), the plan, the re-plan and the change (changes.csv).

With actuals equal to the plan every ratio is 1 and the past is the plan's, so the re-plan is
the plan again (tests/test_replan.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.compact_tables import targets_table
from optimizer.engine import Prepared, collect
from optimizer.errors import InfeasibleError, InputError, SolverError, setting
from optimizer.impact import Curves
from optimizer.model import build_model
from optimizer.result import Result
from optimizer.scenario import usd
from optimizer.solve import Status, solve
from optimizer.units import UNIT

ACTUALS_COLUMNS = ["iso3", "component", "year", "spend_usd", "outcome"]
CHANGE_COLUMNS = [
    "iso3",
    "component",
    "year",
    "phase",
    "planned_usd",
    "replanned_usd",
    "change_usd",
]
BOUNDS = (0.5, 1.5)
NOISE = 5e-4
WITHIN_USD = 1.0  # past spend is fixed to the dollar: allocation.csv is the exact plan rounded
KEY = ["iso3", "component", "year"]


def template(plan: Result, through: int | None = None) -> pd.DataFrame:
    """An actuals file to fill in: the plan's spend and projected outputs for the years up to
    ``through`` (default: the first year)."""
    through = plan.summary.years[0] if through is None else through
    alloc = plan.allocation[plan.allocation["year"] <= through]
    outcome = plan.outcomes.set_index(KEY)["outcome"]
    frame = alloc[KEY].assign(spend_usd=alloc["amount_usd"].to_numpy())
    frame["outcome"] = outcome.reindex(pd.MultiIndex.from_frame(alloc[KEY])).fillna(0.0).to_numpy()
    return frame[ACTUALS_COLUMNS].reset_index(drop=True)


def read_actuals(path: Path) -> pd.DataFrame:
    """The actuals file, with the columns and types checked (the values are checked against the
    run by ``check_actuals``)."""
    try:
        frame = pd.read_csv(path, dtype={"iso3": str, "component": str}, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(str(path), f"cannot read it as CSV ({exc})") from None
    missing = [c for c in ACTUALS_COLUMNS if c not in frame]
    if missing:
        raise InputError(
            str(path),
            f"lacks the column(s) {', '.join(missing)}; the columns are {', '.join(ACTUALS_COLUMNS)} "
            f"(replan with {setting('template')} writes a file to fill in)",
        )
    problems = []
    for col in ("year", "spend_usd", "outcome"):
        numbers = pd.to_numeric(frame[col], errors="coerce")
        for row in np.flatnonzero(numbers.isna() | ~np.isfinite(numbers)):
            problems.append(f"row {row + 2}, {col}: {frame[col].iloc[row]!r} is not a number")
        frame[col] = numbers
    if problems:
        raise InputError(str(path), problems)
    frame["year"] = frame["year"].astype(int)
    return frame[ACTUALS_COLUMNS]


def check_actuals(actuals: pd.DataFrame, prep: Prepared, path: Path, today: int) -> int:
    """Every bad row named with its numbers; returns the last year passed (the latest listed)."""
    years = prep.scenario.years
    columns = prep.model.columns
    capacity = columns.groupby(["iso3", "component"])["width_usd"].sum()
    problems = []
    for i, row in enumerate(actuals.itertuples(index=False), start=2):
        where = f"row {i} ({row.iso3}, {row.component}, {row.year})"
        if row.iso3 in prep.scenario.selection.lock_out:
            problems.append(
                f"{where}: {row.iso3} is locked out of the run "
                f"({setting('selection.lock_out')}); take it off the list or drop the row"
            )
        elif row.iso3 not in prep.countries:
            problems.append(f"{where}: {row.iso3} is not a candidate country of the run")
        elif row.component not in prep.catalogue.components:
            problems.append(f"{where}: {row.component} is not a component of the run's catalogue")
        elif (row.iso3, row.component) not in capacity.index:
            problems.append(
                f"{where}: the run has no {row.component} in {row.iso3} (sector gating)"
            )
        elif row.spend_usd > capacity[(row.iso3, row.component)] + 1.0:
            most = usd(capacity[(row.iso3, row.component)])
            problems.append(
                f"{where}: spend {usd(row.spend_usd)} is above the {most} a year the model lets "
                "this component absorb (its curve is saturated past it)"
            )
        if row.year not in years:
            problems.append(
                f"{where}: {row.year} is not a year of the run ({years[0]}-{years[-1]})"
            )
        elif row.year > today:
            problems.append(f"{where}: {row.year} has not passed yet (it is {today})")
        if row.spend_usd < 0:
            problems.append(f"{where}: spend_usd is {row.spend_usd:g}, below 0")
        if row.outcome < 0:
            problems.append(f"{where}: outcome is {row.outcome:g}, below 0")
        elif row.outcome > 0 and row.spend_usd <= 0:
            problems.append(f"{where}: outcome {row.outcome:g} without spend; give the spend")
    twice = actuals[actuals.duplicated(KEY, keep=False)]
    for key in sorted({tuple(k) for k in twice[KEY].itertuples(index=False)}):
        problems.append(f"{key[0]}, {key[1]}, {key[2]}: listed more than once; list it once")
    if actuals.empty:
        problems.append("no rows: give the actuals of at least the first year")
    if problems:
        raise InputError(str(path), problems)
    through = int(actuals["year"].max())
    if through >= years[-1]:
        raise InputError(
            str(path),
            f"gives actuals up to {through}, the compact's last year: nothing is left to re-plan",
        )
    return through


def effectiveness(actuals: pd.DataFrame, curves: Curves) -> pd.Series:
    """Ratio of actual to projected outputs per (iso3, component) with past spend (module doc)."""
    spent = actuals[actuals["spend_usd"] > 0]
    if spent.empty:
        return pd.Series(dtype=float)
    projected = []
    for _year, part in spent.groupby("year"):
        amount = part.set_index(["iso3", "component"])["spend_usd"]
        projected.append(curves.outcomes(amount))
    expected = pd.concat(projected).groupby(level=[0, 1]).sum()
    actual = spent.groupby(["iso3", "component"])["outcome"].sum()
    ratio = (actual / expected.reindex(actual.index)).fillna(1.0).clip(*BOUNDS)
    return ratio.where((ratio - 1.0).abs() > NOISE, 1.0)


def scaled(curves: Curves, ratio: pd.Series) -> Curves:
    """The curves with each (iso3, component)'s slopes multiplied by its ratio."""
    seg = curves.segments.copy()
    key = pd.MultiIndex.from_frame(seg[["iso3", "component"]])
    factor = ratio.reindex(key).fillna(1.0).to_numpy()
    seg["slope"] = seg["slope"] * factor
    seg["value_slope"] = seg["value_slope"] * factor
    return Curves(params=curves.params, segments=seg)


def fix_past(prep: Prepared, actuals: pd.DataFrame, through: int) -> None:
    """Bound every spend column of a passed year to the actual spend, segment by segment."""
    spend = actuals.set_index(KEY)["spend_usd"]
    cols = prep.model.columns
    past = cols[cols["year"] <= through]
    band = WITHIN_USD / UNIT
    for (iso, comp, year), group in past.groupby(KEY, sort=False):
        left = float(spend.get((iso, comp, year), 0.0)) / UNIT
        last = None
        for var, width in zip(group["var"], group["width_usd"] / UNIT, strict=True):
            take = min(left, width)
            var.lowBound = var.upBound = take
            left -= take
            if take > 0:
                last = (var, width)
        if last is not None:  # whole-dollar actuals of an exact plan: a dollar either way
            var, width = last
            var.lowBound, var.upBound = (
                max(0.0, var.lowBound - band),
                min(width, var.upBound + band),
            )


def changes(plan: pd.DataFrame, replanned: pd.DataFrame, through: int) -> pd.DataFrame:
    """Plan against re-plan per (iso3, component, year), every row either has money in."""
    a = plan.set_index(KEY)["amount_usd"].rename("planned_usd")
    b = replanned.set_index(KEY)["amount_usd"].rename("replanned_usd")
    frame = pd.concat([a, b], axis=1).fillna(0.0).sort_index().reset_index()
    frame["change_usd"] = frame["replanned_usd"] - frame["planned_usd"]
    frame["phase"] = np.where(frame["year"] <= through, "actual", "replanned")
    return frame[CHANGE_COLUMNS]


def _actual_outcomes(outcomes: pd.DataFrame, actuals: pd.DataFrame, through: int) -> pd.DataFrame:
    """The passed years' outcomes as reported, not as projected (impact scaled with them)."""
    out = outcomes.copy()
    reported = actuals.set_index(KEY)["outcome"]
    past = (out["year"] <= through).to_numpy()
    key = pd.MultiIndex.from_frame(out.loc[past, KEY])
    new = reported.reindex(key).fillna(0.0).to_numpy()
    old = out.loc[past, "outcome"].to_numpy()
    out.loc[past, "impact"] = np.where(
        old > 0, out.loc[past, "impact"] * new / np.where(old > 0, old, 1), 0.0
    )
    out.loc[past, "outcome"] = new
    return out


def replan(
    prep: Prepared,
    plan: Result,
    actuals: pd.DataFrame,
    path: Path,
    solver: str | None = None,
    today: int | None = None,
) -> Result:
    """The re-planned Result (with ``changes``) for a prepared scenario, its plan and actuals."""
    today = dt.date.today().year if today is None else today
    through = check_actuals(actuals, prep, path, today)
    ratio = effectiveness(actuals, prep.curves)
    curves = scaled(prep.curves, ratio)
    scenario = prep.scenario
    model = build_model(prep.model.inputs.with_curves(curves))
    prep = replace(prep, curves=curves, model=model)
    fix_past(prep, actuals, through)
    name = solver or scenario.solver.name
    info = solve(model, scenario.solver, name)
    if not info.status.has_solution:
        if info.status == Status.INFEASIBLE:
            raise InfeasibleError(
                f"re-plan of {scenario.name}",
                "the actual spend up to "
                f"{through} leaves no way to keep the scenario's rules in the remaining years "
                "(compact sizes, ramps, pillar floors and the budget count the past spend); relax "
                f"them with {setting('overrides')}, or check the actuals",
            )
        raise SolverError(name, f"no re-plan found (status {info.status})")
    result = collect(prep, info)
    moved = ratio[ratio != 1.0]
    notes = [
        f"re-plan from actuals up to {through}: {len(moved)} country-components' effectiveness "
        "updated (actual / projected outputs, clipped to "
        f"[{BOUNDS[0]}, {BOUNDS[1]}])"
        + (
            ": " + ", ".join(f"{i} {k} x{r:.2f}" for (i, k), r in moved.items())
            if len(moved)
            else ""
        )
    ]
    summary = replace(result.summary, notes=[*result.summary.notes, *notes])
    outcomes = _actual_outcomes(result.outcomes, actuals, through)
    return replace(
        result,
        summary=summary,
        outcomes=outcomes,
        targets=targets_table(outcomes),
        changes=changes(plan.allocation, result.allocation, through),
    )


def changes_text(frame: pd.DataFrame) -> str:
    """The re-plan against the plan by country, for the terminal."""
    if frame.empty:
        return "No money in the plan or the re-plan."
    by = frame.groupby(["iso3", "phase"])[["planned_usd", "replanned_usd", "change_usd"]].sum()
    lines = ["Changes against the plan (actual years, then re-planned years):"]
    for (iso, phase), row in by.iterrows():
        lines.append(
            f"  {iso} {phase:<9} plan {usd(row['planned_usd']):>9}  re-plan "
            f"{usd(row['replanned_usd']):>9}  change {usd(row['change_usd']):>9}"
        )
    return "\n".join(lines)
