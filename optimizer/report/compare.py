"""Runs side by side, their changes against the first, and the assumptions that differ.

``side_by_side`` gives one row per figure (section, item, unit) and one column per run, then one
``change <label>`` column per later run (its value minus the first run's, for numbers).
``assumptions_diff`` lists every resolved scenario key whose value differs between the runs, and
every input file whose hash differs.
"""

from __future__ import annotations

import math
import tomllib
from typing import Any

import pandas as pd

from optimizer.report.sources import Run
from optimizer.report.text import _one_line as one_line  # the terminal views' own rule
from optimizer.scenario import usd

NOT_SET = "(not set)"
TEXT_WIDTH = 40  # terminal table: longest cell
KEY_COLUMNS = ["section", "item", "unit"]


def _rows(run: Run) -> dict[tuple[str, str, str], Any]:
    """Every figure of one run, keyed by (section, item, unit)."""
    s, t = run.result.summary, run.tables
    rows: dict[tuple[str, str, str], Any] = {
        ("run", "status", "text"): s.status,
        ("run", "gap", "share"): s.gap,
        ("run", "budget", "usd"): s.budget_usd,
        ("run", "budget used", "usd"): s.budget_used_usd,
        ("run", "focus countries", "count"): len(s.selected),
        ("run", "focus list", "text"): " ".join(s.selected),
        ("run", "impact (objective)", "impact"): s.objective,
    }
    for row in t.by_country.itertuples():
        rows[("country", f"{row.iso3} {row.country}", "usd")] = row.amount_usd
    for section, frame in (("pillar", t.by_pillar), ("channel", t.by_channel), ("year", t.by_year)):
        for key, amount in frame[[section, "amount_usd"]].itertuples(index=False):
            rows[(section, str(key), "usd")] = amount
    for stream, amount in t.by_stream.sort_values("stream")[["stream", "amount_usd"]].itertuples(
        index=False
    ):
        rows[("stream", stream, "usd")] = amount
    for year, share in t.us_share.itertuples(index=False):
        rows[("US share", year, "share")] = share
    for row in t.outcomes.itertuples():
        rows[("outcomes", row.metric, "count")] = row.outcome
        rows[("cost per outcome", row.metric, "usd_each")] = row.cost_per_outcome_usd
        rows[("share of impact", row.metric, "share")] = row.share
    return rows


SECTION_ORDER = [
    "run",
    "country",
    "pillar",
    "channel",
    "year",
    "stream",
    "US share",
    "outcomes",
    "cost per outcome",
    "share of impact",
]
# Missing in a run means none of it: no money, no outcomes (cost per outcome stays undefined).
ZERO_WHEN_MISSING = {
    *("country", "pillar", "channel", "year", "stream", "outcomes", "share of impact"),
}


def side_by_side(runs: list[Run]) -> pd.DataFrame:
    """One row per figure, one column per run, then the change of each later run from the first."""
    labels = [r.label for r in runs]
    per_run = [_rows(r) for r in runs]
    keys: list[tuple[str, str, str]] = []
    for rows in per_run:
        keys += [k for k in rows if k not in keys]
    keys.sort(key=lambda k: SECTION_ORDER.index(k[0]))  # stable: first-seen order within a section
    records = []
    for key in keys:
        values = [rows.get(key, 0.0 if key[0] in ZERO_WHEN_MISSING else None) for rows in per_run]
        records.append([*key, *values, *_changes(values)])
    changes = [f"change {label}" for label in labels[1:]]
    return pd.DataFrame(records, columns=[*KEY_COLUMNS, *labels, *changes])


def _changes(values: list[Any]) -> list[Any]:
    first = values[0]
    out = []
    for value in values[1:]:
        if _is_number(first) and _is_number(value):
            out.append(value - first)
        elif first == value or _missing(first) or _missing(value):
            out.append(None)
        else:
            out.append("differs")
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
    )


def flat_keys(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A TOML table as dotted keys: {"budget.total_usd": 250e6, ...}; inline tables flattened too."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_keys(value, name + "."))
        else:
            out[name] = value
    return out


def assumptions_diff(runs: list[Run]) -> pd.DataFrame:
    """Scenario keys and input files that differ: key, then the value in each run."""
    labels = [r.label for r in runs]
    scenarios = [flat_keys(tomllib.loads(r.result.scenario_toml or "")) for r in runs]
    inputs = [
        {
            f"input {name}": digest[:12]
            for name, digest in r.result.manifest.get("inputs", {}).items()
        }
        for r in runs
    ]
    rows = []
    for tables in (scenarios, inputs):
        keys = sorted({k for t in tables for k in t})
        for key in keys:
            values = [t.get(key, NOT_SET) for t in tables]
            if any(v != values[0] for v in values[1:]) and key != "name":
                rows.append([key, *(_shown(v) for v in values)])
    return pd.DataFrame(rows, columns=["key", *labels])


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e4:
        return f"{value:,.0f}"
    return str(value)


def one_table(table: pd.DataFrame, diff: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table with the assumptions diff appended as section "assumption" rows
    (one table for CSV: key in ``item``, unit ``text``, change ``differs``)."""
    labels = list(diff.columns[1:])
    rows = diff.rename(columns={"key": "item"}).assign(section="assumption", unit="text")
    for label in labels[1:]:
        rows[f"change {label}"] = [
            None if a == b else "differs" for a, b in zip(rows[labels[0]], rows[label], strict=True)
        ]
    return pd.concat([table, rows[table.columns]], ignore_index=True)


# ---------------------------------------------------------------------------- rendering


def cell(value: Any, unit: str) -> str:
    """A figure for people: $ amounts, percentages, counts; blank when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "text" or not _is_number(value):
        return str(value)
    if unit == "usd":
        return money(value)
    if unit == "usd_each":
        return dollars_each(value)
    if unit == "share":
        return f"{100 * value:.2f}%"
    return f"{value:,.0f}"


def money(amount: float) -> str:
    """Dollars as ``usd`` writes them, and small amounts (rounding differences) to the dollar."""
    return usd(amount) if abs(amount) >= 1e3 else f"${amount:,.0f}".replace("$-", "-$")


def dollars_each(amount: float) -> str:
    """Cost per outcome: cents below $10 (evidence coverage costs about $2 an outcome)."""
    text = f"${abs(amount):,.2f}" if abs(amount) < 10 else f"${abs(amount):,.0f}"
    return ("-" if amount < 0 else "") + text


def change_cell(value: Any, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not _is_number(value):
        return str(value)
    if unit == "share":
        return f"{100 * value:+.2f} pt"
    if value == 0:
        return "0"
    text = cell(abs(value), unit)
    return ("+" if value > 0 else "-") + text


def formatted(frame: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side frame with every figure as text (for terminal and Markdown)."""
    out = frame[["section", "item"]].copy()
    for col in frame.columns[3:]:
        render = change_cell if col.startswith("change ") else cell
        out[col] = [render(v, u) for v, u in zip(frame[col], frame["unit"], strict=True)]
    return out


def as_text(frame: pd.DataFrame, diff: pd.DataFrame) -> str:
    """Terminal table: sections, then the assumptions that differ; one line per row, cells of
    free text cut at TEXT_WIDTH (the CSV and Markdown formats keep them whole)."""
    shown = formatted(frame).map(lambda v: _fit(one_line(v)))
    cols = list(shown.columns[1:])
    widths = {c: max(len(str(c)), *(len(v) for v in shown[c])) for c in cols}

    def line(values: list[str]) -> str:
        return "  ".join(
            f"{v:<{widths[c]}}" if c == "item" else f"{v:>{widths[c]}}"
            for c, v in zip(cols, values, strict=True)
        )

    lines = [line([_fit(c) for c in cols])]
    for section, part in shown.groupby("section", sort=False):
        lines += ["", section]
        lines += [line(list(row)[1:]) for row in part.itertuples(index=False)]
    lines += ["", "Assumptions that differ (resolved scenarios and input file hashes)"]
    if not len(diff):
        lines.append("  none: the runs share every scenario value and input file")
    for key, *values in diff.itertuples(index=False):
        pairs = zip(diff.columns[1:], values, strict=True)
        lines.append(
            f"  {one_line(key)}: " + " | ".join(f"{lab}={one_line(v)}" for lab, v in pairs)
        )
    return "\n".join(lines)


def _fit(text: str) -> str:
    return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 1] + "…"


def as_markdown(frame: pd.DataFrame, diff: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown: the comparison table and the assumptions table."""
    shown = formatted(frame)
    parts = [
        _md_table(shown),
        "",
        "Assumptions that differ",
        "",
        _md_table(diff) if len(diff) else "none",
    ]
    return "\n".join(parts)


def _md_table(frame: pd.DataFrame) -> str:
    def esc(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(esc(c) for c in frame.columns) + " |",
        "|" + "|".join(" --- " for _ in frame.columns) + "|",
    ]
    lines += [
        "| " + " | ".join(esc(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)
