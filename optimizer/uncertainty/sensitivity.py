"""One assumption at a time: each uncertain number at its low and at its high, the rest nominal.

For every range with width (``draws.ranges``: each component's cost per outcome, saturation and
context elasticity, set for every country at once; each metric weight) and every scenario
assumption of ``SCENARIO_RANGES`` that the scenario uses (the discount rate, the tipping point,
readiness, the reach exponent, the absorptive cap, the systems dividend): the impact of the
re-solved optimum at low and at high, and whether the focus-country set changes. For the
assumptions with the largest swing whose set changes, the break-even value: between the nominal
and the end that changes the set (low first), where the set stops being the nominal one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor

import pandas as pd

from optimizer.engine import Prepared, prepare
from optimizer.scenario import Scenario
from optimizer.uncertainty.montecarlo import Study, run_point

# The scenario's assumptions, (section, key): (low, high, source), in one place. The keys'
# descriptions in optimizer/scenario.py (and docs/model.md) state the same ranges; a test checks.
SCENARIO_RANGES: dict[tuple[str, str], tuple[float, float, str]] = {
    ("budget", "discount_rate"): (
        0.0,
        0.07,
        "assumption: 0 to 7% a year (OMB Circular A-4 real rates 3% and 7%)",
    ),
    ("objective", "readiness_strength"): (0.5, 2.0, "assumption (docs/model.md, readiness)"),
    ("objective", "scale_exponent"): (0.3, 0.8, "assumption (docs/model.md, people within reach)"),
    ("selection", "absorptive_cap_usd"): (
        4e6,
        16e6,
        "assumption (docs/model.md, absorptive cap): US programme sizes",
    ),
    ("tipping", "threshold_usd_per_person"): (10.0, 40.0, "assumption (docs/model.md, section 10)"),
    ("tipping", "pillar_years"): (2, 4, "assumption: a year fewer or more than the three years"),
    ("tipping", "pillar_min_usd"): (50e3, 250e3, "assumption (docs/model.md, section 10)"),
    ("tipping", "durable_share"): (0.25, 0.75, "assumption (docs/model.md, section 10)"),
    ("tipping", "durable_years"): (3, 10, "assumption (docs/model.md, section 10)"),
    ("tipping", "decay"): (0.1, 0.4, "assumption (docs/model.md, section 10)"),
    ("tipping", "systems_dividend"): (10.0, 50.0, "assumption (docs/model.md, section 10)"),
    ("tipping", "systems_dividend_cap"): (0.1, 0.3, "assumption (docs/model.md, section 10)"),
}
TOP_BREAK_EVEN = 5
BISECTIONS = 6  # the break-even to 1/64 of the distance from nominal to low or high


def in_use(scenario: Scenario, section: str, key: str) -> bool:
    """Whether the scenario uses an assumption: not where its mechanism is off (the tipping point,
    the systems dividend, readiness, the absorptive cap); varying it would switch it on."""
    tp = scenario.tipping
    if section == "tipping" and key.startswith("systems_dividend"):
        return tp.systems_dividend > 0 and tp.systems_dividend_cap > 0
    if section == "tipping":
        return tp.durable_years > 0 and tp.durable_share > 0
    value = getattr(getattr(scenario, section), key)
    return value is not None and (key != "readiness_strength" or value > 0)


def assumptions(study: Study) -> pd.DataFrame:
    """kind, key, low, mode, high, source of every assumption with a width: the drawn ranges, then
    the scenario's assumptions in use (kind is the scenario section), each range widened to take
    in the scenario's own value."""
    table = study.table[study.table["high"] > study.table["low"]].copy()
    rows = []
    for (section, key), (low, high, source) in SCENARIO_RANGES.items():
        if in_use(study.scenario, section, key):
            value = float(getattr(getattr(study.scenario, section), key))
            rows.append((section, key, min(low, value), value, max(high, value), source))
    return pd.concat([table, pd.DataFrame(rows, columns=table.columns)], ignore_index=True)


def one_at_a_time(
    study: Study,
    pool: Executor,
    tick: Callable[[], None] = lambda: None,
    preparer: Callable[[Scenario], Prepared] = prepare,
) -> pd.DataFrame:
    """One row per assumption: impact and focus countries at low and at high, sorted by swing."""
    table = assumptions(study)
    futures = {}
    for i, row in enumerate(table.itertuples(index=False)):
        for side in ("low", "high"):
            value = getattr(row, side)
            task = (study, 2 * i + (side == "high"), row.kind, row.key, value, preparer)
            futures[(i, side)] = pool.submit(run_point, *task)
    mode_set = ";".join(study.mode_selected)
    for side in ("low", "high"):
        impacts, sets = [], []
        for i in range(len(table)):
            outcome = futures[(i, side)].result()
            tick()
            impacts.append(outcome.impact)
            sets.append(
                ";".join(outcome.selected) if outcome.impact is not None else outcome.status
            )
        table[f"impact_{side}"] = impacts
        table[f"focus_{side}"] = sets
        table[f"set_changes_{side}"] = [s != mode_set for s in sets]
    table["swing"] = (table["impact_high"] - table["impact_low"]).abs()
    table["break_even"] = float("nan")
    table["break_even_side"] = ""
    return by_swing(table)


def by_swing(table: pd.DataFrame) -> pd.DataFrame:
    """Largest swing first; swings equal to the 6 decimals the CSV shows (solver noise, such as
    1e-11 against 0) in kind and key order, so the order does not depend on that noise."""
    return table.sort_values(
        ["swing", "kind", "key"],
        ascending=[False, True, True],
        ignore_index=True,
        key=lambda column: column.round(6) if column.name == "swing" else column,
    )


def break_even(
    study: Study,
    row: pd.Series,
    preparer: Callable[[Scenario], Prepared] = prepare,
) -> float | None:
    """Where between the nominal value and the end that changes the focus-country set (the low
    end if it does, else the high end) the set stops being the nominal one, by bisection: the
    first value found on the changed side. None if neither end changes the set."""
    side = "low" if row["set_changes_low"] else "high" if row["set_changes_high"] else None
    if side is None:
        return None
    same, changed = float(row["mode"]), float(row[side])
    whole = isinstance(_nominal(study, row["kind"], row["key"]), int)  # years: whole numbers
    for _ in range(BISECTIONS):
        middle = 0.5 * (same + changed)
        if whole:
            middle = float(round(middle))
            if middle in (same, changed):
                break
        outcome = run_point(study, -1, row["kind"], row["key"], middle, preparer)
        if outcome.selected == study.mode_selected:
            same = middle
        else:
            changed = middle
    return changed


def _nominal(study: Study, kind: str, key: str) -> float | int | None:
    """A scenario assumption's value (None for a drawn range)."""
    return getattr(getattr(study.scenario, kind), key) if (kind, key) in SCENARIO_RANGES else None


def with_break_even(
    study: Study,
    table: pd.DataFrame,
    preparer: Callable[[Scenario], Prepared] = prepare,
    top: int = TOP_BREAK_EVEN,
) -> pd.DataFrame:
    """``table`` with the break-even value of its ``top`` largest swings that change the set."""
    table = table.copy()
    changes = table.index[table["set_changes_low"] | table["set_changes_high"]][:top]
    for i in changes:
        table.loc[i, "break_even"] = break_even(study, table.loc[i], preparer)
        table.loc[i, "break_even_side"] = "low" if table.loc[i, "set_changes_low"] else "high"
    return table
