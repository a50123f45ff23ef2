"""The compact's tables for the reports: money by funding stream and year, the co-financing glide
path, the benchmarks (targets) by country, component and year, and a re-plan's changes. Data
frames computed once; the text summary and the HTML report only render them."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from optimizer.result import Result


@dataclass(frozen=True)
class CompactTables:
    streams: pd.DataFrame  # index stream, one column per year, then total
    glide: pd.DataFrame  # year, programme_usd, us_usd, host_usd, us_share
    targets: pd.DataFrame  # iso3, component, metric, one column per year (projected), range
    changes: pd.DataFrame | None  # iso3, phase, planned_usd, replanned_usd, change_usd


def compact_tables(result: Result) -> CompactTables:
    streams, cofinancing, targets = result.compact_tables()
    by_stream = streams.pivot_table(
        index="stream", columns="year", values="amount_usd", aggfunc="sum", fill_value=0.0
    )
    by_stream.columns = [str(c) for c in by_stream.columns]
    by_stream["total"] = by_stream.sum(axis=1)
    glide = cofinancing.groupby("year", as_index=False)[
        ["programme_usd", "us_usd", "host_usd"]
    ].sum()
    glide["us_share"] = glide["us_usd"] / glide["programme_usd"].where(glide["programme_usd"] > 0)
    wide = targets.pivot_table(
        index=["iso3", "component", "metric"], columns="year", values="projected", aggfunc="sum"
    )
    wide.columns = [str(c) for c in wide.columns]
    ranged = targets.dropna(subset=["p10", "p90"]) if len(targets) else targets
    if len(ranged):
        span = ranged.groupby(["iso3", "component", "metric"])[["p10", "p90"]].sum()
        wide = wide.join(span.rename(columns={"p10": "P10 (all years)", "p90": "P90 (all years)"}))
    changes = None
    if result.changes is not None and len(result.changes):
        money = ["planned_usd", "replanned_usd", "change_usd"]
        changes = result.changes.groupby(["iso3", "phase"], as_index=False)[money].sum()
    return CompactTables(
        streams=by_stream, glide=glide, targets=wide.reset_index(), changes=changes
    )
