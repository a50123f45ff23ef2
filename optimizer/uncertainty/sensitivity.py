"""One assumption at a time: each uncertain number at its low and at its high, the rest nominal.

For every range with width (``draws.ranges``: each component's cost per outcome, saturation and
context elasticity, set for every country at once; each metric weight) and the discount rate: the
impact of the re-solved optimum at low and at high, and whether the focus-country set changes.
For the assumptions with the largest swing whose set changes, the break-even value: between the
nominal and the end that changes the set (low first), where the set stops being the nominal one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor

import pandas as pd

from optimizer.engine import Prepared, prepare
from optimizer.scenario import Scenario
from optimizer.uncertainty.montecarlo import Study, run_point

# Assumption: discount rates from 0 (no time preference) to 7% a year, the higher of the two real
# rates in US OMB Circular A-4 (2003) for regulatory analysis (3% and 7%).
DISCOUNT_RANGE = (0.0, 0.07)
DISCOUNT_SOURCE = "assumption: 0 to 7% a year (OMB Circular A-4 real rates 3% and 7%)"
TOP_BREAK_EVEN = 5
BISECTIONS = 6  # the break-even to 1/64 of the distance from nominal to low or high


def assumptions(study: Study) -> pd.DataFrame:
    """kind, key, low, mode, high, source of every assumption with a width."""
    table = study.table[study.table["high"] > study.table["low"]].copy()
    rate = study.scenario.budget.discount_rate
    low, high = min(DISCOUNT_RANGE[0], rate), max(DISCOUNT_RANGE[1], rate)
    discount = pd.DataFrame(
        [("discount_rate", "budget", low, rate, high, DISCOUNT_SOURCE)], columns=table.columns
    )
    return pd.concat([table, discount], ignore_index=True)


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
    return table.sort_values(
        ["swing", "kind", "key"], ascending=[False, True, True], ignore_index=True
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
    for _ in range(BISECTIONS):
        middle = 0.5 * (same + changed)
        outcome = run_point(study, -1, row["kind"], row["key"], middle, preparer)
        if outcome.selected == study.mode_selected:
            same = middle
        else:
            changed = middle
    return changed


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
