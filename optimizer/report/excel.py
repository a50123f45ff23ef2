"""The Excel workbook of a run: one table per sheet, $ number formats, frozen header rows.

Written cell by cell with XlsxWriter: text always as text (a name starting with ``=``, ``+``,
``-`` or ``@`` never becomes a formula), numbers as numbers, totals as table total rows whose
cached value is the sum (so readers that do not calculate still see it).
"""

from __future__ import annotations

import math
import numbers
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

from optimizer.errors import TipfocusError, setting
from optimizer.files import atomic_path
from optimizer.report.assumptions import assumptions
from optimizer.report.compare import flat_keys
from optimizer.report.tables import ReportTables, report_tables
from optimizer.result import Result

FORMATS = {
    "usd": {"num_format": "$#,##0"},
    "usd_cents": {"num_format": "$#,##0.00"},
    "share": {"num_format": "0.0%"},
    "count": {"num_format": "#,##0"},
    "ratio": {"num_format": "0.00"},
}
MAX_WIDTH = 60


def country_year_sheet(tables: ReportTables) -> pd.DataFrame:
    """The country-by-year table with each country's name beside its code."""
    frame = tables.country_year.reset_index()
    names = tables.by_country.set_index("iso3")["country"]
    frame.insert(1, "country", frame["iso3"].map(names))
    return frame


def summary_sheet(result: Result) -> pd.DataFrame:
    s = result.summary
    rows = [
        ("scenario", s.scenario),
        ("status", s.status),
        ("gap", s.gap),
        ("solver", f"{s.solver} ({s.solver_version})"),
        ("budget (US$)", s.budget_usd),
        ("budget used (US$)", s.budget_used_usd),
        ("years", f"{s.years[0]}-{s.years[-1]}"),
        ("focus countries", " ".join(s.selected)),
        ("eligible countries", len(s.eligible)),
        ("weighted impact (impact units)", s.objective),
        ("reference year (TIP Report)", s.reference_year),
        *((f"warning {i + 1}", w) for i, w in enumerate(s.warnings)),
        *((f"note {i + 1}", n) for i, n in enumerate(s.notes)),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


def scenario_sheet(result: Result) -> pd.DataFrame:
    try:
        flat = flat_keys(tomllib.loads(result.scenario_toml or ""))
    except tomllib.TOMLDecodeError:
        flat = {}
    return pd.DataFrame([(k, str(v)) for k, v in flat.items()], columns=["key", "value"])


def workbook_sheets(
    result: Result, tables: ReportTables | None = None
) -> dict[str, tuple[pd.DataFrame, dict[str, str], list[str]]]:
    """Sheet name -> (frame, column -> format kind, columns with a total); the figures from
    ``tables``, by default the result's ``report_tables``."""
    t = tables if tables is not None else report_tables(result)
    allocation = t.allocation
    years = [c for c in allocation.columns if c.isdigit()]
    money = {c: "usd" for c in [*years, "total"]}
    by_year = country_year_sheet(t)
    sheets = {
        "Summary": (summary_sheet(result), {}, []),
        "Allocation": (allocation, money, [*years, "total"]),
        "Country by year": (by_year, money, [*years, "total"]),
        "Outcomes": (
            t.outcomes,
            {
                "outcome": "count",
                "spend_usd": "usd",
                "cost_per_outcome_usd": "usd_cents",
                "impact": "count",
                "share": "share",
            },
            ["spend_usd", "impact"],
        ),
    }
    streams, cofinancing, targets = result.compact_tables()  # the run's files, row by row
    sheets["Streams"] = (streams, {"amount_usd": "usd"}, ["amount_usd"])
    co_money = {c: "usd" for c in ("programme_usd", "us_usd", "host_usd", "affordable_usd")}
    sheets["Co-financing"] = (cofinancing, {**co_money, "host_share": "share"}, [])
    sheets["Benchmarks"] = (targets, {"projected": "count", "p10": "count", "p90": "count"}, [])
    sheets["Screening"] = (t.screening, {"readiness": "ratio", "governance_pct": "ratio"}, [])
    try:
        a = assumptions(result)
        cost = {c: "usd" for c in ("cost_low_usd", "cost_mode_usd", "cost_high_usd")}
        sheets["Assumptions"] = (a.components, cost, [])
        weight = {c: "ratio" for c in ("weight_low", "weight_mode", "weight_high")}
        sheets["Metric weights"] = (a.metrics, weight, [])
    except TipfocusError as exc:
        sheets["Assumptions"] = (pd.DataFrame({"problem": [str(exc)]}), {}, [])
    sheets["Scenario"] = (scenario_sheet(result), {}, [])
    return sheets


def write_workbook(
    result: Result,
    path: Path,
    force: bool = False,
    comparison: pd.DataFrame | None = None,
    tables: ReportTables | None = None,
) -> None:
    """Write the workbook atomically (``force`` to replace an existing file); ``comparison``
    (``compare.one_table``) adds a Comparison sheet."""
    sheets = workbook_sheets(result, tables)
    if comparison is not None:
        sheets["Comparison"] = (comparison, {}, [])
    with atomic_path(path, force, setting("xlsx")) as tmp:
        book = xlsxwriter.Workbook(
            str(tmp), {"strings_to_formulas": False, "strings_to_urls": False}
        )
        book.set_properties({"title": f"tipfocus run {result.summary.scenario}"})
        formats = {kind: book.add_format(spec) for kind, spec in FORMATS.items()}
        for name, (frame, kinds, totals) in sheets.items():
            _table_sheet(book, name, frame, {c: formats[k] for c, k in kinds.items()}, totals)
        book.close()


def _table_sheet(
    book: xlsxwriter.Workbook,
    name: str,
    frame: pd.DataFrame,
    formats: dict[str, Any],
    totals: list[str],
) -> None:
    sheet = book.add_worksheet(name)
    columns = [str(c) for c in frame.columns]
    for r, row in enumerate(frame.itertuples(index=False), start=1):
        for c, value in enumerate(row):
            _write(sheet, r, c, value, formats.get(columns[c]))
    spec: dict[str, Any] = {
        "name": "".join(ch for ch in name.title() if ch.isalnum()),
        "style": "Table Style Light 9",
        "columns": [],
    }
    for i, col in enumerate(columns):
        column: dict[str, Any] = {"header": col}
        if col in formats:
            column["format"] = formats[col]
        if totals:
            if i == 0:
                column["total_string"] = "total"
            elif col in totals:
                column["total_function"] = "sum"
                column["total_value"] = float(pd.to_numeric(frame[col]).sum())
        spec["columns"].append(column)
    if totals:
        spec["total_row"] = True
    last_row = len(frame) + (1 if totals else 0)
    if len(frame) == 0:
        last_row = 1  # a table needs a data row
    sheet.add_table(0, 0, last_row, max(len(columns) - 1, 0), spec)
    sheet.freeze_panes(1, 0)
    for i, col in enumerate(columns):
        width = max([len(col), *(len(_shown(v)) for v in frame.iloc[:, i])]) + 2
        sheet.set_column(i, i, min(width, MAX_WIDTH))


def _write(sheet, row: int, col: int, value: Any, fmt: Any) -> None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        sheet.write_blank(row, col, None, fmt)
    elif isinstance(value, bool | np.bool_):
        sheet.write_boolean(row, col, bool(value))
    elif isinstance(value, numbers.Real):
        sheet.write_number(row, col, float(value), fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"${value:,.0f}" if abs(value) >= 1 else f"{value:.2f}"
    return str(value)
