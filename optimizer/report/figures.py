"""Figures for runs: which chart kinds a set of runs can have, and each figure with its footnote."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from optimizer.errors import InputError, setting
from optimizer.report import charts
from optimizer.report.sources import Run
from optimizer.report.tables import data_line, money_by_country, money_change, vintage

ONE_RUN = ("allocation", "phasing", "outcomes", "readiness", "frontier")
SEVERAL_RUNS = ("compare", "change")
KINDS = ONE_RUN + SEVERAL_RUNS
FRONTIER_Y = ("objective", "impact")
READINESS_COLUMNS = ("readiness", "rule_of_law_pct", "control_of_corruption_pct", "eligible")
ROUNDING_USD = 1000.0  # changes smaller than this are rounding, left out of the change chart


def frontier_points(run: Run) -> tuple[pd.DataFrame, str, str] | None:
    """``frontier.csv`` beside the run: its solved points (impact column y numeric), with the swept
    column x (``value`` if there is one, else the first all-numeric column)."""
    frame = run.extra_tables().get("frontier")
    if frame is None:
        return None
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    y = next((c for c in FRONTIER_Y if c in numeric), None)
    solved = numeric[numeric[y].notna()] if y else numeric.iloc[0:0]
    candidates = [c for c in solved.columns if c not in FRONTIER_Y and solved[c].notna().all()]
    x = "value" if "value" in candidates else next(iter(candidates), None)
    if y is None or x is None or len(solved) < 2:
        raise InputError(
            str(run.folder / "frontier.csv"),
            "needs a numeric swept column ('value') and an 'objective' (or 'impact') column with "
            "two solved points or more; write it again with the frontier command",
        )
    return solved, x, y


def available(runs: list[Run]) -> list[str]:
    """The kinds these runs can draw: the one-run kinds (frontier only with frontier.csv), and the
    comparison kinds with two runs or more."""
    screen = runs[0].result.screen
    drawable = {
        "frontier": frontier_points(runs[0]) is not None,
        "readiness": set(READINESS_COLUMNS) <= set(screen.columns),
    }
    kinds = [k for k in ONE_RUN if drawable.get(k, True)]
    return kinds + (list(SEVERAL_RUNS) if len(runs) > 1 else [])


def check_kinds(runs: list[Run], wanted: list[str]) -> list[str]:
    """``wanted`` (default: every available kind), refusing a kind these runs cannot draw."""
    have = available(runs)
    for kind in wanted:
        if kind not in have:
            why = {
                "frontier": f"needs frontier.csv in {runs[0].folder or runs[0].label}",
                "readiness": f"needs the screen's {', '.join(READINESS_COLUMNS)} columns",
            }.get(kind, "needs two runs or more")
            raise InputError(setting("kind", kind), f"{why}; available here: {', '.join(have)}")
    return list(dict.fromkeys(wanted)) or have


def run_colours(runs: list[Run]) -> dict[str, str]:
    """One colour per country over every run, so a country looks the same in every chart."""
    return charts.country_colours(iso for r in runs for iso in r.result.allocation["iso3"])


def figure(kind: str, runs: list[Run], colours: dict[str, str]) -> Figure:
    """The ``kind`` chart of ``runs[0]`` (or of all runs, for the comparison kinds)."""
    run = runs[0]
    t = run.tables
    with charts.chart_style():
        fig, ax = charts.new_figure()
        if kind == "allocation":
            names = t.by_country.set_index("iso3")["country"].to_dict()
            charts.allocation_by_country(ax, t.country_pillar, names)
        elif kind == "phasing":
            charts.phasing_by_year(ax, t.country_year, colours)
        elif kind == "outcomes":
            charts.outcomes_by_metric(ax, t.outcomes)
        elif kind == "readiness":
            charts.readiness_vs_governance(ax, t.screening, colours)
        elif kind == "frontier":
            points = frontier_points(run)
            assert points is not None  # check_kinds refused it otherwise
            charts.frontier(ax, *points)
        elif kind == "compare":
            charts.comparison_bars(ax, _money(runs))
        elif kind == "change":
            money = _money(runs)
            change = money_change(money)
            series = change.iloc[:, 0] if change.shape[1] == 1 else change.stack()
            if change.shape[1] > 1:
                series.index = [f"{iso} ({label})" for iso, label in series.index]
            charts.change_bars(ax, series[series.abs() >= ROUNDING_USD], runs[0].label)
        else:
            raise InputError(
                setting("kind", kind), f"unknown chart kind; choose from {', '.join(KINDS)}"
            )
        note = vintage(run.result.summary.scenario, t.editions)
        note = note if kind in ONE_RUN else _runs_note(runs)
        charts.footnote(fig, note)
    return fig


def _money(runs: list[Run]) -> pd.DataFrame:
    return money_by_country({r.label: r.tables for r in runs})


def _runs_note(runs: list[Run]) -> str:
    data = list(dict.fromkeys(data_line(r.tables.editions) for r in runs))
    return f"Runs: {', '.join(r.label for r in runs)}. Data: {' | '.join(data)}."
