"""Report tables: every number a view shows, computed once from a Result as data frames.

The terminal summary (``text``), ``compare``, the HTML report, the workbook (``excel``) and the
charts (``figures``) take their figures from :func:`report_tables` and only format them.
Money columns are US dollars (``amount_usd``), shares are fractions of the money allocated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from optimizer.report.compact import CompactTables, compact_tables
from optimizer.result import Result
from optimizer.vocabulary import PILLARS

# screen.csv column -> the data edition it reports (the latest year at or before the reference year)
EDITION_COLUMNS = {
    "wgi_year": "World Bank governance indicators (WGI)",
    "migration_year": "UN DESA international migrant stock",
    "population_year": "Population",
    "slavery_estimate_year": "Walk Free Global Slavery Index estimate",
    "dol_edition": "US DOL List of Goods Produced by Child Labor or Forced Labor",
}


@dataclass(frozen=True)
class ReportTables:
    """Every table a report shows, for one run."""

    total_usd: float  # programme money allocated (US and any host co-financing)
    by_country: pd.DataFrame  # iso3, country, amount_usd, share (largest first)
    by_pillar: pd.DataFrame  # pillar, amount_usd, share
    by_channel: pd.DataFrame  # channel, amount_usd, share
    by_year: pd.DataFrame  # year, amount_usd, share
    by_stream: pd.DataFrame  # stream, amount_usd, share (host = co-financing)
    us_share: pd.DataFrame  # year (text), us_share: the US share of the programme money
    country_pillar: pd.DataFrame  # index iso3, a column per pillar and total (US$)
    country_year: pd.DataFrame  # index iso3, a column per year and total (US$)
    country_pillar_total: pd.Series  # column sums of country_pillar
    country_year_total: pd.Series  # column sums of country_year
    allocation: pd.DataFrame  # iso3, country, component, pillar, channel, a column per year, total
    outcomes: pd.DataFrame  # metric, outcome, spend_usd, cost_per_outcome_usd, impact, share
    binding: pd.DataFrame  # family, rows, names (a tuple of row names)
    compact: CompactTables  # streams by year, co-financing glide path, benchmarks, changes
    screening: pd.DataFrame  # see screening_table
    editions: pd.DataFrame  # source, years
    durable_share: float | None  # the tipping point's durable impact as a share of the objective


def report_tables(result: Result) -> ReportTables:
    compact = compact_tables(result)
    country_pillar = country_by(result, "pillar")
    country_year = country_by(result, "year")
    return ReportTables(
        total_usd=float(result.allocation["amount_usd"].sum()),
        by_country=by_country(result),
        by_pillar=totals(result, "pillar"),
        by_channel=totals(result, "channel"),
        by_year=totals(result, "year"),
        by_stream=_with_share(
            compact.streams["total"].rename("amount_usd").rename_axis("stream").reset_index(),
            "stream",
        ),
        us_share=pd.DataFrame(
            {
                "year": [str(int(y)) for y in compact.glide["year"]],
                "us_share": compact.glide["us_share"].astype(float),
            }
        ),
        country_pillar=country_pillar,
        country_year=country_year,
        country_pillar_total=country_pillar.sum(),
        country_year_total=country_year.sum(),
        allocation=allocation_wide(result),
        outcomes=outcomes_table(result),
        binding=binding_table(result),
        compact=compact,
        screening=screening_table(result),
        editions=data_editions(result),
        durable_share=_durable_share(result),
    )


def _durable_share(result: Result) -> float | None:
    s = result.summary
    if s.durable_impact is None:
        return None
    return s.durable_impact / s.objective if s.objective else 0.0


def totals(result: Result, by: str) -> pd.DataFrame:
    """Money by one allocation column, largest first (years in order), with its share."""
    frame = result.allocation.groupby(by, sort=True)["amount_usd"].sum().reset_index()
    return _with_share(frame, by)


def _with_share(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    if by != "year":
        frame = frame.sort_values(["amount_usd", by], ascending=[False, True], ignore_index=True)
    total = frame["amount_usd"].sum()
    frame["share"] = frame["amount_usd"] / total if total else 0.0
    return frame


def by_country(result: Result) -> pd.DataFrame:
    frame = totals(result, "iso3")
    frame.insert(1, "country", frame["iso3"].map(_names(result)).fillna(""))
    return frame


def _names(result: Result) -> pd.Series:
    return result.allocation.drop_duplicates("iso3").set_index("iso3")["country"]


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


def allocation_wide(result: Result) -> pd.DataFrame:
    """Country by component (rows) by year (columns), with a total column."""
    keys = ["iso3", "country", "component", "pillar", "channel"]
    wide = result.allocation.pivot_table(
        index=keys, columns="year", values="amount_usd", aggfunc="sum", fill_value=0
    )
    wide.columns = [str(c) for c in wide.columns]
    wide["total"] = wide.sum(axis=1)
    return wide.reset_index()


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
        {"family": family, "rows": len(names), "names": tuple(names)}
        for family, names in result.summary.binding.items()
    ]
    return pd.DataFrame(rows, columns=["family", "rows", "names"])


def money_by_country(tables: dict[str, ReportTables]) -> pd.DataFrame:
    """Money per country (rows: every country any run funds, by the first run's order) per run
    (columns, by label)."""
    columns = {label: t.by_country.set_index("iso3")["amount_usd"] for label, t in tables.items()}
    first = next(iter(tables))
    return pd.DataFrame(columns).fillna(0.0).sort_values(first, ascending=False)


def money_change(money: pd.DataFrame) -> pd.DataFrame:
    """Each later run's money per country (``money_by_country``) minus the first run's."""
    return money.iloc[:, 1:].sub(money.iloc[:, 0], axis=0)


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


def data_line(editions: pd.DataFrame) -> str:
    """The data editions in one line: "TIP Report 2013; World Bank governance indicators 2012; ..."."""
    return "; ".join(
        f"{source.split(' (')[0]} {years}"
        for source, years in zip(editions["source"], editions["years"], strict=True)
    )


def vintage(scenario: str, editions: pd.DataFrame) -> str:
    """One line for a chart footnote: the scenario and the data editions."""
    return f"Scenario {scenario}. Data: {data_line(editions)}."


def screening_table(result: Result) -> pd.DataFrame:
    """The screened countries: eligible by readiness rank, then the rest with their reasons;
    ``governance_pct`` is the mean of the rule-of-law and control-of-corruption percentiles."""
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
    if {"rule_of_law_pct", "control_of_corruption_pct"} <= set(frame.columns):
        frame["governance_pct"] = (
            frame["rule_of_law_pct"] + frame["control_of_corruption_pct"]
        ) / 2
    keys = [c for c in ("eligible", "rank", "name") if c in frame]
    ascending = [c != "eligible" for c in keys]
    return frame.sort_values(keys, ascending=ascending, ignore_index=True)
