"""Terminal views: the screen table and the run summary (readable at 100 columns)."""

from __future__ import annotations

import math
import textwrap

import pandas as pd

from optimizer.report.tables import ReportTables, report_tables
from optimizer.result import Result
from optimizer.scenario import usd
from optimizer.vocabulary import MISSION_SHORT

WIDTH = 100
TRADEOFFS_SHOWN = 8  # trade-off sentences in the run summary; summary.json has them all


def _num(value: float, fmt: str = "{:.0f}") -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else fmt.format(value)
    )


def _one_line(text: object) -> str:
    """Free text for a terminal line: control characters (newlines, escapes) become spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())


def screen_table(frame: pd.DataFrame, year: int) -> str:
    """Eligible countries by readiness rank, then the excluded with their reasons."""
    eligible = frame[frame["eligible"]].sort_values(["rank", "name"])
    excluded = frame[~frame["eligible"]].sort_values("name")
    head = (
        f"{'rank':>4} {'iso':3} {'country':<22} {'reg':3} {'tier':<5} {'usaid':<6} "
        f"{'RL':>3} {'CC':>3} {'VA':>3} {'mig':>3} {'FL':>2} {'slavery':>9} {'ready':>5}  flags"
    )
    lines = [
        f"Focus-country screen, {year} TIP Report: {len(eligible)} eligible of {len(frame)}",
        "",
        head,
    ]
    lines.append("-" * len(head))
    for iso, row in eligible.iterrows():
        tier = str(row["tier"])
        line = (
            f"{_num(row['rank']):>4} {iso:3} {_one_line(row['name'])[:22]:<22} {row['region']:3} {tier:<5} "
            f"{MISSION_SHORT.get(row['mission_type'], '?'):<6} "
            f"{_num(row['rule_of_law_pct']):>3} {_num(row['control_of_corruption_pct']):>3} "
            f"{_num(row['voice_accountability_pct']):>3} {_num(row['migration_pct']):>3} "
            f"{_num(row['forced_labor_goods']):>2} "
            f"{_num(row['people_in_modern_slavery'], '{:,.0f}'):>9} {_num(row['readiness'], '{:.1f}'):>5}"
        )
        flags = "  " + row["flags"] if row["flags"] else ""
        lines.append((line + flags)[:WIDTH])
    lines += ["", f"Excluded ({len(excluded)}):"]
    for iso, row in excluded.iterrows():
        label = f"  {iso} {_one_line(row['name'])[:22]:<22} "
        wrapped = textwrap.wrap(row["reasons"], WIDTH - len(label)) or [""]
        lines.append(label + wrapped[0])
        lines += [" " * len(label) + w for w in wrapped[1:]]
    lines += [
        "",
        *textwrap.wrap(
            "RL, CC, VA: WGI percentiles (rule of law, control of corruption, voice and "
            "accountability); mig: migration percentile (larger of migrants as people and as a "
            "share of population); FL: goods on the US DOL List of Goods (2016 edition) for "
            "forced labour; ready: readiness 0-100.",
            WIDTH,
        ),
    ]
    return "\n".join(lines)


def _table(keys: pd.Series, frame: pd.DataFrame, label: str) -> list[str]:
    """``label``, then one line per row of a ``tables.totals`` frame: key, amount, share."""
    lines = [label]
    for key, amount, share in zip(keys, frame["amount_usd"], frame["share"], strict=True):
        lines.append(f"  {str(key)[:40]:<40} {usd(amount):>10} {share:>6.1%}")
    return lines


def _tipping_lines(s, t: ReportTables) -> list[str]:
    """Which compacts cross the tipping point, what that is worth, and why the years look so."""
    lines = []
    if s.dividend_impact is not None:
        text = (
            f"Capacity that builds: coordination and data spent in earlier years add "
            f"{s.dividend_impact:,.0f} impact units to later services (docs/model.md, section 10)."
        )
        lines += ["", *textwrap.wrap(text, WIDTH)]
    if t.durable_share is None:
        return lines
    text = (
        f"Tipping point: {len(s.tipped)} of {len(s.selected)} focus countries cross it "
        f"({', '.join(s.tipped) or 'none'}); their outcomes after the compact add "
        f"{s.durable_impact:,.0f} impact units ({t.durable_share:.0%} of the objective). Durable outcomes "
        "are a share of each compact's final-year outcomes and the absorptive cap limits any one "
        "year, so compacts build up to their last year rather than front-load money as the "
        "discount rate alone would (docs/model.md, section 10)."
    )
    return [*lines, "", *textwrap.wrap(text, WIDTH)]


def run_summary(result: Result, tables: ReportTables | None = None) -> str:
    """What a planner reads at a glance: status, choices, totals, outcomes, binding rules (the
    figures from ``tables``, by default the result's ``report_tables``)."""
    s = result.summary
    t = tables if tables is not None else report_tables(result)
    gap = "-" if s.gap is None else f"{100 * s.gap:.4f}%"
    lines = [
        f"Scenario {_one_line(s.scenario)}: {s.status} ({s.solver}, gap {gap}, "
        f"build {s.build_seconds:.2f}s, solve {s.solve_seconds:.2f}s"
        + (f", trade-offs {s.tradeoffs_seconds:.2f}s)" if s.tradeoffs_seconds else ")"),
        f"Budget used {usd(s.budget_used_usd)} of {usd(s.budget_usd)} over {s.years[0]}-{s.years[-1]}; "
        f"{len(s.selected)} focus countries from {len(s.eligible)} eligible",
    ]
    if s.overrides:
        sets = ", ".join(f"--set {_one_line(o)}" for o in s.overrides)
        lines[1:1] = textwrap.wrap(f"What-if: {sets}", WIDTH, subsequent_indent="  ")
    lines += [line for w in s.warnings for line in textwrap.wrap(f"WARNING: {w}", WIDTH)]
    lines += [line for note in s.notes for line in textwrap.wrap(f"Note: {note}", WIDTH)]
    countries = t.by_country["iso3"] + " " + t.by_country["country"].map(_one_line)
    lines += ["", *_table(countries, t.by_country, "By focus country")]
    lines += ["", *_table(t.by_pillar["pillar"], t.by_pillar, "By pillar")]
    lines += ["", *_table(t.by_channel["channel"], t.by_channel, "By channel")]
    lines += ["", "By year"] + [
        f"  {y}  {usd(a):>10}"
        for y, a in zip(t.by_year["year"], t.by_year["amount_usd"], strict=True)
    ]
    lines += ["", *_compact_lines(t)]
    lines += _tipping_lines(s, t)
    outcomes = t.outcomes
    if len(outcomes):
        lines += [
            "",
            f"Projected outcomes over {len(s.years)} years",
            f"  {'metric':<26} {'outcomes':>12} {'cost each':>11} {'share of impact':>16}",
        ]
        for row in outcomes.itertuples():
            cost = (
                "-" if math.isnan(row.cost_per_outcome_usd) else f"${row.cost_per_outcome_usd:,.0f}"
            )
            lines.append(
                f"  {row.metric[:26]:<26} {row.outcome:>12,.0f} {cost:>11} {row.share:>16.1%}"
            )
        lines.append(f"  {'weighted impact (objective, impact units)':<51} {s.objective:>14,.0f}")
        lines.append(
            "  Impact units weigh each metric by a value judgment (docs/model.md, section 5);"
        )
        lines.append("  the share column shows which metrics drive this allocation.")
    if s.tradeoffs:
        lines += ["", "Trade-offs (exact re-solves; marginal values keep the same focus countries)"]
        for sentence in s.tradeoffs[:TRADEOFFS_SHOWN]:
            wrapped = textwrap.wrap(sentence, WIDTH - 4) or [""]
            lines += ["  - " + wrapped[0], *("    " + w for w in wrapped[1:])]
        if len(s.tradeoffs) > TRADEOFFS_SHOWN:
            more = len(s.tradeoffs) - TRADEOFFS_SHOWN
            lines.append(f"  (+{more} more in summary.json; every price in tradeoffs.csv)")
    lines += ["", "Rules that bind (tight at the optimum)"]
    if not s.binding:
        lines.append("  none: the allocation is limited only by diminishing returns")
    for family, names in zip(t.binding["family"], t.binding["names"], strict=True):
        lines.append(_names_that_fit(f"  {family:<16} ", list(names)))
    return "\n".join(lines)


def _compact_lines(t: ReportTables) -> list[str]:
    """Money by funding stream and, with co-financing, the US share year by year."""
    head = "By funding stream (streams.csv; host = co-financing)"
    lines = _table(t.by_stream["stream"], t.by_stream, head)
    shares = t.us_share
    if len(shares) and (shares["us_share"] < 1.0 - 1e-9).any():
        path = ", ".join(
            f"{y} {v:.0%}" for y, v in zip(shares["year"], shares["us_share"], strict=True)
        )
        lines += textwrap.wrap(f"US share of the compacts by year: {path}", WIDTH)
    return lines


def _names_that_fit(head: str, names: list[str]) -> str:
    """``head`` then as many whole names as fit in WIDTH, and how many more there are."""
    for count in range(len(names), 0, -1):
        more = f" (+{len(names) - count} more)" if count < len(names) else ""
        line = head + ", ".join(names[:count]) + more
        if len(line) <= WIDTH:
            return line
    return f"{head}({len(names)} rows)"
