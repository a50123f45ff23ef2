"""Robust allocation by sample-average approximation (SAA) over the study's draws.

One spend plan shared by every draw, scored on each draw's own curves: for every draw d and spend
column group (country, component, year), new columns ``z_d`` on d's segments (bounded by d's widths)
take at most what the plan spends, ``sum_s z_d,s <= sum_s x_s``; the objective is the mean over the
draws of d's discounted weighted outcomes. The curves are concave, so each ``z_d`` fills d's
segments in order and the objective is exactly the mean of ``resolve.impact_of`` over the draws.
The plan's own columns are widened to the widest draw (a draw may absorb more than the mode), and
the model's rules (budget, compacts, selection, floors) hold on the plan as in any run.

The model grows by one copy of the spend columns per draw, so ``ROBUST_MAX_DRAWS`` bounds it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pulp

from optimizer.engine import Prepared
from optimizer.errors import InputError, SolverError
from optimizer.impact import Curves
from optimizer.model import LE, UNIT
from optimizer.solve import solve
from optimizer.uncertainty.draws import sample
from optimizer.uncertainty.montecarlo import Finished, Study
from optimizer.uncertainty.resolve import (
    SPEND_KEY,
    changeable_in_place,
    draw_curves,
    impact_of,
    model_spend,
    set_widths,
)
from optimizer.uncertainty.summary import QUANTILES, solved

ROBUST_MAX_DRAWS = 50


def check_draws(draws: int) -> None:
    if draws > ROBUST_MAX_DRAWS:
        raise InputError(
            "--robust",
            f"solves one model over all {draws} draws; use --draws {ROBUST_MAX_DRAWS} or fewer "
            "with --robust (the model grows by one copy of the spend columns per draw)",
        )


def _widest(model_curves: Curves, curves: list[Curves], cols: pd.DataFrame) -> np.ndarray:
    """Each column's width scaled so its (country, component) reaches the widest draw's x_max."""
    pair = ["iso3", "component"]
    reach = pd.concat([c.params["x_max"] for c in [model_curves, *curves]], axis=1).max(axis=1)
    factor = (reach / model_curves.params["x_max"]).clip(lower=1.0)
    scale = factor.reindex(pd.MultiIndex.from_frame(cols[pair])).to_numpy()
    return cols["width_usd"].to_numpy() * scale


def robust_plan(prep: Prepared, curves: list[Curves]) -> pd.DataFrame:
    """The spend (iso3, component, year, pillar, amount_usd) that maximises mean impact over the
    draws' ``curves``. Changes ``prep.model``: prepare a fresh one for anything else."""
    m = prep.model
    if not changeable_in_place(m):
        raise InputError(
            "--robust",
            "this scenario's model has rows that depend on the curves beyond the segment widths "
            "(aftercare, stocks counted once, tipping-point durable outcomes or the systems "
            "dividend), which the sample-average model does not copy per draw yet; turn those "
            "off in the scenario or drop --robust",
        )
    cols = m.columns
    set_widths(m, _widest(prep.curves, curves, cols))
    plan = {key: list(group) for key, group in cols.groupby(SPEND_KEY, sort=True)["var"]}
    delta = 1.0 / (1.0 + prep.scenario.budget.discount_rate)
    first = prep.scenario.budget.first_year
    objective = {}
    share = 1.0 / len(curves)
    for d, draw in enumerate(curves):
        pieces = dict(iter(draw.segments.groupby(["iso3", "component"], sort=False)))
        for (iso, comp, year), spend in plan.items():
            part = pieces.get((iso, comp))
            if part is None:
                continue
            zs = []
            for s, width, slope in zip(
                part.index, part["width_usd"], part["value_slope"], strict=True
            ):
                z = m.new_var(f"z{d}_{iso}_{comp}_{year}_s{s}")
                z.upBound = width / UNIT
                objective[z] = share * slope * UNIT * delta ** (year - first)
                zs.append(z)
            m.define(
                f"saa{d}_{iso}_{comp}_{year}",
                {**dict.fromkeys(zs, 1.0), **dict.fromkeys(spend, -1.0)},
                LE,
            )
    m.problem.setObjective(pulp.LpAffineExpression(objective))
    info = solve(m, prep.scenario.solver)
    if not info.status.has_solution:
        raise SolverError(info.solver, f"no robust allocation found (status {info.status})")
    return model_spend(m, info)


def compare(
    prep: Prepared, study: Study, finished: Finished, fresh: Prepared
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The robust plan (from ``fresh``, a newly prepared model) and its comparison with the mode
    allocation on the same solved draws: expected impact, P10, P50 and mean regret."""
    outcomes = solved(finished)
    section = prep.scenario.uncertainty
    curves = [
        draw_curves(
            prep,
            sample(
                study.table, list(study.countries), o.seed, section.distribution, section.shared
            ),
        )
        for o in outcomes
    ]
    plan = robust_plan(fresh, curves)
    robust = np.array([impact_of(plan, c, prep.scenario, prep.catalogue) for c in curves])
    mode = np.array([o.mode_impact for o in outcomes])
    best = np.array([o.impact for o in outcomes])
    rows = []
    for name, values in (("mode allocation", mode), ("robust allocation", robust)):
        row = {"allocation": name, "expected_impact": float(values.mean())}
        row |= {f"impact_{q}": float(np.quantile(values, p)) for q, p in QUANTILES.items()}
        row["mean_regret"] = float((best - values).mean())
        rows.append(row)
    plan = plan[plan["amount_usd"] >= 1.0].reset_index(drop=True)
    return plan, pd.DataFrame(rows)
