"""The pipeline in one place: load -> screen -> curves -> build -> solve -> Result.

``prepare`` does everything up to the built model, so analyses can change bounds, coefficients or
rules on ``Prepared.model`` and re-solve cheaply; ``run`` solves and packs the plain-data Result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.catalogue import Catalogue, load_catalogue
from optimizer.compact import check_streams
from optimizer.compact_tables import (
    cofinancing_table,
    money_by_stream,
    split_whole,
    targets_table,
    us_share_by_year,
)
from optimizer.data import load_tables
from optimizer.diagnose import (
    explain_infeasible,
    precheck,
    too_small,
    unspent_reason,
)
from optimizer.errors import InfeasibleError, SolverError, setting
from optimizer.focus import durable_factor
from optimizer.impact import Curves, build_curves
from optimizer.inputs import model_inputs
from optimizer.model import UNIT, AllocationModel, build_model
from optimizer.paths import DATA_DIR, DEFAULT_CATALOGUE
from optimizer.result import ALLOCATION_COLUMNS, OUTCOME_COLUMNS, Result, Summary, manifest
from optimizer.rounding import whole_dollars
from optimizer.rules import rule_rows
from optimizer.scenario import Scenario, resolved_toml, unit_warnings, usd
from optimizer.screening import Screen, screen
from optimizer.solve import Solution, Status, solve
from optimizer.tables import TABLES

UNSPENT_USD = 1_000.0  # less than this left over is not worth a warning


@dataclass
class Prepared:
    scenario: Scenario
    screen: Screen
    catalogue: Catalogue
    curves: Curves
    countries: list[str]
    model: AllocationModel
    build_seconds: float
    inputs: list[Path]
    notes: list[str] = field(default_factory=list)


def prepare(scenario: Scenario) -> Prepared:
    """Load, screen, build curves, check and build the model (no solve)."""
    start = time.perf_counter()
    data_dir = scenario.data.dir or DATA_DIR
    tables = load_tables(data_dir)
    scr = screen(tables, scenario.eligibility, scenario.data.reference_year)
    catalogue_path = scenario.data.catalogue or DEFAULT_CATALOGUE
    catalogue = load_catalogue(catalogue_path)
    # locked-out countries stay in the model, held at 0 by their lock_out rows (priced there)
    countries = list(scr.eligible)
    locked_out = set(scenario.selection.lock_out)
    curves = build_curves(scr.frame, countries, catalogue, scenario.objective)
    precheck(scenario, scr.frame, scr.eligible, curves, catalogue, names=tables.names)
    check_streams(scenario, catalogue, [c for c in countries if c not in locked_out])
    notes = []
    small = too_small(scenario, [c for c in countries if c not in locked_out], curves)
    if small:
        listed = ", ".join(f"{c} {usd(v)}" for c, v in small.items())
        notes.append(
            f"{len(small)} eligible countries can usefully absorb less than the minimum compact "
            f"({usd(scenario.selection.min_compact_usd)}) and cannot be focus countries: {listed}"
        )
        countries = [c for c in countries if c not in small]
        curves = curves.only(countries)
    model = build_model(model_inputs(scenario, scr.frame, countries, curves, catalogue))
    inputs = [*scenario.files, Path(catalogue_path)]
    inputs += [Path(data_dir) / schema.filename for schema in TABLES.values()]
    return Prepared(
        scenario=scenario,
        screen=scr,
        catalogue=catalogue,
        curves=curves,
        countries=countries,
        model=model,
        build_seconds=time.perf_counter() - start,
        inputs=inputs,
        notes=notes,
    )


def _quiet(stage: str) -> None:
    """The default progress report: nothing."""


def run(
    scenario: Scenario,
    solver: str | None = None,
    tradeoffs: bool = False,
    progress: Callable[[str], None] = _quiet,
) -> Result:
    """Solve the scenario; raise InfeasibleError with an explanation when the rules cannot hold.

    With ``tradeoffs``, also price each rule, the marginal values and the closest countries left
    out (``optimizer.analysis.tradeoffs``). ``progress`` is told each stage as it starts (the CLI
    shows them on a terminal)."""
    progress("reading the data, screening countries and building the model")
    prep = prepare(scenario)
    name = solver or scenario.solver.name
    rows = len(prep.model.problem.constraints())
    progress(
        f"solving with {name}: {len(prep.model.variables):,} variables, {rows:,} rows, "
        f"{len(prep.countries)} candidate countries (time limit {scenario.solver.time_limit_s:g} s)"
    )
    info = solve(prep.model, scenario.solver, name)
    if info.status == Status.INFEASIBLE:
        progress("infeasible: finding which rules have to give")
        elastic = build_model(prep.model.inputs, elastic=True)
        raise InfeasibleError(
            f"scenario {scenario.name} is infeasible; these rules had to give to find an allocation",
            explain_infeasible(elastic, lambda m: solve(m, scenario.solver, name)),
        )
    other = "cbc" if name == "highs" else "highs"
    if info.status == Status.NO_SOLUTION:
        raise SolverError(
            name,
            f"no allocation found (status {info.status}, time limit "
            f"{scenario.solver.time_limit_s:g} s); raise {setting('solver.time_limit_s')} "
            f"or try {setting('solver.name', other)}",
        )
    if not info.status.has_solution:  # an error or unbounded: not a time limit
        said = f"; {info.detail}" if info.detail else ""
        raise SolverError(
            name,
            f"the solver failed (status {info.status}{said}) after {info.solve_seconds:.1f} s, "
            "before the time limit: numerical trouble in the model, most likely from extreme "
            "objective.weights, objective.tipping_bonus or catalogue values; check them, or try "
            f"{setting('solver.name', other)}",
        )
    progress("reading the allocation and the outcomes")
    result = collect(prep, info)
    if not tradeoffs:
        return result
    progress("trade-offs: re-solving without each rule")
    return with_tradeoffs(prep, result, lambda step: progress(f"trade-offs: {step}"))


def with_tradeoffs(prep: Prepared, result: Result, progress=None) -> Result:
    """``result`` (read from ``prep``'s solved model) with its trade-offs; re-solves the model, so
    it comes after ``collect``."""
    from optimizer.analysis.tradeoffs import analyse

    start = time.perf_counter()
    try:
        found = analyse(
            prep.model,
            result.summary.objective,
            tuple(result.summary.selected),
            prep.screen.frame["name"],
            progress,
            rebuild=lambda scenario: prepare(scenario).model,
        )
    except SolverError as exc:  # HiGHS missing (a CBC-only install): the run itself stands
        warning = f"trade-offs skipped: {exc}"
        return replace(
            result, summary=replace(result.summary, warnings=[*result.summary.warnings, warning])
        )
    sentences = found.sentences
    if result.summary.status != str(Status.OPTIMAL):
        sentences = [
            "The allocation is the best found at the time limit, not a proven optimum: the prices "
            "below are measured against it and may overstate what a rule costs.",
            *sentences,
        ]
    seconds = round(time.perf_counter() - start, 4)
    summary = replace(result.summary, tradeoffs=sentences, tradeoffs_seconds=seconds)
    return replace(result, summary=summary, tradeoffs=found.prices, margins=found.margins)


def _spend(prep: Prepared, solution: Solution) -> pd.DataFrame:
    cols = prep.model.columns
    values = solution.values_of(cols["var"].tolist()) * UNIT
    frame = cols[["iso3", "component", "pillar", "channel", "year"]].assign(amount_usd=values)
    return frame.groupby(
        ["iso3", "component", "pillar", "channel", "year"], as_index=False, sort=True
    )["amount_usd"].sum()


def _streams(
    prep: Prepared, solution: Solution, exact: pd.DataFrame, allocation: pd.DataFrame
) -> pd.DataFrame:
    """streams.csv: each allocation row split over the streams that pay for it, in whole dollars.

    The US money of each row (all of it, or its share after the host's) is rounded like the
    allocation (``whole_dollars``: the US total is the solved total to the dollar), the host
    pays the rest of the row, and the US money is split over its streams in proportion to the
    solved split (``split_whole``)."""
    key = ["iso3", "component", "year"]
    host = exact["year"].map(prep.model.inputs.host_share)
    us = exact[["iso3", "year", "component"]].assign(amount_usd=exact["amount_usd"] * (1 - host))
    rows = exact[key].assign(amount_usd=whole_dollars(us) if (host > 0).any() else None)
    rows = allocation[key].merge(rows, on=key, how="left") if len(allocation) else rows.head(0)
    if (host > 0).any():
        rows["amount_usd"] = (
            rows["amount_usd"].fillna(0.0).clip(upper=allocation["amount_usd"].to_numpy())
        )
    else:
        rows["amount_usd"] = allocation["amount_usd"].to_numpy()
    if prep.model.stream_split:
        split = [(*k, solution.value(v) * UNIT) for k, v in prep.model.stream_split.items()]
        parts = pd.DataFrame(split, columns=[*key, "stream", "amount_usd"])
    else:
        parts = rows.assign(stream="default")
    us_streams = split_whole(parts, rows[rows["amount_usd"] >= 1.0])
    host_rows = allocation[key].assign(
        stream="host",
        amount_usd=allocation["amount_usd"].to_numpy() - rows["amount_usd"].to_numpy(),
    )
    both = pd.concat([us_streams, host_rows[host_rows["amount_usd"] >= 1.0]], ignore_index=True)
    return both.sort_values([*key, "stream"], ignore_index=True)[list(us_streams.columns)]


def _by_metric(outcomes: pd.DataFrame, catalogue: Catalogue) -> dict[str, float]:
    """Outcomes over the horizon for every metric of the catalogue, 0 where nothing is bought."""
    total = outcomes.groupby("metric")["outcome"].sum()
    return {m: float(total.get(m, 0.0)) for m in sorted(catalogue.metrics)}


def _count_stocks_once(
    curves: Curves, catalogue: Catalogue, outcomes: pd.DataFrame, weight: np.ndarray
) -> None:
    """A metric counted once (a stock, e.g. evidence coverage) scores at most one saturation per
    (country, component) over the compact, undiscounted, as in the objective: scale its yearly
    rows down to that and drop the discount (in place)."""
    once = [k for k, metric in catalogue.metrics.items() if metric.counted == "once"]
    rows = outcomes["metric"].isin(once)
    if not rows.any():
        return
    saturation = curves.params["saturation"]
    keys = ["iso3", "component"]
    total = outcomes[rows].groupby(keys)["outcome"].transform("sum")
    limit = saturation.reindex(pd.MultiIndex.from_frame(outcomes.loc[rows, keys])).to_numpy()
    scale = np.minimum(1.0, limit / total.where(total > 0, 1.0).to_numpy())
    outcomes.loc[rows, "outcome"] = outcomes.loc[rows, "outcome"] * scale
    outcomes.loc[rows, "impact"] = outcomes.loc[rows, "outcome"] * weight[rows.to_numpy()]


def _dividend(prep: Prepared, solution: Solution) -> float:
    """Discounted impact units of the systems dividend (capacity that builds)."""
    bud = prep.model.inputs.budget
    delta = 1.0 / (1.0 + bud.discount_rate)
    return float(
        sum(
            solution.value(v) * delta ** (year - bud.first_year)
            for (_iso, year), v in prep.model.dividend.items()
        )
    )


def collect(prep: Prepared, info: Solution) -> Result:
    """The Result of a solution of ``prep.model``: its figures come from the inputs that were
    solved (``prep.model.inputs``, changes included), never from the original scenario."""
    scenario, view, curves = prep.model.scenario, prep.screen.frame, prep.model.curves
    spend = _spend(prep, info)
    exact = spend.copy()
    spend["amount_usd"] = whole_dollars(spend)
    spend = spend[spend["amount_usd"] >= 1.0].reset_index(drop=True)
    spend.insert(1, "country", spend["iso3"].map(view["name"]))
    allocation = spend[ALLOCATION_COLUMNS]

    params = curves.params
    delta = 1.0 / (1.0 + scenario.budget.discount_rate)
    pieces = []
    for year, part in allocation.groupby("year", sort=True):
        amount = part.set_index(["iso3", "component"])["amount_usd"]
        outcome = curves.outcomes(amount)
        frame = amount.to_frame().assign(outcome=outcome.to_numpy(), year=year).reset_index()
        pieces.append(frame)
    outcomes = (
        pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=OUTCOME_COLUMNS)
    )
    if len(outcomes):
        key = pd.MultiIndex.from_frame(outcomes[["iso3", "component"]])
        outcomes["metric"] = params["metric"].reindex(key).to_numpy()
        weight = params["weight"].reindex(key).to_numpy()
        discount = delta ** (outcomes["year"] - scenario.budget.first_year)
        outcomes["impact"] = outcomes["outcome"] * weight * discount
        _count_stocks_once(curves, prep.catalogue, outcomes, weight)
        outcomes["country"] = outcomes["iso3"].map(view["name"])
        outcomes = outcomes.sort_values(["iso3", "component", "year"], ignore_index=True)
    outcomes = outcomes[OUTCOME_COLUMNS]

    constraints = rule_rows(prep.model, info)
    binding = {
        fam: list(group["name"])
        for fam, group in constraints[constraints["binding"]].groupby("family", sort=False)
    }
    selected = info.chosen(prep.model.select)
    tipped = info.chosen(prep.model.tipped)
    durable = sum(info.value(d) for d in prep.model.durable.values()) * durable_factor(
        scenario.budget.discount_rate,
        scenario.budget.horizon_years,
        scenario.tipping.durable_years,
        scenario.tipping.decay,
    )
    warnings = (
        []
        if info.status == Status.OPTIMAL
        else [
            f"stopped at the time limit: best allocation found, within {100 * (info.gap or 0):.2f}% of optimal"
        ]
    )
    warnings += unit_warnings(scenario)
    streams = _streams(prep, info, exact, allocation)
    cofinancing = cofinancing_table(streams, allocation, prep.model.host_caps)
    us_used = float(cofinancing["us_usd"].sum()) if len(cofinancing) else 0.0
    unspent = scenario.budget.total_usd - us_used
    if unspent >= max(UNSPENT_USD, 1e-6 * scenario.budget.total_usd):
        by_country = allocation.groupby("iso3")["amount_usd"].sum()
        capacity = curves.capacity(scenario.budget.horizon_years)
        if prep.model.caps:  # the absorptive cap limits every year too
            caps = pd.Series(prep.model.caps) * scenario.budget.horizon_years
            capacity = capacity.combine(caps.reindex(capacity.index), min, fill_value=math.inf)
        reason = unspent_reason(scenario, constraints, by_country, capacity)
        warnings.append(f"{usd(unspent)} left unspent: {reason}")
    unfunded = sorted(set(selected) - set(allocation["iso3"]))
    if unfunded:
        warnings.append(
            f"focus countries that receive no money: {', '.join(unfunded)} (with "
            "selection.min_compact_usd at 0 a compact may be empty; set a minimum compact)"
        )
    summary = Summary(
        scenario=scenario.name,
        status=str(info.status),
        objective=info.objective,
        bound=info.bound,
        gap=info.gap,
        solver=info.solver,
        solver_version=info.solver_version,
        build_seconds=round(prep.build_seconds, 4),
        solve_seconds=round(info.solve_seconds, 4),
        reference_year=scenario.data.reference_year,
        years=scenario.years,
        budget_usd=scenario.budget.total_usd,
        budget_used_usd=us_used,
        eligible=prep.screen.eligible,
        selected=selected,
        binding=binding,
        outcomes_by_metric=_by_metric(outcomes, prep.catalogue),
        tipped=tipped,
        durable_impact=float(durable) if prep.model.durable else None,
        dividend_impact=_dividend(prep, info) if prep.model.dividend else None,
        warnings=warnings,
        notes=prep.notes,
        overrides=list(scenario.overrides),
        money_by_stream=money_by_stream(streams),
        us_share_by_year=us_share_by_year(cofinancing),
    )
    return Result(
        summary=summary,
        allocation=allocation,
        outcomes=outcomes,
        constraints=constraints,
        screen=view,
        scenario_toml=resolved_toml(scenario),
        manifest=manifest(prep.inputs, info.solver, info.solver_version),
        streams=streams,
        cofinancing=cofinancing,
        targets=targets_table(outcomes),
    )
