"""Screening on the bundled data: known facts from the 2013 TIP Report and the rules' mechanics."""

from __future__ import annotations

import pytest

from optimizer.data import load_tables
from optimizer.scenario import EligibilitySection, load_scenario
from optimizer.screening import screen


@pytest.fixture(scope="module")
def tables():
    return load_tables()


@pytest.fixture(scope="module")
def baseline(tables):
    return screen(tables, load_scenario().eligibility, 2013).frame


def test_tier_3_country_excluded_for_its_tier(baseline):
    prk = baseline.loc["PRK"]
    assert not prk["eligible"]
    assert "Tier 3 in the 2013 TIP Report" in prk["reasons"]


def test_cspa_listed_country_excluded_for_the_list(baseline):
    cod = baseline.loc["COD"]
    assert not cod["eligible"]
    assert "Child Soldiers Prevention Act" in cod["reasons"]


def test_tier_1_country_excluded(baseline):
    assert "Tier 1" in baseline.loc["GBR", "reasons"]


def test_thailand_counts_through_the_regional_mission(baseline):
    # Thailand had no bilateral USAID mission in 2014; the regional mission in Bangkok covers it.
    assert baseline.loc["THA", "tier"] == "2WL"
    assert baseline.loc["THA", "mission_type"] == "regional_mission"
    assert baseline.loc["THA", "eligible"]


def test_every_excluded_country_has_a_reason_and_every_eligible_none(baseline):
    excluded = baseline[~baseline["eligible"]]
    assert (excluded["reasons"].str.len() > 0).all()
    assert (baseline.loc[baseline["eligible"], "reasons"] == "").all()


def test_eligible_countries_meet_the_basic_criteria(baseline):
    eligible = baseline[baseline["eligible"]]
    assert set(eligible["tier"]) <= {"2", "2WL"}
    assert not eligible["cspa_listed"].any()
    assert set(eligible["mission_type"]) <= {"bilateral", "regional_mission"}
    assert eligible["people_in_modern_slavery"].notna().all()


def test_readiness_is_the_weighted_mean_of_its_parts(baseline):
    weights = load_scenario().eligibility.readiness_weights
    row = baseline.loc["PHL"]
    parts = {k: row[f"readiness_{k}"] for k in weights}
    expected = 100 * sum(weights[k] * parts[k] for k in weights) / sum(weights.values())
    assert row["readiness"] == pytest.approx(expected, abs=0.01)


def test_ranks_cover_the_eligible_only(baseline):
    eligible = baseline[baseline["eligible"]]
    assert eligible["rank"].notna().all()
    assert baseline.loc[~baseline["eligible"], "rank"].isna().all()
    assert eligible["rank"].min() == 1


def test_threshold_excludes_with_numbers(tables):
    rules = EligibilitySection(min_rule_of_law_pct=40.0)
    frame = screen(tables, rules, 2013).frame
    low = frame[(frame["rule_of_law_pct"] < 40) & frame["tier_pass"]]
    assert len(low) > 0
    assert low["reasons"].str.contains("rule-of-law percentile .* below the minimum 40").all()


def test_missing_policy_flag_passes_with_a_flag(tables):
    strict = screen(tables, EligibilitySection(min_migration_pct=1.0), 2013).frame
    lenient = screen(tables, EligibilitySection(min_migration_pct=1.0, missing="flag"), 2013).frame
    missing = strict.index[strict["migration_pct"].isna()]
    assert len(missing) > 0
    iso = missing[0]
    assert "missing (missing = exclude)" in strict.loc[iso, "reasons"]
    assert "missing; passed" in lenient.loc[iso, "flags"]


def test_other_reference_year(tables):
    frame = screen(tables, EligibilitySection(), 2010).frame
    assert frame.loc["COD", "cspa_listed"]  # the first CSPA list, 2010


def test_country_without_a_mission_is_excluded_for_it(baseline):
    # Bolivia expelled USAID in May 2013 (Tier 2 in the 2013 report).
    bol = baseline.loc["BOL"]
    assert not bol["eligible"]
    assert "USAID: no mission known" in bol["reasons"]
