"""Explaining why a scenario cannot be met: checks before solving, elastic re-solve after.

``precheck`` catches what arithmetic can show (with numbers) before any solver runs.
``explain_infeasible`` re-solves with a penalised slack on every rule row and reports which rules
had to give, and by how much.
"""

from __future__ import annotations

import difflib

import pandas as pd

from optimizer.catalogue import Catalogue
from optimizer.compact import stream_capacity
from optimizer.errors import InfeasibleError, ScenarioError
from optimizer.focus import absorptive_caps
from optimizer.impact import Curves
from optimizer.model import COUNT_FAMILIES, OUTCOME_FAMILIES, UNIT, AllocationModel
from optimizer.scenario import Scenario, unit_warnings, usd
from optimizer.vocabulary import ME_TAG


def _usd_m(amount: float) -> str:
    """A model amount (US$ million) in words."""
    return usd(amount * UNIT)


def precheck(
    scenario: Scenario,
    screen: pd.DataFrame,
    countries: list[str],
    curves: Curves,
    catalogue: Catalogue,
    names: pd.DataFrame | None = None,
) -> None:
    """Raise ScenarioError (bad rule) or InfeasibleError (rules that cannot all hold), with numbers.

    ``names`` (the country_names table) tells a real country the TIP Report does not rate from a
    code that is no country at all."""
    sel, pol, bud = scenario.selection, scenario.policy, scenario.budget
    bad: list[str] = []
    for key in ("lock_in", "lock_out"):
        bad += [
            f"selection.{key}: {_not_rated(c, screen, names)}"
            for c in getattr(sel, key)
            if c not in screen.index
        ]
    for iso in sel.lock_in:
        if iso in screen.index and iso not in countries:
            bad.append(
                f"selection.lock_in: {iso} ({screen.at[iso, 'name']}) is not eligible: "
                f"{screen.at[iso, 'reasons']}"
            )
    tags = {t for c in catalogue.components.values() for t in c.tags}
    pillars = {c.pillar for c in catalogue.components.values()}
    bad += [
        f"policy.earmark_share.{t}: no catalogue component carries the tag '{t}'"
        for t, s in pol.earmark_share.items()
        if s > 0 and t not in tags
    ]
    bad += [
        f"policy.pillar_floor_share.{p}: no catalogue component is in the {p} pillar"
        for p, s in pol.pillar_floor_share.items()
        if s > 0 and p not in pillars
    ]
    bad += [
        f"policy.component_floor_share.{k}: not a catalogue component; use one of "
        f"{', '.join(catalogue.components)}"
        for k in pol.component_floor_share
        if k not in catalogue.components
    ]
    if scenario.tipping.systems_dividend > 0:
        bad += [
            f"tipping.systems_components: {k} is not a catalogue component; use one of "
            f"{', '.join(catalogue.components)}"
            for k in scenario.tipping.systems_components
            if k not in catalogue.components
        ]
    metrics = {c.metric for c in catalogue.components.values()}
    if pol.aftercare_share > 0 and "victims_assisted" not in metrics:
        bad.append(
            "policy.aftercare_share: no catalogue component has the metric 'victims_assisted'; "
            "set it to 0 or add an aftercare component"
        )
    if pol.me_floor_share > 0 and ME_TAG not in tags:
        bad.append("policy.me_floor_share: no catalogue component carries the tag 'me_data'")
    if bad:
        raise ScenarioError("scenario " + scenario.name, bad)

    why: list[str] = []
    capacity = curves.capacity(bud.horizon_years)
    available = [c for c in countries if c not in sel.lock_out]
    able = [c for c in available if capacity.get(c, 0.0) >= sel.min_compact_usd]
    if sel.min_countries > len(available):
        why.append(
            f"selection.min_countries is {sel.min_countries} but only {len(available)} countries are "
            "eligible and not locked out; loosen [eligibility] or lower min_countries"
        )
    elif sel.min_countries > len(able):
        why.append(
            f"selection.min_countries is {sel.min_countries} but only {len(able)} eligible countries "
            f"can usefully absorb the minimum compact of {usd(sel.min_compact_usd)}; lower "
            "min_compact_usd or min_countries"
        )
    if len(sel.lock_in) > sel.max_countries:
        why.append(
            f"{len(sel.lock_in)} countries locked in but max_countries is {sel.max_countries}"
        )
    least = max(sel.min_countries, len(sel.lock_in)) * sel.min_compact_usd
    if least > bud.total_usd:
        why.append(
            f"at least {max(sel.min_countries, len(sel.lock_in))} compacts of at least "
            f"{usd(sel.min_compact_usd)} need {usd(least)}, above the budget {usd(bud.total_usd)}"
        )
    if bud.annual_cap_usd is not None and least > bud.annual_cap_usd * bud.horizon_years:
        why.append(
            f"the minimum compacts need {usd(least)} but the annual cap allows only "
            f"{usd(bud.annual_cap_usd * bud.horizon_years)} over {bud.horizon_years} years"
        )
    for iso in sel.lock_in:
        if iso in capacity.index and capacity[iso] < sel.min_compact_usd:
            why.append(
                f"{iso} is locked in but can usefully absorb only {usd(capacity[iso])}, below the "
                f"minimum compact {usd(sel.min_compact_usd)}"
            )
    if sel.absorptive_cap_usd is not None:
        locked = [c for c in sel.lock_in if c in countries]
        bounds = (catalogue.context.phi_min, catalogue.context.phi_max)
        caps = absorptive_caps(screen, locked, sel.absorptive_cap_usd, *bounds)
        years = bud.horizon_years
        why += [
            f"{iso} is locked in but its institutions can absorb only {usd(cap)} a year "
            f"(selection.absorptive_cap_usd scaled by its governance and civic-space "
            f"percentiles), {usd(cap * years)} over {years} years, below the minimum compact "
            f"{usd(sel.min_compact_usd)}; lower min_compact_usd or raise absorptive_cap_usd"
            for iso, cap in caps.items()
            if cap * years < sel.min_compact_usd
        ]
    for region, limit in sel.region_max.items():
        locked = [c for c in sel.lock_in if c in screen.index and screen.at[c, "region"] == region]
        if len(locked) > limit:
            why.append(
                f"{len(locked)} locked-in countries in region {region}, above region_max {limit}"
            )
    if why:
        raise InfeasibleError(
            f"scenario {scenario.name} cannot be met", why + unit_warnings(scenario)
        )


def _not_rated(iso: str, screen: pd.DataFrame, names: pd.DataFrame | None) -> str:
    """Why ``iso`` cannot be a focus country although it is not in the screen, and what to do."""
    known = names[names["iso3"] == iso]["name"] if names is not None else pd.Series(dtype=str)
    if len(known):
        return (
            f"{iso} ({known.iloc[0]}) is a country but has no TIP Report tier in the data "
            "(countries.csv holds the places the report rates, without the United States' "
            "self-rating; data/SOURCES.md), so it cannot be screened or be a focus country; remove it"
        )
    close = difflib.get_close_matches(iso, list(screen.index), n=3)
    hint = f" (close: {', '.join(close)})" if close else ""
    return (
        f"{iso} is not the ISO 3166 alpha-3 code of a country in the data (countries.csv); fix "
        f"the code{hint} (tipfocus screen lists every code)"
    )


def explain_infeasible(elastic: AllocationModel, solve_fn) -> list[str]:
    """Solve the elastic model and describe, one line a rule family, the rows that had to give."""
    info = solve_fn(elastic)
    if not info.status.has_solution:
        return ["the rules cannot all hold, and even relaxing every rule found no allocation"]
    lines = []
    by_family: dict[str, list[tuple[str, float]]] = {}
    row_family = {name: fam for fam, names in elastic.families.items() for name in names}
    for key, var in sorted(elastic.slacks.items()):
        amount = info.value(var)
        if amount > 1e-6:
            row = key.rsplit("_", 1)[0]
            by_family.setdefault(row_family.get(row, "?"), []).append((row, amount))
    for family, rows in sorted(by_family.items()):
        size = (lambda a: f"{a:g} countries") if family in COUNT_FAMILIES else _usd_m
        if family in OUTCOME_FAMILIES:
            size = lambda a: f"{a:,.0f} outcomes"  # noqa: E731
        detail = ", ".join(f"{r} by {size(a)}" for r, a in rows[:6])
        more = f" (+{len(rows) - 6} more rows)" if len(rows) > 6 else ""
        total = f", {size(sum(a for _, a in rows))} in all" if len(rows) > 1 else ""
        lines.append(f"{family}: {detail}{more}{total}")
    if not lines:
        return ["the solver reported infeasibility but no rule had to give (numerical trouble?)"]
    return lines + _locks_behind(elastic, [row for rows in by_family.values() for row, _ in rows])


def _locks_behind(elastic: AllocationModel, rows: list[str]) -> list[str]:
    """A locked-in country whose own rules had to give: the lock is what forces them."""
    lines = []
    for iso in elastic.scenario.selection.lock_in:
        own = [row for row in rows if iso in row.split("_")]
        if own:
            lines.append(
                f"selection.lock_in: {iso} is locked in, which is what forces its rules above "
                f"({', '.join(own[:3])}{' ...' if len(own) > 3 else ''}); unlock it, or loosen "
                "those rules so that it can meet them"
            )
    return lines


def too_small(scenario: Scenario, countries: list[str], curves: Curves) -> dict[str, float]:
    """Countries that can never be focus countries, with all they can usefully absorb over the
    horizon: less than the minimum compact, so ``compact_min`` forces their selection to 0.
    Leaving them out of the model changes no answer and makes the model smaller."""
    capacity = curves.capacity(scenario.budget.horizon_years)
    floor = scenario.selection.min_compact_usd
    return {c: float(capacity.get(c, 0.0)) for c in countries if capacity.get(c, 0.0) < floor}


def unspent_reason(
    scenario: Scenario,
    constraints: pd.DataFrame,
    by_country: pd.Series,
    capacity: pd.Series,
) -> str:
    """Which rule stops the rest of the budget being spent, with its numbers.

    ``constraints`` is ``rules.rule_rows`` of the solved model, ``by_country`` the spend of each
    focus country and ``capacity`` what each can usefully absorb over the horizon.
    """
    bud, sel = scenario.budget, scenario.selection
    binding = constraints.loc[constraints["binding"], ["name", "family"]]
    families = set(binding["family"])
    if scenario.streams:
        money = sum(stream_capacity(st, bud.horizon_years) for st in scenario.streams.values())
        if money < bud.total_usd - 1.0:
            return (
                f"the funding streams give at most {usd(money)} together ([streams.*]), less "
                f"than the budget {usd(bud.total_usd)}"
            )
    caps = binding.loc[binding["family"] == "annual_cap", "name"]
    if bud.annual_cap_usd is not None and len(caps) == bud.horizon_years:
        return (
            f"the annual cap (budget.annual_cap_usd), {usd(bud.annual_cap_usd)} a year x "
            f"{bud.horizon_years} years = {usd(bud.annual_cap_usd * bud.horizon_years)}"
        )
    at_max = {
        n.removeprefix("compact_max_") for n in binding["name"] if n.startswith("compact_max_")
    }
    full = {c for c, v in by_country.items() if v >= capacity.get(c, float("inf")) - 1.0}
    if len(by_country) and set(by_country.index) <= at_max | full:
        each = f"at most {usd(sel.max_compact_usd)} each (selection.max_compact_usd)"
        if full - at_max:
            fewer = ", ".join(sorted(full - at_max))
            each += f", less where a country can usefully absorb less ({fewer}; selection.absorptive_cap_usd)"
        if len(by_country) >= sel.max_countries:
            return (
                f"at most {sel.max_countries} focus countries (selection.max_countries) x {each} "
                f"= {usd(by_country.sum())}"
            )
        left = bud.total_usd - by_country.sum()
        if 0 < left < sel.min_compact_usd:
            return (
                f"every focus country is at its limit ({each}) and the {usd(left)} left is less "
                f"than a new compact's minimum (selection.min_compact_usd, {usd(sel.min_compact_usd)})"
            )
        blocked = sorted(families & {"region_max", "lock_out", "country_count"})
        why = f"; {', '.join(blocked)} binding" if blocked else ""
        return (
            f"every focus country is at its limit ({each}) and no other country can be added "
            f"without breaking a rule{why}"
        )
    named = sorted(families - {"budget"})
    return (
        "the binding rules (" + ", ".join(named) + ") leave no way to spend more that adds impact"
        if named
        else "spending more would add no projected impact"
    )
