"""One built model, many curves: put a draw's inputs on the model in place, re-solve, score.

A draw changes numbers, not structure: the inputs built on its curves (``draw_inputs``) go onto
the prepared model with ``AllocationModel.set_inputs`` (widths, slopes and every coefficient that
depends on them, the focus rows included), which the model's solver session receives too: each
worker keeps one model and one session across its draws.

``impact_of`` scores any spend on any curves, discounted, without the tie-break or the tipping bonus:
the draws' optima, the mode allocation and the robust allocation are all scored this one way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.catalogue import Catalogue
from optimizer.engine import Prepared
from optimizer.focus import durable_factor
from optimizer.impact import Curves, build_curves
from optimizer.inputs import ModelInputs, model_inputs
from optimizer.model import UNIT, AllocationModel
from optimizer.scenario import Scenario
from optimizer.solve import Solution, solve
from optimizer.uncertainty.draws import Draw

SEGMENT_KEY = ["iso3", "component", "segment"]
SPEND_KEY = ["iso3", "component", "year"]


@dataclass(frozen=True)
class DrawOutcome:
    """What one re-solve gives, as plain data (sent back from a worker)."""

    index: int
    seed: int
    status: str
    objective: float | None
    impact: float | None  # the draw's optimum, scored by ``impact_of``
    mode_impact: float  # the mode allocation scored on this draw's curves
    selected: tuple[str, ...]
    spend: dict[tuple[str, str], float]  # (iso3, pillar) -> US$ over the horizon


def draw_curves(prep: Prepared, draw: Draw) -> Curves:
    """The prepared model's curves with ``draw``'s values (same countries and components)."""
    curves = build_curves(
        prep.screen.frame, prep.countries, prep.catalogue, prep.scenario.objective, draw=draw
    )
    return curves.only(prep.countries)


def draw_inputs(prep: Prepared, draw: Draw, discount_rate: float | None = None) -> ModelInputs:
    """The prepared model's inputs on ``draw``'s curves (and ``discount_rate``, if given): the
    same structure, built without reading a table."""
    scenario = prep.scenario
    if discount_rate is not None:
        budget = scenario.budget.model_copy(update={"discount_rate": discount_rate})
        scenario = scenario.model_copy(update={"budget": budget})
    curves = draw_curves(prep, draw)
    return model_inputs(scenario, prep.screen.frame, prep.countries, curves, prep.catalogue)


def set_widths(model: AllocationModel, widths: np.ndarray) -> None:
    """Each spend column's width (US$): its upper bound and its selection-link coefficient (the
    sample-average model of ``robust.py``, built on a fresh model before its first solve)."""
    cols = model.columns
    cols["width_usd"] = widths
    links = {
        name[len("link_") :]: con
        for name, con in model.problem._constraints.items()
        if name.startswith("link_")
    }
    for var, iso, width in zip(cols["var"], cols["iso3"], widths, strict=True):
        var.upBound = width / UNIT
        links[var.name].expr[model.select[iso]] = -width / UNIT


def model_spend(model: AllocationModel, solution: Solution) -> pd.DataFrame:
    """The solved spend in US$ per (iso3, component, pillar, year)."""
    cols = model.columns
    values = np.array([solution.value(v) for v in cols["var"]]) * UNIT
    frame = cols[[*SPEND_KEY, "pillar"]].assign(amount_usd=values)
    return frame.groupby([*SPEND_KEY, "pillar"], as_index=False, sort=True)["amount_usd"].sum()


def impact_of(
    spend: pd.DataFrame, curves: Curves, scenario: Scenario, catalogue: Catalogue
) -> float:
    """Impact units of ``spend`` (columns iso3, component, pillar, year, amount_usd) on
    ``curves``, as the model's objective counts them (without the tie-break, the tipping bonus and
    the systems dividend): discounted weighted outcomes; a metric counted once scores at most one
    saturation per (country, component), undiscounted; a compact that crosses the tipping point
    (docs/model.md, section 10) adds its durable outcomes after the compact."""
    delta = 1.0 / (1.0 + scenario.budget.discount_rate)
    params = curves.params
    once = {k for k, metric in catalogue.metrics.items() if metric.counted == "once"}
    rows = []
    for year, part in spend.groupby("year", sort=True):
        amount = part.groupby(["iso3", "component"])["amount_usd"].sum()
        outcome = curves.outcomes(amount)
        rows.append(pd.DataFrame({"outcome": outcome, "year": year}))
    if not rows:
        return 0.0
    out = pd.concat(rows).reset_index()
    key = pd.MultiIndex.from_frame(out[["iso3", "component"]])
    out["metric"] = params["metric"].reindex(key).to_numpy()
    out["value"] = out["outcome"] * params["weight"].reindex(key).fillna(0.0).to_numpy()
    counted = out[~out["metric"].isin(once)]
    total = float(
        (counted["value"] * delta ** (counted["year"] - scenario.budget.first_year)).sum()
    )
    stock = out[out["metric"].isin(once)].groupby(["iso3", "component"])[["outcome", "value"]]
    for pair, group in stock:
        reached = min(group["outcome"].sum(), float(params.at[pair, "saturation"]))
        weight = float(params.at[pair, "weight"])
        total += reached * weight
    return total + durable_of(spend, counted, params, scenario, catalogue)


def durable_of(
    spend: pd.DataFrame,
    counted: pd.DataFrame,
    params: pd.DataFrame,
    scenario: Scenario,
    catalogue: Catalogue,
) -> float:
    """The durable outcomes' impact units: for each country whose compact crosses the tipping
    point (cumulative spend and every pillar funded in the last years, as ``focus.define_tipping``
    asks), kappa_c times its final year's weighted outcomes, times the discounted decay factor."""
    tp, years = scenario.tipping, scenario.years
    if tp.durable_years == 0 or tp.durable_share == 0 or spend.empty:
        return 0.0
    first = params.groupby(level=0, sort=True).first()
    pillars = sorted({c.pillar for c in catalogue.components.values()})
    last_years = years[-tp.pillar_years :] if tp.pillar_years else []
    by_pillar = spend.groupby(["iso3", "pillar", "year"])["amount_usd"].sum()
    final = counted[counted["year"] == years[-1]].groupby("iso3")["value"].sum()
    factor = durable_factor(
        scenario.budget.discount_rate, scenario.budget.horizon_years, tp.durable_years, tp.decay
    )
    total = 0.0
    for iso, amount in spend.groupby("iso3")["amount_usd"].sum().items():
        if (
            amount < 1.0
            or amount < tp.threshold_usd_per_person * float(first.at[iso, "reach"]) - 1.0
        ):
            continue
        funded = all(
            by_pillar.get((iso, pillar, year), 0.0) >= tp.pillar_min_usd - 1.0
            for year in last_years
            for pillar in pillars
        )
        if funded:
            kappa = min(1.0, tp.durable_share * float(first.at[iso, "readiness_factor"]))
            total += kappa * float(final.get(iso, 0.0)) * factor
    return total


# Families whose rows do not depend on the curves: the sample-average model of ``robust.py`` copies
# the spend columns per draw and can do so only when every family is one of these (the draws
# themselves are applied to any model in place: ``AllocationModel.set_inputs``).
CURVE_FREE_FAMILIES = frozenset(
    {
        "budget",
        "annual_cap",
        "compact_min",
        "compact_max",
        "country_count",
        "lock_in",
        "lock_out",
        "region_max",
        "pillar_floor",
        "earmark",
        "government_cap",
        "me_floor",
        "ramp_up",
        "ramp_down",
        "absorptive_cap",
        "component_floor",
        "tipping_spend",
        "tipping_pillar",
    }
)
CURVE_VARIABLES = ("coverage_", "durable_", "dividend_")  # columns whose rows use the curves


def changeable_in_place(model: AllocationModel) -> bool:
    """Whether the widths and the objective are every number a draw changes in ``model``."""
    if not set(model.families) <= CURVE_FREE_FAMILIES:
        return False
    return not any(v.name.startswith(CURVE_VARIABLES) for v in model.variables)


def resolve(
    prep: Prepared,
    draw: Draw,
    index: int,
    mode_spend: pd.DataFrame,
    discount_rate: float | None = None,
) -> DrawOutcome:
    """Solve ``prep``'s model on ``draw``'s curves (and ``discount_rate``, if given), changed in
    place on its session (the next draw starts from this one's basis); score its optimum and the
    mode allocation."""
    inputs = draw_inputs(prep, draw, discount_rate)
    scenario, curves, model = inputs.scenario, inputs.curves, prep.model
    model.set_inputs(inputs)
    info = solve(model, scenario.solver)
    mode_impact = impact_of(mode_spend, curves, scenario, prep.catalogue)
    if not info.status.has_solution:
        return DrawOutcome(index, draw.seed, str(info.status), None, None, mode_impact, (), {})
    spend = model_spend(model, info)
    by_pillar = spend.groupby(["iso3", "pillar"])["amount_usd"].sum()
    return DrawOutcome(
        index=index,
        seed=draw.seed,
        status=str(info.status),
        objective=info.objective,
        impact=impact_of(spend, curves, scenario, prep.catalogue),
        mode_impact=mode_impact,
        selected=tuple(info.chosen(model.select)),
        spend={key: float(v) for key, v in by_pillar.items() if v >= 1.0},
    )
