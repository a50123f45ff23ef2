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
from optimizer.focus import AFTERCARE, durable_factor
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
    same structure, built without reading a table; without a new discount rate, the model's
    own inputs with the draw's numbers on its columns (``ModelInputs.with_curves``)."""
    curves = draw_curves(prep, draw)
    if discount_rate is None:
        return prep.model.inputs.with_curves(curves)
    budget = prep.scenario.budget.model_copy(update={"discount_rate": discount_rate})
    scenario = prep.scenario.model_copy(update={"budget": budget})
    return model_inputs(scenario, prep.screen.frame, prep.countries, curves, prep.catalogue)


def set_widths(model: AllocationModel, widths: np.ndarray) -> None:
    """Each spend column's width (US$): its upper bound and its selection-link coefficient (the
    sample-average model of ``robust.py``, built on a fresh model before its first solve)."""
    cols = model.columns
    cols["width_usd"] = widths
    links = model.links()
    for var, link, iso, width in zip(cols["var"], links, cols["iso3"], widths, strict=True):
        var.upBound = width / UNIT
        link.expr[model.select[iso]] = -width / UNIT


def model_spend(model: AllocationModel, solution: Solution) -> pd.DataFrame:
    """The solved spend in US$ per (iso3, component, pillar, year)."""
    cols = model.columns
    values = solution.values_of(cols["var"].tolist()) * UNIT
    frame = cols[[*SPEND_KEY, "pillar"]].assign(amount_usd=values)
    return frame.groupby([*SPEND_KEY, "pillar"], as_index=False, sort=True)["amount_usd"].sum()


def impact_of(
    spend: pd.DataFrame, curves: Curves, scenario: Scenario, catalogue: Catalogue
) -> float:
    """Impact units of ``spend`` (columns iso3, component, pillar, year, amount_usd) on
    ``curves``, as the model's objective counts them (without the tie-break and the tipping
    bonus): discounted weighted outcomes; a metric counted once scores at most one saturation per
    (country, component), undiscounted; a compact that crosses the tipping point (docs/model.md,
    section 10) adds its durable outcomes after the compact; with capacity that builds on, the
    systems dividend. Arrays over (country, component) x year: one pass, no per-year loop."""
    if spend.empty:
        return 0.0
    out = outcomes_of(spend, curves, scenario.years)
    params = curves.params
    once = {k for k, metric in catalogue.metrics.items() if metric.counted == "once"}
    is_once = params["metric"].isin(once).to_numpy()
    weight = params["weight"].to_numpy()
    value = out * weight[:, None]  # weighted outcomes per (pair, year)
    delta = 1.0 / (1.0 + scenario.budget.discount_rate)
    discount = delta ** (np.asarray(scenario.years) - scenario.budget.first_year)
    total = float((value[~is_once] * discount).sum())
    reached = np.minimum(out[is_once].sum(axis=1), params["saturation"].to_numpy()[is_once])
    total += float((reached * weight[is_once]).sum())
    counted = pd.DataFrame(
        value[~is_once], index=params.index[~is_once], columns=scenario.years
    )  # weighted outcomes of the per-year metrics, (iso3, component) x year
    return (
        total
        + durable_of(spend, counted, params, scenario, catalogue)
        + dividend_of(spend, counted, scenario)
    )


def outcomes_of(spend: pd.DataFrame, curves: Curves, years: list[int]) -> np.ndarray:
    """Outcomes per (row of ``curves.params``, year) of ``spend``, on the piecewise curves."""
    if spend.empty:
        return np.zeros((len(curves.params), len(years)))
    params, seg = curves.params, curves.segments
    pair = params.index.get_indexer(pd.MultiIndex.from_frame(spend[["iso3", "component"]]))
    year = pd.Index(years).get_indexer(spend["year"])
    if (pair < 0).any() or (year < 0).any():  # a programming error: spend off the model
        raise RuntimeError("spend on a (country, component, year) the curves do not have")
    x = np.zeros((len(params), len(years)))
    np.add.at(x, (pair, year), spend["amount_usd"].to_numpy(float))
    at = params.index.get_indexer(pd.MultiIndex.from_frame(seg[["iso3", "component"]]))
    width = seg["width_usd"].to_numpy()
    end = seg.groupby(["iso3", "component"], sort=False)["width_usd"].cumsum().to_numpy()
    used = np.clip(x[at] - (end - width)[:, None], 0.0, width[:, None])
    out = np.zeros_like(x)
    np.add.at(out, at, used * seg["slope"].to_numpy()[:, None])
    return out


def aftercare_kept(spend: pd.DataFrame, curves: Curves, scenario: Scenario) -> bool:
    """Whether ``spend`` keeps the aftercare rule on ``curves`` (``focus.define_aftercare``):
    survivors assisted at least ``policy.aftercare_share`` of victims identified, per country."""
    share = scenario.policy.aftercare_share
    if share <= 0:
        return True
    out = outcomes_of(spend, curves, scenario.years).sum(axis=1)
    metric = curves.params["metric"].to_numpy()
    iso = curves.params.index.get_level_values(0)
    assisted = pd.Series(out * (metric == AFTERCARE[0])).groupby(iso).sum()
    identified = pd.Series(out * (metric == AFTERCARE[1])).groupby(iso).sum()
    return bool((assisted >= share * identified - 1e-6 * (1.0 + identified)).all())


def durable_of(
    spend: pd.DataFrame,
    counted: pd.DataFrame,
    params: pd.DataFrame,
    scenario: Scenario,
    catalogue: Catalogue,
) -> float:
    """The durable outcomes' impact units: for each country whose compact crosses the tipping
    point (cumulative spend and every pillar funded in the last years, as ``focus.define_tipping``
    asks), kappa_c times its final year's weighted outcomes (``counted``: per-year metrics'
    weighted outcomes, (iso3, component) x year), times the discounted decay factor."""
    tp, years = scenario.tipping, scenario.years
    if tp.durable_years == 0 or tp.durable_share == 0 or spend.empty:
        return 0.0
    first = params.groupby(level=0, sort=True).first()
    amount = spend.groupby("iso3")["amount_usd"].sum()
    needed = tp.threshold_usd_per_person * first["reach"].reindex(amount.index) - 1.0
    tipped = amount[(amount >= 1.0) & (amount >= needed)].index
    pillars = sorted({c.pillar for c in catalogue.components.values()})
    last_years = years[-tp.pillar_years :] if tp.pillar_years else []
    if last_years:
        by_pillar = spend.groupby(["iso3", "pillar", "year"])["amount_usd"].sum()
        grid = pd.MultiIndex.from_product([tipped, pillars, last_years])
        funded = by_pillar.reindex(grid).fillna(0.0) >= tp.pillar_min_usd - 1.0
        tipped = tipped[funded.groupby(level=0).all().reindex(tipped).to_numpy(bool)]
    if tipped.empty:
        return 0.0
    final = counted[years[-1]].groupby(level=0).sum().reindex(tipped).fillna(0.0)
    kappa = np.minimum(1.0, tp.durable_share * first["readiness_factor"].reindex(tipped))
    factor = durable_factor(
        scenario.budget.discount_rate, scenario.budget.horizon_years, tp.durable_years, tp.decay
    )
    return float((kappa * final).sum()) * factor


def dividend_of(spend: pd.DataFrame, counted: pd.DataFrame, scenario: Scenario) -> float:
    """Capacity that builds (off unless ``tipping.systems_dividend`` > 0): for each country and
    year after the first, the least of ``systems_dividend`` per US$1M spent on systems components
    in the years before and ``systems_dividend_cap`` times that year's weighted service outcomes,
    discounted (``focus.define_systems_dividend``)."""
    tp, years = scenario.tipping, scenario.years
    if tp.systems_dividend <= 0 or tp.systems_dividend_cap <= 0 or len(years) < 2:
        return 0.0
    systems = spend[spend["component"].isin(tp.systems_components)]
    built = (
        systems.pivot_table("amount_usd", "iso3", "year", aggfunc="sum")
        .reindex(columns=years, fill_value=0.0)
        .fillna(0.0)
        .cumsum(axis=1)
        .shift(1, axis=1, fill_value=0.0)
    )  # systems spend before each year, US$
    service = counted[~counted.index.get_level_values(1).isin(tp.systems_components)]
    served = service.groupby(level=0).sum()
    built = built.reindex(served.index, fill_value=0.0) * tp.systems_dividend / UNIT
    gain = np.minimum(built.to_numpy(), tp.systems_dividend_cap * served.to_numpy())
    delta = 1.0 / (1.0 + scenario.budget.discount_rate)
    discount = delta ** (np.asarray(years) - scenario.budget.first_year)
    return float((gain[:, 1:] * discount[1:]).sum())


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
    info = solve(model, scenario.solver, duals=False)
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
