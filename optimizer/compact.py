"""Compact money in the model: funding streams and the host government's co-financing.

Programme money ``X_ckt`` (the spend variables, what buys outcomes) is paid by the host government
in the share ``h_t`` of its compact year's path and by the United States in the rest::

    US money(c, k, t)   = (1 - h_t) X_ckt         (the budget and the annual cap count only this)
    host money(c, k, t) = h_t X_ckt                (at most the country's affordability a year)

So co-financing adds to the programme: outcomes come from US and host money together, and a
focus country whose government cannot afford its share gets less. With streams declared, the US
money of every (c, k, t) is split over the streams allowed to pay for it::

    sum_s f_ckts = (1 - h_t) X_ckt      (definition rows, structural)
    sum_ck f_ckts <= per_year_s          sum_ckt f_ckts <= total_s    (stream rows, may be relaxed)

A (c, k) no stream may pay for gets no money. Without streams there are no f variables: all US
money is the implicit stream ``default``. docs/compacts.md has the whole story.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pulp

from optimizer.catalogue import Catalogue
from optimizer.errors import ScenarioError
from optimizer.scenario import Scenario, StreamSection, usd
from optimizer.units import UNIT

if TYPE_CHECKING:
    from optimizer.model import AllocationModel

LE = pulp.LpConstraintLE
DEFAULT_STREAM = "default"
HOST_STREAM = "host"


def host_shares(scenario: Scenario) -> dict[int, float]:
    """The host government's share of each year's programme money (0 without co-financing)."""
    path = scenario.cofinancing.host_share or [0.0] * len(scenario.years)
    return dict(zip(scenario.years, path, strict=True))


def host_caps(scenario: Scenario, view: pd.DataFrame, countries: list[str]) -> dict[str, float]:
    """Most each host government can put into its compact a year, US dollars: the scenario's
    ``affordable_usd``, else ``usd_per_capita`` x population (0 where the population is missing)."""
    co = scenario.cofinancing
    population = view["population"] if "population" in view else pd.Series(dtype=float)
    caps = {}
    for iso in countries:
        if iso in co.affordable_usd:
            caps[iso] = co.affordable_usd[iso]
            continue
        people = population.get(iso)
        caps[iso] = 0.0 if people is None or pd.isna(people) else co.usd_per_capita * float(people)
    return caps


def allows(stream: StreamSection, key: str, catalogue: Catalogue, iso: str) -> bool:
    """Whether ``stream`` may pay for component ``key`` in country ``iso``."""
    comp = catalogue.components[key]
    return (
        (not stream.pillars or comp.pillar in stream.pillars)
        and (not stream.components or key in stream.components)
        and (not stream.channels or comp.channel in stream.channels)
        and (not stream.countries or iso in stream.countries)
        and (not stream.tags or bool(set(stream.tags) & set(comp.tags)))
    )


def stream_capacity(stream: StreamSection, years: int) -> float:
    """Most a stream can give over the horizon, US dollars."""
    caps = [stream.total_usd, None if stream.per_year_usd is None else stream.per_year_usd * years]
    return min(c for c in caps if c is not None)


def _countries_no_stream_pays(scenario: Scenario, countries: list[str] | None) -> list[str]:
    """Locked-in countries no stream may pay in, and too few countries any stream may pay in."""
    if countries is None:
        return []
    limited = [s.countries for s in scenario.streams.values()]
    payable = set(countries) if any(not c for c in limited) else {c for cs in limited for c in cs}
    payable &= set(countries)
    out = [
        f"{iso} is locked in but no stream may pay there (streams.*.countries); add it to a "
        "stream's countries"
        for iso in scenario.selection.lock_in
        if iso in countries and iso not in payable
    ]
    least = scenario.selection.min_countries
    if len(payable) < least:
        named = ", ".join(sorted(payable)) or "none of the candidates"
        out.append(
            f"the streams may pay only in {named} ({len(payable)} countries), fewer than "
            f"selection.min_countries {least}; widen a stream's countries or lower min_countries"
        )
    return out


def check_streams(
    scenario: Scenario, catalogue: Catalogue, countries: list[str] | None = None
) -> None:
    """Streams that name unknown components, may pay in too few of the candidate ``countries``,
    or together cannot fund the minimum compacts."""
    problems = []
    for name, stream in sorted(scenario.streams.items()):
        unknown = sorted(set(stream.components) - set(catalogue.components))
        if unknown:
            problems.append(
                f"streams.{name}.components: {', '.join(unknown)} not in the catalogue "
                f"({', '.join(catalogue.components)})"
            )
    if scenario.streams and not problems:
        problems += _countries_no_stream_pays(scenario, countries)
    if scenario.streams and not problems:
        sel, years = scenario.selection, len(scenario.years)
        us_part = 1.0 - max(host_shares(scenario).values())
        least = sel.min_countries * sel.min_compact_usd * us_part
        money = sum(stream_capacity(s, years) for s in scenario.streams.values())
        if money < least - 0.5:
            problems.append(
                f"the streams give at most {usd(money)} together, but {sel.min_countries} "
                f"minimum compacts of {usd(sel.min_compact_usd)} need at least {usd(least)} of "
                "US money; raise a stream's amount or lower selection.min_countries or "
                "selection.min_compact_usd"
            )
    if problems:
        raise ScenarioError("scenario " + scenario.name, problems)


# ---------------------------------------------------------------------------- model families


def define_streams(m: AllocationModel) -> None:
    """Split every (c, k, t)'s US money over the streams allowed to pay for it; stream amounts."""
    streams = m.inputs.streams
    if not streams:
        return
    us = {t: 1.0 - h for t, h in m.inputs.host_share.items()}
    per_year: dict[tuple[str, int], list] = {}
    for (iso, key, year), group in m.groups(["iso3", "component", "year"]).items():
        split = {}
        for name, stream in sorted(streams.items()):
            if allows(stream, key, m.catalogue, iso):
                f = m.new_var(f"f_{iso}_{key}_{year}_{name}")
                m.stream_split[(iso, key, year, name)] = split[f] = f
                per_year.setdefault((name, year), []).append(f)
        terms = {**dict.fromkeys(split, 1.0), **dict.fromkeys(group, -us[year])}
        m.define(f"def_streams_{iso}_{key}_{year}", terms)
    for name, stream in sorted(streams.items()):
        every = []
        for year in m.inputs.years:
            fs = per_year.get((name, year), [])
            every += fs
            if stream.per_year_usd is not None and fs:
                limit = stream.per_year_usd / UNIT
                m.add("stream", f"stream_{name}_{year}", dict.fromkeys(fs, 1.0), LE, limit)
        if stream.total_usd is not None and every:
            limit = stream.total_usd / UNIT
            m.add("stream", f"stream_{name}_total", dict.fromkeys(every, 1.0), LE, limit)


def define_host_affordability(m: AllocationModel) -> None:
    """h_t x spend(c, t) <= what the host government can afford a year."""
    for year, share in m.inputs.host_share.items():
        if share <= 0:
            continue
        for iso in m.countries:
            limit = m.host_caps.get(iso, 0.0) / UNIT
            terms = {m.year_spend[(iso, year)]: share}
            m.add("host_affordability", f"host_affordability_{iso}_{year}", terms, LE, limit)


def budget_terms(m: AllocationModel, year: int | None = None) -> dict:
    """The US money of every country (in ``year``, or over the horizon) for the budget rows."""
    shares = m.inputs.host_share
    years = m.inputs.years if year is None else [year]
    return {m.year_spend[(c, t)]: 1.0 - shares[t] for c in m.countries for t in years}


FAMILIES = [define_streams, define_host_affordability]
