"""Response curves per (country, component) and their piecewise-linear approximation.

    O_ck(x) = A_ck * (1 - exp(-phi_ck * x / (u_k * A_ck)))      annual outcomes from annual spend x
    A_ck    = r_k * R_c,  R_c = N_ref * (N_c / N_ref)^alpha      saturation (R_c: people within reach)
    phi_ck  = clip((ctx_c / median ctx)^e_k) * rho_c              context times readiness
    rho_c   = clip((readiness_c / median readiness)^beta)         readiness multiplier

The curve is cut into S segments up to the spend X at which it reaches ``REACH`` of saturation,
with breakpoints x_i = X * (i / S) ** SPACING: denser where the curve bends most, so the secants stay
close to it at low spend (S = 8: within 0.7% of saturation everywhere, 6% relative at worst).
Each segment's slope is its secant slope. Spend past the last breakpoint buys nothing.
``Curves.outcomes`` scores any allocation on exactly the curve the optimiser uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.catalogue import Catalogue
from optimizer.errors import ScenarioError
from optimizer.scenario import ObjectiveSection

REACH = 0.95
X_MAX_FACTOR = -math.log(1.0 - REACH)  # spend to reach REACH of saturation = factor * u * A / phi
SPACING = 1.5  # breakpoint exponent (1 = equal widths); see docs/model.md for the error table
N_REF = 500_000.0  # the population the catalogue's saturation sources are stated for


def people_within_reach(people: float | np.ndarray, alpha: float) -> float | np.ndarray:
    """R = N_ref * (N / N_ref)^alpha: saturation grows sub-linearly in the people in modern
    slavery (programmes reach people through institutions and partners, not headcount)."""
    return N_REF * (np.asarray(people, dtype=float) / N_REF) ** alpha


def readiness_factor(view: pd.DataFrame, lo: float, hi: float, strength: float) -> pd.Series:
    """rho_c = clip((readiness_c / median readiness)^strength, lo, hi); 1 where readiness is
    missing or the strength is 0. The median is over every country the view rates."""
    if "readiness" not in view or strength == 0:
        return pd.Series(1.0, index=view.index)
    score = view["readiness"].astype(float)
    ratio = score / score.median()
    return (ratio.clip(lower=1e-9) ** strength).clip(lo, hi).fillna(1.0)


def context_values(view: pd.DataFrame) -> pd.DataFrame:
    """The context each component type depends on, per country (NaN where missing): governance
    (mean of the rule-of-law and control-of-corruption percentiles), voice (voice-and-accountability
    percentile) and migration (``data.migration_percentile``); all on a 0..100 scale."""
    return pd.DataFrame(
        {
            "governance": view[["rule_of_law_pct", "control_of_corruption_pct"]].mean(
                axis=1, skipna=False
            ),
            "voice": view["voice_accountability_pct"],
            "migration": view["migration_pct"],
        },
        index=view.index,
    ).astype(float)


def sectors_listed(view: pd.DataFrame, sectors: set[str]) -> dict[str, dict[str, bool]]:
    """sector -> country -> whether a component of that sector applies there: always for "none",
    else only if the DOL List of Goods lists a good of that sector there (``data.goods_view``)."""
    return {
        sector: (
            dict.fromkeys(view.index, True)
            if sector == "none"
            else {iso: bool(flag) for iso, flag in view[f"sector_{sector}"].items()}
        )
        for sector in sectors
    }


def metric_weights(catalogue: Catalogue, objective: ObjectiveSection) -> dict[str, float]:
    """Impact units per unit of each metric: the scenario's weight, else the catalogue's mode."""
    unknown = sorted(set(objective.weights) - set(catalogue.metrics))
    if unknown:
        raise ScenarioError(
            "objective.weights",
            [
                f"{k}: not a metric of the catalogue ({', '.join(catalogue.metrics)})"
                for k in unknown
            ],
        )
    return {
        key: float(objective.weights.get(key, metric.weight.mode))
        for key, metric in catalogue.metrics.items()
    }


@dataclass(frozen=True)
class Curves:
    """Plain data: one row per (iso3, component) in ``params``, per (iso3, component, segment) in
    ``segments``."""

    params: (
        pd.DataFrame
    )  # index (iso3, component): people, reach, saturation, phi, readiness_factor, context,
    #                       unit_cost, metric, weight, x_max
    segments: pd.DataFrame  # columns iso3, component, segment, width_usd, slope, value_slope

    def capacity(self, years: int) -> pd.Series:
        """Most each country can usefully spend over ``years``: spend past a curve's last
        breakpoint buys nothing, and the model's variables stop there."""
        return self.params["x_max"].groupby(level=0, sort=True).sum() * years

    def only(self, countries: list[str]) -> Curves:
        """The curves of ``countries`` alone."""
        keep = set(countries)
        params = self.params[self.params.index.get_level_values(0).isin(keep)]
        segments = self.segments[self.segments["iso3"].isin(keep)].reset_index(drop=True)
        return Curves(params=params, segments=segments)

    def outcomes(self, spend: pd.Series) -> pd.Series:
        """Annual outcomes (metric units) for annual spend indexed by (iso3, component), on the
        piecewise-linear curve the optimiser uses."""
        seg = self.segments
        keys = pd.MultiIndex.from_frame(seg[["iso3", "component"]])
        x = spend.reindex(keys).fillna(0.0).to_numpy()
        start = seg.groupby(["iso3", "component"], sort=False)["width_usd"].cumsum().to_numpy()
        start = start - seg["width_usd"].to_numpy()
        used = np.clip(x - start, 0.0, seg["width_usd"].to_numpy())
        per_segment = pd.Series(used * seg["slope"].to_numpy(), index=keys)
        return per_segment.groupby(level=[0, 1], sort=False).sum().reindex(spend.index).fillna(0.0)


# (kind, key, iso3, nominal) -> the value to use; kind is unit_cost_usd, saturation, elasticity or
# weight (iso3 "" for a weight). ``nominal`` is what the scenario uses without a draw.
ParameterLookup = Callable[[str, str, str, float], float]


def nominal(kind: str, key: str, iso: str, value: float) -> float:
    """The scenario's own value (no draw)."""
    return value


def build_curves(
    view: pd.DataFrame,
    countries: list[str],
    catalogue: Catalogue,
    objective: ObjectiveSection,
    draw: ParameterLookup = nominal,
) -> Curves:
    """Response curves for ``countries`` (rows of the screening view) and every catalogue component;
    ``draw`` picks each uncertain number (``optimizer.uncertainty.draws``), by default the nominal."""
    weights = {k: draw("weight", k, "", w) for k, w in metric_weights(catalogue, objective).items()}
    ctx = context_values(view)
    median = (
        ctx.median()
    )  # over every rated country with data, so it does not move with the scenario
    lo, hi = catalogue.context.phi_min, catalogue.context.phi_max
    rho = readiness_factor(view, lo, hi, objective.readiness_strength).to_dict()
    case = objective.cost_case
    listed = sectors_listed(view, {comp.sector for comp in catalogue.components.values()})
    context_of = {column: ctx[column].to_dict() for column in ctx.columns}  # lookups in the loop
    median = median.to_dict()
    rows = []
    for iso in countries:
        people = float(view.at[iso, "people_in_modern_slavery"])
        reach = float(people_within_reach(people, objective.scale_exponent))
        for key, comp in catalogue.components.items():
            if not listed[comp.sector][iso]:
                continue  # a sector component applies only where the sector is listed
            saturation = draw("saturation", key, iso, comp.saturation.mode) * reach
            if comp.context == "none":
                phi, context = 1.0, float("nan")
            else:
                context = float(context_of[comp.context][iso])
                ratio = context / median[comp.context] if not math.isnan(context) else 1.0
                elasticity = draw("elasticity", key, iso, comp.elasticity.mode)
                phi = float(np.clip(ratio**elasticity, lo, hi)) if ratio > 0 else lo
            unit_cost = draw("unit_cost_usd", key, iso, float(getattr(comp.unit_cost_usd, case)))
            rows.append(
                (
                    iso,
                    key,
                    people,
                    reach,
                    saturation,
                    phi * float(rho[iso]),
                    float(rho[iso]),
                    context,
                    unit_cost,
                    comp.metric,
                    weights[comp.metric],
                )
            )
    params = pd.DataFrame(
        rows,
        columns=[
            "iso3",
            "component",
            "people",
            "reach",
            "saturation",
            "phi",
            "readiness_factor",
            "context",
            "unit_cost",
            "metric",
            "weight",
        ],
    ).set_index(["iso3", "component"])
    params["x_max"] = X_MAX_FACTOR * params["unit_cost"] * params["saturation"] / params["phi"]
    return Curves(params=params, segments=_segments(params, objective.segments))


def _segments(params: pd.DataFrame, count: int) -> pd.DataFrame:
    """Secant segments of each curve, slopes decreasing (the curve is concave)."""
    fractions = (np.arange(count + 1) / count) ** SPACING
    breaks = params["x_max"].to_numpy()[:, None] * fractions[None, :]
    sat = params["saturation"].to_numpy()[:, None]
    rate = (params["phi"] / (params["unit_cost"] * params["saturation"])).to_numpy()[:, None]
    value = sat * (1.0 - np.exp(-rate * breaks))
    widths = np.diff(breaks, axis=1)
    slope = np.diff(value, axis=1) / widths
    s = np.arange(1, count + 1)
    frame = pd.DataFrame(
        {
            "iso3": np.repeat(params.index.get_level_values(0), count),
            "component": np.repeat(params.index.get_level_values(1), count),
            "segment": np.tile(s, len(params)),
            "width_usd": widths.ravel(),
            "slope": slope.ravel(),
        }
    )
    frame["value_slope"] = frame["slope"] * np.repeat(params["weight"].to_numpy(), count)
    return frame
