"""Robust allocation by sample-average approximation (SAA) over the study's draws.

One spend plan and one focus-country selection shared by every draw, scored on each draw's own
curves:

- the plan: the model's spend columns ``x`` (widened to the widest draw: a draw may absorb more
  than the mode) under every rule whose numbers do not come from the curves (budget, compacts,
  selection, floors, absorptive caps, ramps, streams), and the tipping binaries ``tip_c`` with
  their spend and pillar rows: whether a compact tips depends on its spend, not on the draw;
- per draw d: columns ``z_d`` on d's segments, bounded by d's widths, that take at most what the
  plan spends, ``sum_s z_d,s <= sum_s x_s`` per (country, component, year), and a copy of every
  row of the objective whose coefficients are the curves (``optimizer.focus``): stocks counted
  once (coverage <= outcomes and <= d's saturation), durable outcomes (``durable_d,c <= kappa_c``
  times the final year's weighted outcomes on d, and ``<= M_d,c * tip_c``) and, if on, the
  systems dividend. The model's own rows of those kinds (on the mode curves) are switched off;
- objective: the mean over the draws of d's impact as ``resolve.impact_of`` counts it (no
  tie-break and no tipping bonus: the comparison with the mode allocation is on that score).

The aftercare rule stays a rule of the plan on the mode curves, as in every run, and is not
copied per draw: a copy on ``z_d`` (which may take less than the plan spends) can only leave
identified victims uncounted, it cannot make the plan keep the rule in a draw (the rule binds at
the mode, so no plan keeps it in most draws; the comparison counts the draws that keep it), and
it would make the robust plan score below the mode allocation (measured on the baseline, 10
draws: 111,500 against 114,200, both keeping the rule in none of the draws).

The curves are concave, so each ``z_d`` fills d's segments in order and the objective is exactly
the mean ``impact_of`` of the plan; the mode allocation is a feasible plan, so the robust plan's
mean impact is at least the mode allocation's (up to the MIP gap).

The search over the candidates is a MIP as large as the draws make it; where it stops at the
solver's time limit, the plan on the mode allocation's focus countries (amounts chosen over the
draws) is solved as well and the better kept (``compare``), so the plan is never one the mode
allocation beats on the sample-average objective.

Size: each draw adds a copy of the spend columns of the candidate countries (those the mode
allocation, a lock-in or some draw's optimum chose: a country no draw picks is not offered), so
the model has about ``columns * (1 + draws * candidates / eligible)`` columns; ``ROBUST_DRAWS``
draws by default, at most ``ROBUST_MAX_DRAWS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pulp

from optimizer import focus
from optimizer.engine import Prepared
from optimizer.errors import SolverError, setting
from optimizer.impact import Curves
from optimizer.model import LE, UNIT, AllocationModel
from optimizer.solve import Solution, Status, solve
from optimizer.uncertainty.draws import sample
from optimizer.uncertainty.montecarlo import Finished, Study
from optimizer.uncertainty.resolve import (
    SPEND_KEY,
    DrawOutcome,
    aftercare_kept,
    draw_curves,
    impact_of,
    model_spend,
    set_widths,
)
from optimizer.uncertainty.summary import QUANTILES, mean_margin95, solved

ROBUST_DRAWS = 10
ROBUST_MAX_DRAWS = 50


def _widest(model_curves: Curves, curves: list[Curves], cols: pd.DataFrame) -> np.ndarray:
    """Each column's width scaled so its (country, component) reaches the widest draw's x_max."""
    pair = ["iso3", "component"]
    reach = pd.concat([c.params["x_max"] for c in [model_curves, *curves]], axis=1).max(axis=1)
    factor = (reach / model_curves.params["x_max"]).clip(lower=1.0)
    scale = factor.reindex(pd.MultiIndex.from_frame(cols[pair])).to_numpy()
    return cols["width_usd"].to_numpy() * scale


def _switch_off_mode_rows(m: AllocationModel) -> None:
    """The model's own objective rows on the mode curves count no more: their columns (coverage,
    durable outcomes, dividend) are fixed at 0, so the rows hold trivially."""
    for var in [*m.coverage.values(), *m.durable.values(), *m.dividend.values()]:
        var.upBound = 0.0


def _offer_only(m: AllocationModel, candidates: set[str], fixed: bool) -> None:
    """Only ``candidates`` may be focus countries (with ``fixed``: exactly those)."""
    for iso, y in m.select.items():
        if iso not in candidates:
            y.upBound = 0.0
        elif fixed:
            y.lowBound = 1.0


def _draw_columns(m: AllocationModel, d: int, curves: Curves, candidates: set[str]) -> pd.DataFrame:
    """z_d: one column per segment of ``curves`` and year, for the candidate countries."""
    seg = curves.segments[curves.segments["iso3"].isin(candidates)]
    cols = seg.merge(pd.DataFrame({"year": m.scenario.years}), how="cross")
    metric = {k: c.metric for k, c in m.catalogue.components.items()}
    cols["metric"] = cols["component"].map(metric)
    names = zip(*(cols[c].tolist() for c in ("iso3", "component", "year", "segment")), strict=True)
    variables = [m.new_var(f"z{d}_{i}_{k}_{t}_s{s}") for i, k, t, s in names]
    for var, width in zip(variables, cols["width_usd"].tolist(), strict=True):
        var.upBound = width / UNIT
    cols["var"] = variables
    return cols


def _terms(cols: pd.DataFrame, value: str, factor: float = 1.0) -> dict:
    """{z: outcome (``slope``) or weighted outcome (``value_slope``) per model money unit}."""
    coef = cols[value].to_numpy() * UNIT * factor
    return dict(zip(cols["var"].tolist(), coef.tolist(), strict=True))


def _spend_link(m: AllocationModel, d: int, cols: pd.DataFrame, plan: dict) -> None:
    """sum_s z_d,s <= sum_s x_s: a draw scores no more than the plan spends."""
    for (iso, comp, year), zs in cols.groupby(SPEND_KEY, sort=False)["var"]:
        terms = {**dict.fromkeys(zs, 1.0), **dict.fromkeys(plan[(iso, comp, year)], -1.0)}
        m.define(f"saa{d}_{iso}_{comp}_{year}", terms, LE)


def _coverage(m: AllocationModel, d: int, cols: pd.DataFrame, curves: Curves) -> dict:
    """Stocks counted once on draw d; returns their objective terms."""
    once = cols[cols["metric"].isin(focus.once_metrics(m))]
    params, objective = curves.params, {}
    for (iso, key), group in once.groupby(["iso3", "component"], sort=True):
        cover = m.new_var(f"saa{d}_coverage_{iso}_{key}")
        cover.upBound = float(params.at[(iso, key), "saturation"])
        terms = {z: -v for z, v in _terms(group, "slope").items()}
        m.define(f"saa{d}_def_coverage_{iso}_{key}", {cover: 1.0, **terms}, LE)
        objective[cover] = float(params.at[(iso, key), "weight"])
    return objective


def _yearly_cap(m: AllocationModel, iso: str) -> float:
    """Most country ``iso`` can spend in a year under the rules (as ``focus.define_tipping``)."""
    sc = m.scenario
    caps = [sc.selection.max_compact_usd, sc.budget.total_usd]
    if sc.budget.annual_cap_usd is not None:
        caps.append(sc.budget.annual_cap_usd)
    if m.caps is not None:
        caps.append(m.caps[iso])
    return min(caps)


def _durable(m: AllocationModel, d: int, cols: pd.DataFrame, curves: Curves) -> dict:
    """Durable outcomes of the shared tipping binaries on draw d; returns objective terms."""
    if not m.tipped:
        return {}
    tp, budget = m.scenario.tipping, m.scenario.budget
    factor = focus.durable_factor(
        budget.discount_rate, budget.horizon_years, tp.durable_years, tp.decay
    )
    readiness = curves.params["readiness_factor"].groupby(level=0).first()
    counted = cols[~cols["metric"].isin(focus.once_metrics(m))]
    last = dict(iter(counted[counted["year"] == m.scenario.years[-1]].groupby("iso3")))
    segments = counted[counted["year"] == m.scenario.years[0]]  # each segment once
    objective = {}
    for iso, group in last.items():
        kappa = min(1.0, tp.durable_share * float(readiness[iso]))
        durable = m.new_var(f"saa{d}_durable_{iso}")
        terms = _terms(group, "value_slope", -kappa)
        m.define(f"saa{d}_def_durable_{iso}", {durable: 1.0, **terms}, LE)
        mine = segments[segments["iso3"] == iso]
        big = kappa * focus.best_value(mine, _yearly_cap(m, iso))
        m.define(f"saa{d}_durable_switch_{iso}", {durable: 1.0, m.tipped[iso]: -big}, LE)
        objective[durable] = factor
    return objective


def _dividend(m: AllocationModel, d: int, cols: pd.DataFrame) -> dict:
    """The systems dividend on draw d (off unless ``tipping.systems_dividend`` > 0)."""
    tp, years = m.scenario.tipping, m.scenario.years
    if tp.systems_dividend <= 0 or tp.systems_dividend_cap <= 0:
        return {}
    plan = m.columns
    systems = plan[plan["component"].isin(tp.systems_components)]
    spent = {key: list(g) for key, g in systems.groupby(["iso3", "year"])["var"]}
    service = cols[~cols["component"].isin(tp.systems_components)]
    service = service[~service["metric"].isin(focus.once_metrics(m))]
    delta = 1.0 / (1.0 + m.scenario.budget.discount_rate)
    objective = {}
    for (iso, year), group in service.groupby(["iso3", "year"], sort=True):
        t = years.index(year)
        if t == 0:
            continue
        gain = m.new_var(f"saa{d}_dividend_{iso}_{year}")
        before = [v for y in years[:t] for v in spent.get((iso, y), [])]
        build = {gain: 1.0, **dict.fromkeys(before, -tp.systems_dividend)}
        m.define(f"saa{d}_dividend_build_{iso}_{year}", build, LE)
        cap = _terms(group, "value_slope", -tp.systems_dividend_cap)
        m.define(f"saa{d}_dividend_cap_{iso}_{year}", {gain: 1.0, **cap}, LE)
        objective[gain] = delta ** (year - m.scenario.budget.first_year)
    return objective


def robust_plan(
    prep: Prepared, curves: list[Curves], candidates: set[str], fixed: bool = False
) -> tuple[pd.DataFrame, Solution]:
    """The spend (iso3, component, year, pillar, amount_usd) that maximises mean impact over the
    draws' ``curves``, funding only ``candidates`` (with ``fixed``: funding each of them), and how
    it was solved (the scenario's ``[solver]`` time limit and MIP gap apply). Changes
    ``prep.model``: prepare a fresh one for anything else."""
    m = prep.model
    _switch_off_mode_rows(m)
    _offer_only(m, candidates, fixed)
    cols = m.columns
    set_widths(m, _widest(prep.curves, curves, cols))
    plan = {key: list(group) for key, group in cols.groupby(SPEND_KEY, sort=True)["var"]}
    budget = prep.scenario.budget
    delta = 1.0 / (1.0 + budget.discount_rate)
    share = 1.0 / len(curves)
    objective: dict = {}
    for d, draw in enumerate(curves):
        z = _draw_columns(m, d, draw, candidates)
        _spend_link(m, d, z, plan)
        counted = z[~z["metric"].isin(focus.once_metrics(m))]
        discount = delta ** (counted["year"].to_numpy() - budget.first_year)
        terms = _terms(counted.assign(value_slope=counted["value_slope"] * discount), "value_slope")
        for part in (_coverage(m, d, z, draw), _durable(m, d, z, draw), _dividend(m, d, z)):
            terms.update(part)
        for var, coef in terms.items():
            objective[var] = share * coef
    m.problem.setObjective(pulp.LpAffineExpression(objective))
    info = solve(m, prep.scenario.solver)
    if not info.status.has_solution:
        raise SolverError(
            info.solver,
            f"no robust allocation found (status {info.status}); use fewer {setting('robust_draws')} "
            f"or a longer {setting('solver.time_limit_s')}",
        )
    return model_spend(m, info), info


def compare(
    prep: Prepared,
    study: Study,
    finished: Finished,
    fresh: Callable[[], Prepared],
    draws: int = ROBUST_DRAWS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The robust plan over the first ``draws`` solved draws (each solve on ``fresh()``, a newly
    prepared model) and its comparison with the mode allocation: expected impact with its 95%
    margin, P10, P50, P90, mean regret, and the robust plan's mean gain over the mode allocation
    on the same draws with its 95% margin (paired: the draws' common part cancels). Once on the
    draws the plan was fitted on (``sample`` "fitted"), where it cannot lose, and once on the
    study's other solved draws ("held out"), where its gain is an estimate: sample-average plans
    fit their draws, and a gain that vanishes on held-out draws is that fit, not robustness.

    If the search over every candidate stops before it proves its optimum (the time limit), the
    plan on the mode allocation's focus countries, with its amounts chosen over the draws, is
    solved too (a much smaller problem, and the mode allocation is one of its plans), and the
    better of the two by the sample-average objective is kept; ``method`` says which."""
    outcomes = solved(finished)
    fitted, held_out = outcomes[:draws], outcomes[draws:]
    curves = [_curves(prep, study, o.seed) for o in fitted]
    locked = set(prep.scenario.selection.lock_in)
    candidates = {c for o in fitted for c in o.selected} | set(study.mode_selected) | locked
    method = "every candidate"
    try:
        plan, info = robust_plan(fresh(), curves, candidates)
    except SolverError:  # stopped without a plan: the smaller problem below may still solve
        plan, info = None, None
    if info is None or info.status != Status.OPTIMAL:
        kept, kept_info = robust_plan(fresh(), curves, set(study.mode_selected), fixed=True)
        if info is None or kept_info.objective > info.objective:
            plan, info = kept, kept_info
            method = "the mode allocation's focus countries (the search stopped at its time limit)"
    rows = _versus(prep, study, plan, fitted, curves, "fitted")
    if held_out:  # one draw's curves at a time: a study may hold 100,000 draws
        held_curves = (_curves(prep, study, o.seed) for o in held_out)
        rows += _versus(prep, study, plan, held_out, held_curves, "held out")
    rows[1] |= {
        "objective": info.objective,  # the sample-average objective: the expected impact
        "status": str(info.status),
        "gap": info.gap,
        "candidates": len(candidates),
        "method": method,
    }
    plan = plan[plan["amount_usd"] >= 1.0].reset_index(drop=True)
    return plan, pd.DataFrame(rows)


def _curves(prep: Prepared, study: Study, seed: int) -> Curves:
    """The curves of the study's draw of ``seed``."""
    section = prep.scenario.uncertainty
    draw = sample(study.table, list(study.countries), seed, section.distribution, section.shared)
    return draw_curves(prep, draw)


def _versus(
    prep: Prepared,
    study: Study,
    plan: pd.DataFrame,
    outcomes: list[DrawOutcome],
    curves: Iterable[Curves],
    sample_name: str,
) -> list[dict]:
    """The mode allocation's and the robust plan's rows on ``outcomes`` (their ``curves``)."""
    sc = prep.scenario
    robust, kept = [], np.zeros(2, dtype=int)  # kept: draws keeping the aftercare rule
    for c in curves:  # impact_of scores outcomes whether the aftercare rule is kept
        robust.append(impact_of(plan, c, sc, prep.catalogue))
        kept += [aftercare_kept(study.mode_spend, c, sc), aftercare_kept(plan, c, sc)]
    mode = np.array([o.mode_impact for o in outcomes])
    best = np.array([o.impact for o in outcomes])
    rows = []
    for name, values, keeping in zip(
        ("mode allocation", "robust allocation"), (mode, np.array(robust)), kept, strict=True
    ):
        row = {"allocation": name, "sample": sample_name, "draws": len(outcomes)}
        row |= {"expected_impact": float(values.mean()), "margin95": mean_margin95(values)}
        row |= {f"impact_{q}": float(np.quantile(values, p)) for q, p in QUANTILES.items()}
        row["mean_regret"] = float((best - values).mean())
        row["draws_keeping_aftercare"] = int(keeping)
        rows.append(row)
    gain = np.array(robust) - mode
    rows[1] |= {"gain_over_mode": float(gain.mean()), "gain_margin95": mean_margin95(gain)}
    return rows
