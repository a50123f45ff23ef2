"""The context measures from issue 10: the migration measure (people and share), and
labour-trafficking exposure from the DOL List of Goods as a screening rule and readiness part."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.data import load_tables, migration_percentile
from optimizer.impact import context_values
from optimizer.report.text import screen_table
from optimizer.scenario import EligibilitySection, load_scenario
from optimizer.screening import screen


@pytest.fixture(scope="module")
def tables():
    return load_tables()


@pytest.fixture(scope="module")
def baseline(tables):
    return screen(tables, load_scenario().eligibility, 2013).frame


def _with(**rules: object) -> EligibilitySection:
    return load_scenario().eligibility.model_copy(update=rules)


# ---------------------------------------------------------------- the migration measure


def test_migration_percentile_is_the_larger_of_the_two_ranks():
    stock = pd.Series([10e6, 0.1e6, 1e6, None], index=list("abcd"))
    share = pd.Series([1.0, 50.0, 10.0, 5.0], index=list("abcd"))
    got = migration_percentile(stock, share)
    # stock ranks 1, 1/3, 2/3 (d missing); share ranks 1/4, 1, 3/4, 1/2
    assert got["a"] == pytest.approx(100.0)  # many migrants, small share
    assert got["b"] == pytest.approx(100.0)  # few migrants, large share
    assert got["c"] == pytest.approx(75.0)
    assert pd.isna(got["d"])  # no stock: missing, not low


def test_large_origin_countries_do_not_count_as_having_little_migration(baseline):
    share_rank = baseline["migrant_share_pct"].rank(pct=True)
    for iso in ("IND", "PHL", "BGD", "PAK", "MEX"):
        assert baseline.loc[iso, "migrant_stock"] > 4e6, iso  # millions of migrants
        assert baseline.loc[iso, "migration_pct"] >= 90, iso
    assert share_rank["IND"] < 0.1 and share_rank["PHL"] < 0.25  # what the share alone said
    # a small country where migrants are a large share still counts
    assert baseline.loc["TON", "migrant_stock"] < 1e5 and baseline.loc["TON", "migration_pct"] > 90


def test_context_and_readiness_use_the_migration_measure(baseline):
    ctx = context_values(baseline)
    pd.testing.assert_series_equal(ctx["migration"], baseline["migration_pct"], check_names=False)
    assert baseline.loc["IND", "readiness_migration"] == pytest.approx(
        baseline.loc["IND", "migration_pct"] / 100, abs=1e-4
    )


def test_migration_threshold_excludes_with_the_number(tables):
    frame = screen(tables, _with(min_migration_pct=50.0), 2013).frame
    low = frame[(frame["migration_pct"] < 50) & frame["tier_pass"]]
    assert len(low) > 0 and not low["migration_pass"].any()
    assert low["reasons"].str.contains(r"migration percentile \d+\.\d below the minimum 50").all()
    assert frame.loc["IND", "migration_pass"]


# ---------------------------------------------------------------- labour-trafficking exposure


def test_forced_labour_rule_is_off_in_the_baseline(baseline):
    assert load_scenario().eligibility.min_forced_labor_goods is None
    assert baseline["forced_labor_pass"].all()
    assert not baseline["reasons"].str.contains("List of Goods").any()
    assert "labor_exposure" not in load_scenario().eligibility.readiness_weights


def test_forced_labour_rule_excludes_countries_without_a_listed_good(tables, baseline):
    frame = screen(tables, _with(min_forced_labor_goods=1), 2013).frame
    assert frame.loc["IND", "eligible"] and frame.loc["THA", "eligible"]
    assert not frame.loc["MEX", "eligible"] and not frame.loc["PHL", "eligible"]
    assert (
        "no good on the US DOL List of Goods (2016 edition) for forced labour, below the "
        "minimum 1 (labour-trafficking exposure)" in frame.loc["MEX", "reasons"]
    )
    kept = frame.index[frame["eligible"]]
    assert set(kept) == set(
        baseline.index[baseline["eligible"] & (baseline["forced_labor_goods"] > 0)]
    )
    two = screen(tables, _with(min_forced_labor_goods=2), 2013).frame
    assert "1 good on the US DOL List" in two.loc["IDN", "reasons"]


def test_labour_exposure_readiness_part(tables, baseline):
    part = baseline["readiness_labor_exposure"]
    none = baseline["forced_labor_goods"] == 0
    assert (part[none] == 0).all() and (part[~none] > 0).all() and part.max() == 1.0
    assert part["IND"] > part["IDN"]  # 7 goods against 1
    weights = {**load_scenario().eligibility.readiness_weights, "labor_exposure": 0.25}
    frame = screen(tables, _with(readiness_weights=weights), 2013).frame
    assert frame.loc["IND", "readiness"] > baseline.loc["IND", "readiness"]
    assert frame.loc["CRI", "readiness"] < baseline.loc["CRI", "readiness"]  # none listed


def test_screen_table_shows_migration_and_forced_labour_goods(baseline):
    text = screen_table(baseline, 2013)
    header = next(line for line in text.splitlines() if line.startswith("rank"))
    assert " mig FL " in header
    india = next(line for line in text.splitlines() if " IND India " in line)
    assert " 99  7 " in india
    assert "FL: goods on the US DOL List of Goods (2016 edition) for forced" in " ".join(
        text.split()
    )
