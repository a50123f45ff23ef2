"""Report tables: data frames computed once from a Result; text, HTML, Excel and charts render them.

Money columns are US dollars (``amount_usd``), shares are fractions of the money allocated.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimizer.catalogue import VOCABULARIES
from optimizer.result import Result

PILLARS = VOCABULARIES["pillar"]  # in the 4P order
# screen.csv column -> the data edition it reports (the latest year at or before the reference year)
EDITION_COLUMNS = {
    "wgi_year": "World Bank governance indicators (WGI)",
    "migration_year": "UN DESA international migrant stock",
    "population_year": "Population",
    "slavery_estimate_year": "Walk Free Global Slavery Index estimate",
}


@dataclass(frozen=True)
class ReportTables:
    """Every table a report shows, for one run."""

    by_country: pd.DataFrame  # iso3, country, amount_usd, share (largest first)
    by_pillar: pd.DataFrame  # pillar, amount_usd, share
    by_channel: pd.DataFrame  # channel, amount_usd, share
    by_year: pd.DataFrame  # year, amount_usd, share
    country_pillar: pd.DataFrame  # index iso3, a column per pillar and total (US$)
    country_year: pd.DataFrame  # index iso3, a column per year and total (US$)
    outcomes: pd.DataFrame  # metric, outcome, spend_usd, cost_per_outcome_usd, impact, share
    binding: pd.DataFrame  # family, rows, names


def totals(result: Result, by: str) -> pd.DataFrame:
    """Money by one allocation column, largest first (years in order), with its share."""
    alloc = result.allocation
    frame = alloc.groupby(by, sort=True)["amount_usd"].sum().reset_index()
    if by != "year":
        frame = frame.sort_values(["amount_usd", by], ascending=[False, True], ignore_index=True)
    total = frame["amount_usd"].sum()
    frame["share"] = frame["amount_usd"] / total if total else 0.0
    return frame


def by_country(result: Result) -> pd.DataFrame:
    frame = totals(result, "iso3")
    names = result.allocation.drop_duplicates("iso3").set_index("iso3")["country"]
    frame.insert(1, "country", frame["iso3"].map(names).fillna(""))
    return frame


def country_by(result: Result, column: str) -> pd.DataFrame:
    """Money per focus country (rows, largest first) and ``column`` (columns), with a total column."""
    alloc = result.allocation
    table = alloc.pivot_table(
        index="iso3", columns=column, values="amount_usd", aggfunc="sum", fill_value=0
    )
    if column == "pillar":
        table = table.reindex(columns=[p for p in PILLARS if p in table.columns])
    table.columns = [str(c) for c in table.columns]
    table["total"] = table.sum(axis=1)
    order = by_country(result)["iso3"]
    return table.reindex(order).rename_axis("iso3")


def outcomes_table(result: Result) -> pd.DataFrame:
    """Outcomes by metric over the horizon: count, money behind it, cost each, share of impact.

    Spend behind a metric is the money on the components that produce it; the outcome counts are
    the summary's (the model's own totals).
    """
    out, alloc = result.outcomes, result.allocation
    columns = ["metric", "outcome", "spend_usd", "cost_per_outcome_usd", "impact", "share"]
    if not len(out):
        return pd.DataFrame(columns=columns)
    keys = ["iso3", "component", "year"]
    spend = (
        alloc.merge(out[[*keys, "metric"]].drop_duplicates(keys), on=keys)
        .groupby("metric")["amount_usd"]
        .sum()
    )
    impact = out.groupby("metric")["impact"].sum()
    counts = result.summary.outcomes_by_metric or out.groupby("metric")["outcome"].sum().to_dict()
    total_impact = impact.sum()
    rows = []
    for metric, count in counts.items():
        money = float(spend.get(metric, 0.0))
        rows.append(
            {
                "metric": metric,
                "outcome": float(count),
                "spend_usd": money,
                "cost_per_outcome_usd": money / count if count else math.nan,
                "impact": float(impact.get(metric, 0.0)),
                "share": float(impact.get(metric, 0.0) / total_impact) if total_impact else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def binding_table(result: Result) -> pd.DataFrame:
    """Rule families with rows tight at the optimum: family, how many rows, their names."""
    rows = [
        {"family": family, "rows": len(names), "names": ", ".join(names)}
        for family, names in result.summary.binding.items()
    ]
    return pd.DataFrame(rows, columns=["family", "rows", "names"])


def report_tables(result: Result) -> ReportTables:
    return ReportTables(
        by_country=by_country(result),
        by_pillar=totals(result, "pillar"),
        by_channel=totals(result, "channel"),
        by_year=totals(result, "year"),
        country_pillar=country_by(result, "pillar"),
        country_year=country_by(result, "year"),
        outcomes=outcomes_table(result),
        binding=binding_table(result),
    )


def data_editions(result: Result) -> pd.DataFrame:
    """Which edition of each data source the screened countries used: source, years."""
    screen = result.screen
    rows = [
        {
            "source": "US State Department TIP Report (tiers)",
            "years": str(result.summary.reference_year),
        }
    ]
    for column, source in EDITION_COLUMNS.items():
        if column not in screen:
            continue
        years = pd.to_numeric(screen[column], errors="coerce").dropna().astype(int)
        if len(years):
            lo, hi = years.min(), years.max()
            rows.append({"source": source, "years": f"{lo}" if lo == hi else f"{lo}-{hi}"})
    return pd.DataFrame(rows, columns=["source", "years"])


def data_line(result: Result) -> str:
    """The data editions in one line: "TIP Report 2013; World Bank governance indicators 2012; ..."."""
    editions = data_editions(result)
    return "; ".join(
        f"{source.split(' (')[0]} {years}"
        for source, years in zip(editions["source"], editions["years"], strict=True)
    )


def vintage(result: Result) -> str:
    """One line for a chart footnote: the scenario and the data editions."""
    return f"Scenario {result.summary.scenario}. Data: {data_line(result)}."


def screening_table(result: Result) -> pd.DataFrame:
    """The screened countries: eligible by readiness rank, then the rest with their reasons."""
    screen = result.screen.reset_index()
    wanted = [
        "iso3",
        "name",
        "region",
        "tier",
        "rule_of_law_pct",
        "control_of_corruption_pct",
        "voice_accountability_pct",
        "readiness",
        "rank",
        "eligible",
        "reasons",
    ]
    frame = screen[[c for c in wanted if c in screen]].copy()
    frame["focus"] = frame["iso3"].isin(result.summary.selected)
    keys = [c for c in ("eligible", "rank", "name") if c in frame]
    ascending = [c != "eligible" for c in keys]
    return frame.sort_values(keys, ascending=ascending, ignore_index=True)


@dataclass(frozen=True)
class Assumptions:
    """The impact catalogue a run used: components and metrics with sources and evidence grades."""

    path: str
    name: str
    version: str
    same_as_run: bool  # the file's hash is the one in the run's manifest
    context_note: str
    components: pd.DataFrame
    metrics: pd.DataFrame


def run_catalogue_path(result: Result) -> Path:
    """The catalogue file the run's resolved scenario names, or the bundled one."""
    from optimizer.paths import DEFAULT_CATALOGUE

    try:
        data = tomllib.loads(result.scenario_toml or "").get("data", {})
    except tomllib.TOMLDecodeError:
        data = {}
    return Path(data["catalogue"]) if data.get("catalogue") else DEFAULT_CATALOGUE


def assumptions(result: Result) -> Assumptions:
    """Today's copy of the run's catalogue (``same_as_run`` says whether it changed since).

    Raises ``CatalogueError`` if the file cannot be read or is invalid.
    """
    from optimizer.catalogue import load_catalogue
    from optimizer.result import file_sha256

    path = run_catalogue_path(result)
    catalogue = load_catalogue(path)
    components = pd.DataFrame(
        [
            {
                "component": key,
                "label": c.label,
                "pillar": c.pillar,
                "channel": c.channel,
                "metric": c.metric,
                "cost_low_usd": c.unit_cost_usd.low,
                "cost_mode_usd": c.unit_cost_usd.mode,
                "cost_high_usd": c.unit_cost_usd.high,
                "evidence": c.evidence,
                "cost_source": c.cost_source,
                "saturation_source": c.saturation_source,
                "elasticity_source": c.elasticity_source,
            }
            for key, c in catalogue.components.items()
        ]
    )
    metrics = pd.DataFrame(
        [
            {
                "metric": key,
                "label": m.label,
                "unit": m.unit,
                "weight_low": m.weight.low,
                "weight_mode": m.weight.mode,
                "weight_high": m.weight.high,
                "weight_source": m.weight_source,
            }
            for key, m in catalogue.metrics.items()
        ]
    )
    return Assumptions(
        path=str(path),
        name=catalogue.name,
        version=catalogue.version,
        same_as_run=file_sha256(path) in result.manifest.get("inputs", {}).values(),
        context_note=catalogue.context.note,
        components=components,
        metrics=metrics,
    )
