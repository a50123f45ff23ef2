"""The pipeline in one place: load -> screen -> curves -> build -> solve -> Result.

``prepare`` does everything up to the built model, so analyses can change bounds, coefficients or
rules on ``Prepared.model`` and re-solve cheaply; ``run`` solves and packs the plain-data Result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.catalogue import DEFAULT_CATALOGUE, Catalogue, load_catalogue
from optimizer.data import DATA_DIR, load_tables
from optimizer.diagnose import binding_rows, explain_infeasible, precheck, too_small
from optimizer.errors import InfeasibleError, SolverError
from optimizer.impact import Curves, build_curves
from optimizer.model import UNIT, AllocationModel, build_model
from optimizer.result import ALLOCATION_COLUMNS, OUTCOME_COLUMNS, Result, Summary, manifest
from optimizer.scenario import Scenario, resolved_toml, usd
from optimizer.screening import Screen, screen
from optimizer.solve import SolveInfo, Status, solve
from optimizer.tables import TABLES


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
    countries = [c for c in scr.eligible if c not in scenario.selection.lock_out]
    curves = build_curves(scr.frame, countries, catalogue, scenario.objective)
    precheck(scenario, scr.frame, scr.eligible, curves, catalogue)
    notes = []
    small = too_small(scenario, countries, curves)
    if small:
        listed = ", ".join(f"{c} {usd(v)}" for c, v in small.items())
        notes.append(
            f"{len(small)} eligible countries can usefully absorb less than the minimum compact "
            f"({usd(scenario.selection.min_compact_usd)}) and cannot be focus countries: {listed}"
        )
        countries = [c for c in countries if c not in small]
        curves = curves.only(countries)
    model = build_model(scenario, scr.frame, countries, curves, catalogue)
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


def run(
    scenario: Scenario, solver: str | None = None, tradeoffs: bool = False, progress=None
) -> Result:
    """Solve the scenario; raise InfeasibleError with an explanation when the rules cannot hold.

    With ``tradeoffs``, also price each rule, the marginal values and the closest countries left
    out (``optimizer.analysis.tradeoffs``); ``progress`` is called with each step's name."""
    prep = prepare(scenario)
    name = solver or scenario.solver.name
    info = solve(prep.model, scenario.solver, name)
    if info.status == Status.INFEASIBLE:
        elastic = build_model(
            scenario, prep.screen.frame, prep.countries, prep.curves, prep.catalogue, elastic=True
        )
        raise InfeasibleError(
            f"scenario {scenario.name} is infeasible; these rules had to give to find an allocation",
            explain_infeasible(elastic, lambda m: solve(m, scenario.solver, name)),
        )
    if not info.status.has_solution:
        raise SolverError(
            name,
            f"no allocation found (status {info.status}, time limit "
            f"{scenario.solver.time_limit_s:g} s); raise solver.time_limit_s (--time-limit) "
            f"or try --solver {'cbc' if name == 'highs' else 'highs'}",
        )
    result = collect(prep, info)
    return with_tradeoffs(prep, result, progress) if tradeoffs else result


def with_tradeoffs(prep: Prepared, result: Result, progress=None) -> Result:
    """``result`` (read from ``prep``'s solved model) with its trade-offs; re-solves the model, so
    it comes after ``collect``."""
    from optimizer.analysis.tradeoffs import analyse

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
    summary = replace(result.summary, tradeoffs=sentences)
    return replace(result, summary=summary, tradeoffs=found.prices, margins=found.margins)


def _spend(prep: Prepared) -> pd.DataFrame:
    cols = prep.model.columns
    values = np.array([v.varValue or 0.0 for v in cols["var"]]) * UNIT
    frame = cols[["iso3", "component", "pillar", "channel", "year"]].assign(amount_usd=values)
    return frame.groupby(
        ["iso3", "component", "pillar", "channel", "year"], as_index=False, sort=True
    )["amount_usd"].sum()


def collect(prep: Prepared, info: SolveInfo) -> Result:
    """Read the solved model into plain data."""
    scenario, view = prep.scenario, prep.screen.frame
    spend = _spend(prep)
    spend["amount_usd"] = spend["amount_usd"].round(0)
    spend = spend[spend["amount_usd"] >= 1.0].reset_index(drop=True)
    spend.insert(1, "country", spend["iso3"].map(view["name"]))
    allocation = spend[ALLOCATION_COLUMNS]

    params = prep.curves.params
    delta = 1.0 / (1.0 + scenario.budget.discount_rate)
    pieces = []
    for year, part in allocation.groupby("year", sort=True):
        amount = part.set_index(["iso3", "component"])["amount_usd"]
        outcome = prep.curves.outcomes(amount)
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
        outcomes["country"] = outcomes["iso3"].map(view["name"])
        outcomes = outcomes.sort_values(["iso3", "component", "year"], ignore_index=True)
    outcomes = outcomes[OUTCOME_COLUMNS]

    constraints = binding_rows(prep.model)
    binding = {
        fam: list(group["name"])
        for fam, group in constraints[constraints["binding"]].groupby("family", sort=False)
    }
    selected = sorted(iso for iso, y in prep.model.select.items() if (y.varValue or 0) > 0.5)
    warnings = (
        []
        if info.status == Status.OPTIMAL
        else [
            f"stopped at the time limit: best allocation found, within {100 * (info.gap or 0):.2f}% of optimal"
        ]
    )
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
        budget_used_usd=float(allocation["amount_usd"].sum()),
        eligible=prep.screen.eligible,
        selected=selected,
        binding=binding,
        outcomes_by_metric={
            m: float(v) for m, v in outcomes.groupby("metric", sort=True)["outcome"].sum().items()
        },
        warnings=warnings,
        notes=prep.notes,
    )
    return Result(
        summary=summary,
        allocation=allocation,
        outcomes=outcomes,
        constraints=constraints,
        screen=view,
        scenario_toml=resolved_toml(scenario),
        manifest=manifest(prep.inputs, info.solver, info.solver_version),
    )
