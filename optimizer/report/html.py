"""The HTML report: one self-contained file (styles inline, charts as inline SVG, nothing loaded
from anywhere) that prints cleanly to PDF from a browser.

Rendered by Jinja2 with autoescaping on: every string from a run, a scenario or the catalogue is
escaped; only the SVG charts matplotlib draws (its XML writer escapes their text) are inserted
as markup.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from optimizer import __version__
from optimizer.errors import TipfocusError
from optimizer.report import charts
from optimizer.report.assumptions import Assumptions, assumptions
from optimizer.report.compare import (
    assumptions_diff,
    dollars_each,
    formatted,
    money,
    side_by_side,
)
from optimizer.report.figures import ONE_RUN, SEVERAL_RUNS, figure
from optimizer.report.sources import Run
from optimizer.report.tables import ReportTables

EXTRA_ROWS = 60  # rows shown of a trade-off table saved beside a run


@dataclass
class RunView:
    """Everything the template shows for one run: its figures all come from ``tables``."""

    index: int
    label: str
    run: Run
    tables: ReportTables
    extras: dict[str, pd.DataFrame]
    charts: dict[str, Markup] = field(default_factory=dict)
    assumptions: Assumptions | None = None
    assumptions_problem: str = ""

    @property
    def eligible(self) -> pd.DataFrame:
        screening = self.tables.screening
        return screening[screening["eligible"].astype(bool)]

    @property
    def excluded(self) -> pd.DataFrame:
        screening = self.tables.screening
        return screening[~screening["eligible"].astype(bool)]


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("optimizer.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(usd=_usd, pct=_pct, num=_num, dollars=_dollars, each=_each, plain=_plain)
    return env


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _usd(value: Any) -> str:
    return "-" if _missing(value) else money(float(value))


def _dollars(value: Any) -> str:
    return "-" if _missing(value) else f"${float(value):,.0f}"


def _each(value: Any) -> str:
    return "-" if _missing(value) else dollars_each(float(value))


def _pct(value: Any, digits: int = 1) -> str:
    return "-" if _missing(value) else f"{100 * float(value):.{digits}f}%"


def _num(value: Any, digits: int = 0) -> str:
    return "-" if _missing(value) else f"{float(value):,.{digits}f}"


def _plain(value: Any) -> str:
    """A cell of a table of unknown layout (trade-offs): numbers readable, text as it is."""
    if _missing(value) or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def svg(fig) -> Markup:
    """Inline SVG of a matplotlib figure, without the RDF metadata block."""
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", charts.svg_markup(fig), flags=re.S)
    return Markup(text)  # drawn by matplotlib, whose XML writer escapes text and comments


def run_views(runs: list[Run], with_charts: bool = True) -> list[RunView]:
    from optimizer.report.figures import available, run_colours

    colours = run_colours(runs)
    views = []
    for i, run in enumerate(runs):
        view = RunView(
            index=i,
            label=run.label,
            run=run,
            tables=run.tables,
            extras={k: v.head(EXTRA_ROWS) for k, v in run.extra_tables().items()},
        )
        if with_charts:
            kinds = [k for k in available([run]) if k in ONE_RUN]
            view.charts = {k: svg(figure(k, [run], colours)) for k in kinds}
        try:
            view.assumptions = assumptions(run.result)
        except TipfocusError as exc:
            view.assumptions_problem = str(exc)
        views.append(view)
    return views


def render(runs: list[Run], with_charts: bool = True) -> str:
    """The report for one run or several (with their comparison) as one HTML document."""
    views = run_views(runs, with_charts)
    comparison = None
    if len(runs) > 1:
        from optimizer.report.figures import run_colours

        colours = run_colours(runs)
        table = side_by_side(runs)
        comparison = {
            "table": formatted(table),
            "diff": assumptions_diff(runs),
            "charts": {k: svg(figure(k, runs, colours)) for k in SEVERAL_RUNS}
            if with_charts
            else {},
        }
    catalogues: dict[str, tuple[Assumptions, list[str]]] = {}
    for view in views:
        if view.assumptions is not None:
            key = view.assumptions.path
            catalogues.setdefault(key, (view.assumptions, []))[1].append(view.label)
    template = _environment().get_template("report.html.j2")
    return template.render(
        views=views,
        catalogues=list(catalogues.values()),
        comparison=comparison,
        version=__version__,
        title="tipfocus report: " + ", ".join(r.label for r in runs),
        extra_rows=EXTRA_ROWS,
    )
