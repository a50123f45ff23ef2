"""Uncertainty charts in the style of ``optimizer.report.charts``: each takes data and an ``ax``."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from optimizer.report.charts import FALL, MILLION, OTHER, RISE

TOP = 25  # countries shown in the per-country charts


def impact_histogram(ax: Axes, draws: pd.DataFrame, mode_impact: float) -> Axes:
    """Histogram of each draw's optimal impact, with the mode allocation's impact on the draws."""
    solved = draws.dropna(subset=["impact"])
    ax.hist(solved["impact"], bins=30, color=RISE, alpha=0.8, label="optimum of each draw")
    ax.hist(solved["mode_impact"], bins=30, color=FALL, alpha=0.5, label="mode allocation")
    ax.axvline(mode_impact, color="#333333", linestyle="--", label="mode values")
    ax.set_xlabel("impact (victim-equivalents)")
    ax.set_ylabel("draws")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Impact over the draws")
    return ax


def selection_probability(ax: Axes, countries: pd.DataFrame) -> Axes:
    """Bars: how often each country is a focus country (highest first); mode choices dark."""
    top = countries[countries["selection_probability"] > 0].head(TOP)[::-1]
    colours = [RISE if m else OTHER for m in top["in_mode_allocation"]]
    share = top["selection_probability"]
    interval = [
        share - top["selection_probability_low95"],
        top["selection_probability_high95"] - share,
    ]
    ax.barh(top["iso3"], share, color=colours, xerr=interval, ecolor="#333333", capsize=2,
            error_kw={"linewidth": 0.8})  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of draws in which the country is a focus country (lines: 95% interval)")
    ax.set_title("Selection probability (dark: chosen at the mode values)")
    return ax


def allocation_ranges(ax: Axes, countries: pd.DataFrame) -> Axes:
    """P10-P90 range and P50 of each country's allocation (US$ million)."""
    top = countries[countries["selection_probability"] > 0].head(TOP)[::-1]
    low = top["allocation_p10_usd"] / MILLION
    high = top["allocation_p90_usd"] / MILLION
    ax.hlines(top["iso3"], low, high, color=RISE, linewidth=3)
    ax.plot(top["allocation_p50_usd"] / MILLION, top["iso3"], "o", color=FALL, label="P50")
    ax.set_xlabel("allocation over the horizon, US$ million (P10 to P90)")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Allocation ranges")
    return ax


def tornado(ax: Axes, table: pd.DataFrame, base: float) -> Axes:
    """Change in impact at each assumption's low and high value, largest swing on top."""
    top = table.head(TOP)[::-1]
    labels = top["kind"] + " " + top["key"]
    ax.barh(labels, top["impact_low"] - base, left=base, color=FALL, label="at low")
    ax.barh(labels, top["impact_high"] - base, left=base, color=RISE, alpha=0.7, label="at high")
    ax.axvline(base, color="#333333", linewidth=0.8)
    ax.set_xlabel("impact (victim-equivalents)")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Sensitivity: one assumption at a time")
    return ax
