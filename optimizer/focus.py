"""The focus-country mechanisms (ATEST 2014; docs/model.md, section 10) as rule families.

- absorptive cap: a country's yearly spend is capped by its institutional capacity;
- component floors: named components get a least share of each compact;
- aftercare link: survivors assisted at least a share of victims identified, per country;
- stocks counted once: a metric counted ``once`` (evidence coverage) scores at most one
  saturation per country over the compact, not again every year;
- the tipping point: a binary ``tip_c <= y_c`` that needs cumulative spend per person within
  reach and every pillar funded in the last years; only then do durable outcomes ``durable_c``
  (a share of the final year's weighted outcomes, larger where readiness is higher, decaying)
  count after the compact;
- capacity that builds: systems spend (coordination, data) in earlier years adds a dividend to
  later service outcomes, bounded by a share of them (off by default).

Same helpers and row-naming rules as ``optimizer.model`` (imported as a module: the two refer to
each other only at call time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pulp

from optimizer import model as core

if TYPE_CHECKING:
    from optimizer.model import AllocationModel

CAPACITY_PARTS = ("rule_of_law_pct", "control_of_corruption_pct", "voice_accountability_pct")
MEDIAN_CAPACITY = 0.5  # percentiles: the median country scores 0.5 on each part
AFTERCARE = ("victims_assisted", "victims_identified")  # (assisted, identified) metric keys


def institutional_capacity(view: pd.DataFrame) -> pd.Series:
    """0..1: mean of the rule-of-law, control-of-corruption (governance) and voice-and-
    accountability (civic space for implementing partners) percentiles; 0.5 where all are missing."""
    return (view[list(CAPACITY_PARTS)].mean(axis=1, skipna=True) / 100.0).fillna(MEDIAN_CAPACITY)


def absorptive_caps(
    view: pd.DataFrame, countries: list[str], cap_usd: float, lo: float, hi: float
) -> dict[str, float]:
    """Most each country can usefully absorb a year: cap * clip(capacity / median, lo, hi)."""
    capacity = institutional_capacity(view)
    return {c: cap_usd * float(np.clip(capacity[c] / MEDIAN_CAPACITY, lo, hi)) for c in countries}


def durable_factor(discount_rate: float, horizon: int, years: int, decay: float) -> float:
    """Discounted value of one unit of durable outcomes: sum over j = 1..years of
    delta^(H - 1 + j) * (1 - decay)^(j - 1), where j counts the years after the compact."""
    delta = 1.0 / (1.0 + discount_rate)
    return sum(delta ** (horizon - 1 + j) * (1.0 - decay) ** (j - 1) for j in range(1, years + 1))


def once_metrics(m: AllocationModel) -> set[str]:
    return {k for k, metric in m.catalogue.metrics.items() if metric.counted == "once"}


def best_value(segments: pd.DataFrame, budget: float) -> float:
    """Most weighted outcomes ``budget`` dollars can buy on these (concave) segments: greedy."""
    return greedy_value(
        segments["width_usd"].to_numpy(), segments["value_slope"].to_numpy(), budget
    )


def greedy_value(width: np.ndarray, slope: np.ndarray, budget: float) -> float:
    """``best_value`` on arrays: the steepest segments first (ties in the order pandas'
    ``sort_values(ascending=False)`` gives them), each filled until ``budget`` is spent."""
    n = len(slope)
    reverse = np.arange(n)[::-1]
    order = reverse[slope[::-1].argsort(kind="quicksort")][::-1]
    spent = np.minimum(np.cumsum(width[order]), budget)
    used = np.diff(np.concatenate([[0.0], spent]))
    return float((used * slope[order]).sum())


# ---------------------------------------------------------------------------- the families


def define_absorptive_cap(m: AllocationModel) -> None:
    """spend(c, t) <= cap_c * y_c: institutions, not headcount, bound what a country absorbs."""
    if m.caps is None:
        return
    for iso in m.countries:
        for year in m.inputs.years:
            terms = {m.year_spend[(iso, year)]: 1.0, m.select[iso]: -m.caps[iso] / core.UNIT}
            m.add("absorptive_cap", f"absorptive_cap_{iso}_{year}", terms, core.LE, 0.0)


def define_component_floors(m: AllocationModel) -> None:
    """Each named component gets at least its share of every compact, where it applies (a
    component with no columns in a country, e.g. a sector the country lacks, has no floor there)."""
    floors = {k: s for k, s in sorted(m.inputs.policy.component_floor_share.items()) if s > 0}
    if not floors:
        return
    by_component = m.groups(["iso3", "component"])
    for iso in m.countries:
        for key, share in floors.items():
            variables = by_component.get((iso, key))
            if not variables:
                continue
            part = core._aggregate(m, f"component_{iso}_{key}", variables)
            terms = {part: 1.0, m.total[iso]: -share}
            m.add("component_floor", f"component_floor_{iso}_{key}", terms, core.GE, 0.0)


def _outcome_groups(m: AllocationModel, where: str, mask, by, value: str = "slope") -> dict:
    """The columns where ``mask(columns)`` holds, grouped by ``by`` (sorted keys, each group in
    column order): key -> (columns, outcome or weighted outcome per model money unit), for
    ``_outcome_terms``. The groups depend on the columns' keys alone: made once for the model
    and its draws (``AllocationModel.once``, under ``where``, which names the mask); the
    numbers are read afresh."""

    def groups():
        cols = m.columns
        at = np.flatnonzero(mask(cols))
        index = cols.iloc[at].groupby(by, sort=True).indices
        var = cols["var"].to_numpy()
        return {key: (at[index[key]], var[at[index[key]]].tolist()) for key in sorted(index)}

    coef = m.columns[value].to_numpy() * core.UNIT
    made = m.once(f"outcome groups: {where} by {by}", groups)
    return {key: (variables, coef[rows]) for key, (rows, variables) in made.items()}


def _outcome_terms(group: tuple, factor: float = 1.0) -> dict:
    """{x: outcome (or weighted outcome) per model money unit, times ``factor``} of a group."""
    variables, coef = group
    return dict(zip(variables, (coef * factor).tolist(), strict=True))


def define_aftercare(m: AllocationModel) -> None:
    """Survivors assisted >= share * victims identified, per country over the compact (outcome
    units, on the model's curves)."""
    share = m.inputs.policy.aftercare_share
    if share <= 0:
        return
    assisted, identified = AFTERCARE
    helped = _outcome_groups(m, assisted, lambda c: c["metric"] == assisted, "iso3")
    found_by_iso = _outcome_groups(m, identified, lambda c: c["metric"] == identified, "iso3")
    for iso, found in found_by_iso.items():
        terms = _outcome_terms(helped[iso]) if iso in helped else {}
        terms.update(_outcome_terms(found, factor=-share))
        m.add("aftercare", f"aftercare_{iso}", terms, core.GE, 0.0)


def define_counted_once(m: AllocationModel) -> None:
    """coverage_{c}_{k} <= outcomes of (c, k) summed over the years, and <= one saturation."""
    once = once_metrics(m)
    if not once:
        return
    saturation = m.curves.params["saturation"]
    counted = _outcome_groups(
        m, f"metrics {sorted(once)}", lambda c: c["metric"].isin(once), ["iso3", "component"]
    )
    for (iso, key), group in counted.items():
        cover = m.column(f"coverage_{iso}_{key}", 0, float(saturation[(iso, key)]))
        m.variables.append(cover)
        m.coverage[(iso, key)] = cover
        terms = {k: -v for k, v in _outcome_terms(group).items()}
        m.define(f"def_coverage_{iso}_{key}", {cover: 1.0, **terms}, core.LE)


def define_tipping(m: AllocationModel) -> None:
    """tip_c <= y_c; tip_c needs cumulative spend >= threshold * people within reach and every
    pillar funded (>= pillar_min) in each of the last ``pillar_years`` years; durable_c <=
    kappa_c * (final year's weighted outcomes) and <= M_c * tip_c."""
    tp, inputs = m.inputs.tipping, m.inputs
    if tp.durable_years == 0 or tp.durable_share == 0:
        return
    params = m.curves.params
    first = params.groupby(level=0, sort=True).first()
    once = once_metrics(m)
    pillars = sorted({c.pillar for c in m.catalogue.components.values()})
    last_years = inputs.years[-tp.pillar_years :] if tp.pillar_years else []
    by_pillar = m.once(  # each (country, pillar, year)'s spend, as terms: the same every draw
        "tipping pillar terms",
        lambda: {key: core._ones(v) for key, v in m.groups(["iso3", "pillar", "year"]).items()},
    )
    last_by_iso = _outcome_groups(
        m,
        f"the final year, metrics but {sorted(once)}",
        lambda c: ~c["metric"].isin(once) & (c["year"] == inputs.years[-1]),
        "iso3",
        "value_slope",
    )
    reach, readiness = first["reach"].to_dict(), first["readiness_factor"].to_dict()
    segments = m.curves.segments
    metric = {k: c.metric for k, c in m.catalogue.components.items()}
    segments = segments[~segments["component"].map(metric).isin(once)]
    width, slope = segments["width_usd"].to_numpy(), segments["value_slope"].to_numpy()
    seg_by_iso = segments.groupby("iso3", sort=True).indices
    yearly = [inputs.selection.max_compact_usd, inputs.budget.total_usd]
    if inputs.budget.annual_cap_usd is not None:
        yearly.append(inputs.budget.annual_cap_usd)
    reachable = _most_spend(m)
    for iso in m.countries:
        threshold = tp.threshold_usd_per_person * float(reach[iso]) / core.UNIT
        # a compact that cannot reach its threshold cannot tip: the bound leaves the optimum as it
        # is and takes from the relaxation a durable share it could never earn (docs/model.md)
        never = threshold > reachable.get(iso, 0.0) * (1 + 1e-9)
        tip = m.column(f"tip_{iso}", 0, 0 if never else 1, cat=pulp.LpInteger)
        durable = m.new_var(f"durable_{iso}")
        m.variables.append(tip)
        m.tipped[iso], m.durable[iso] = tip, durable
        m.define(f"tip_link_{iso}", {tip: 1.0, m.select[iso]: -1.0}, core.LE)
        if threshold > 0:
            terms = {m.total[iso]: 1.0, tip: -threshold}
            m.add("tipping_spend", f"tipping_spend_{iso}", terms, core.GE, 0.0)
        for year in last_years:
            for pillar in pillars:
                spend = by_pillar.get((iso, pillar, year), {})
                terms = {**spend, tip: -tp.pillar_min_usd / core.UNIT}
                name = f"tipping_pillar_{iso}_{pillar}_{year}"
                m.add("tipping_pillar", name, terms, core.GE, 0.0)
        kappa = min(1.0, tp.durable_share * float(readiness[iso]))
        group = last_by_iso.get(iso)
        terms = {} if group is None else _outcome_terms(group, -kappa)
        m.define(f"def_durable_{iso}", {durable: 1.0, **terms}, core.LE)
        cap = min([*yearly, m.caps[iso] if m.caps is not None else np.inf])
        segs = seg_by_iso.get(iso)
        big = kappa * (greedy_value(width[segs], slope[segs], cap) if segs is not None else 0.0)
        m.define(f"durable_switch_{iso}", {durable: 1.0, tip: -big}, core.LE)


def _most_spend(m: AllocationModel) -> dict[str, float]:
    """An upper bound on each country's spend over the compact (model units): the largest
    compact, the budget (grossed up by the largest host share), and each year at most its
    absorptive cap and what its curves can absorb."""
    inputs = m.inputs
    first = m.once(
        "segments", lambda: ~m.columns.duplicated(["iso3", "component", "segment"]).to_numpy()
    )
    per_year = m.columns[first]  # each (country, component, segment) once, the first listed
    capacity = per_year.groupby("iso3")["width_usd"].sum()
    host = max(inputs.host_share.values(), default=0.0)
    budget = inputs.budget.total_usd / (1.0 - host) if host < 1.0 else np.inf
    most = {}
    for iso in m.countries:
        yearly = min(float(capacity.get(iso, 0.0)), m.caps[iso] if m.caps is not None else np.inf)
        spend = min(inputs.selection.max_compact_usd, budget, yearly * len(inputs.years))
        most[iso] = spend / core.UNIT
    return most


def define_systems_dividend(m: AllocationModel) -> None:
    """dividend_{c}_{t} <= g * systems spend in c before year t, and <= cap * weighted service
    outcomes of c in year t: coordination and data spent earlier make later services go further.
    A minimum of linear terms, maximised: the model stays linear."""
    tp = m.inputs.tipping
    if tp.systems_dividend <= 0 or tp.systems_dividend_cap <= 0:
        return
    cols = m.columns
    systems = cols["component"].isin(tp.systems_components)
    once = once_metrics(m)
    spent = {key: list(g) for key, g in cols[systems].groupby(["iso3", "year"])["var"]}
    served = _outcome_groups(
        m,
        f"components but {sorted(tp.systems_components)}, metrics but {sorted(once)}",
        lambda c: ~c["component"].isin(tp.systems_components) & ~c["metric"].isin(once),
        ["iso3", "year"],
        "value_slope",
    )
    years = m.inputs.years
    for iso in m.countries:
        for t, year in enumerate(years[1:], start=1):
            gain = m.new_var(f"dividend_{iso}_{year}")
            m.dividend[(iso, year)] = gain
            before = [v for y in years[:t] for v in spent.get((iso, y), [])]
            m.define(
                f"dividend_build_{iso}_{year}",
                {gain: 1.0, **core._ones(before, -tp.systems_dividend)},
                core.LE,
            )
            group = served.get((iso, year))
            terms = {} if group is None else _outcome_terms(group, -tp.systems_dividend_cap)
            m.define(f"dividend_cap_{iso}_{year}", {gain: 1.0, **terms}, core.LE)


def objective_terms(m: AllocationModel) -> dict:
    """Coverage of once-counted metrics (undiscounted: a stock) and durable outcomes."""
    terms = {}
    weight = m.curves.params["weight"]
    for (iso, key), var in m.coverage.items():
        terms[var] = float(weight[(iso, key)])
    tp, bud = m.inputs.tipping, m.inputs.budget
    factor = durable_factor(bud.discount_rate, bud.horizon_years, tp.durable_years, tp.decay)
    for var in m.durable.values():
        terms[var] = factor
    delta = 1.0 / (1.0 + bud.discount_rate)
    for (_iso, year), var in m.dividend.items():
        terms[var] = delta ** (year - bud.first_year)
    return terms


FAMILIES = [
    define_absorptive_cap,
    define_component_floors,
    define_aftercare,
    define_counted_once,
    define_tipping,
    define_systems_dividend,
]

# The families whose rows read the curves' numbers (widths, slopes, saturation, reach, readiness);
# every other family reads only the rules and the columns' structure. Inputs that differ only in
# their curves (a draw) rebuild these alone (``changes.set_inputs``): tests/test_session.py
# checks that every other family's rows are the same on two draws.
CURVE_FAMILIES = (define_aftercare, define_counted_once, define_tipping, define_systems_dividend)
