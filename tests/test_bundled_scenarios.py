"""Every scenario in scenarios/ runs, and every rule holds in its allocation.

The checks read only the allocation (as a planner's spreadsheet would) plus the scenario, the
catalogue and the screen: they do not trust the model's own rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from optimizer.catalogue import DEFAULT_CATALOGUE, load_catalogue
from optimizer.report.text import run_summary
from optimizer.scenario import SCENARIO_DIR, load_scenario, usd

SCENARIOS = sorted(SCENARIO_DIR.glob("*.toml"))
TOL = 50.0  # dollars: rows are whole dollars (totals by country and year are exact, by row not)


@pytest.fixture(params=SCENARIOS, ids=lambda p: p.stem)
def solved(request, bundled):
    return bundled(request.param.stem)


def test_there_are_what_ifs():
    names = {p.stem for p in SCENARIOS}
    assert {"baseline", "labor-focus", "child-protection-compact", "austerity"} <= names
    assert {"concentrate", "spread", "three-year", "five-year"} <= names


def test_status_and_summary(solved):
    scenario, result = solved
    s = result.summary
    assert s.status == "optimal"
    assert s.gap is not None and s.gap <= scenario.solver.mip_gap + 1e-9
    assert s.bound >= s.objective - 1e-6 * abs(s.objective)
    assert set(s.selected) <= set(s.eligible)
    durable = s.durable_impact or 0.0  # outcomes after the compact (tipping point)
    assert result.outcomes["impact"].sum() + durable == pytest.approx(s.objective, rel=1e-5)


def test_budget_and_annual_caps(solved):
    scenario, result = solved
    alloc = result.allocation
    assert (alloc["amount_usd"] > 0).all()
    assert alloc["amount_usd"].sum() <= scenario.budget.total_usd  # whole dollars that add up
    assert set(alloc["year"]) <= set(scenario.years)
    if scenario.budget.annual_cap_usd is not None:
        assert (result.totals("year") <= scenario.budget.annual_cap_usd).all()


def test_totals_to_the_dollar(solved):
    """Whole dollars that add up: where a rule binds, the file's total is the rule's amount."""
    scenario, result = solved
    alloc, s = result.allocation, result.summary
    assert (alloc["amount_usd"] == alloc["amount_usd"].round(0)).all()
    assert alloc["amount_usd"].sum() == s.budget_used_usd
    if "budget_total" in s.binding.get("budget", []):
        assert s.budget_used_usd == scenario.budget.total_usd
    by_country, by_year = result.totals("iso3"), result.totals("year")
    for name in s.binding.get("compact_max", []):
        assert by_country[name.removeprefix("compact_max_")] == scenario.selection.max_compact_usd
    for name in s.binding.get("annual_cap", []):
        assert by_year[int(name.removeprefix("annual_cap_"))] == scenario.budget.annual_cap_usd


def test_money_left_unspent_is_explained(solved):
    _scenario, result = solved
    s = result.summary
    said = [w for w in s.warnings if "left unspent: " in w]
    if s.budget_usd - s.budget_used_usd >= 1_000:
        assert len(said) == 1 and said[0].startswith(usd(s.budget_usd - s.budget_used_usd))
    else:
        assert said == []


def test_every_metric_is_shown_even_at_zero(solved):
    scenario, result = solved
    metrics = load_catalogue(scenario.data.catalogue or DEFAULT_CATALOGUE).metrics
    assert sorted(result.summary.outcomes_by_metric) == sorted(metrics)
    text = run_summary(result)
    for metric, value in result.summary.outcomes_by_metric.items():
        assert re.search(rf"^  {re.escape(metric[:26])} +{value:,.0f} ", text, re.M), metric


def test_compact_size_minimum_or_zero_and_maximum(solved):
    scenario, result = solved
    sel = scenario.selection
    totals = result.totals("iso3")
    assert (totals >= sel.min_compact_usd).all()
    assert (totals <= sel.max_compact_usd).all()
    assert sorted(totals.index) == result.summary.selected


def test_country_count_locks_and_regions(solved):
    scenario, result = solved
    sel = scenario.selection
    chosen = result.summary.selected
    assert sel.min_countries <= len(chosen) <= sel.max_countries
    assert set(sel.lock_in) <= set(chosen)
    assert not set(sel.lock_out) & set(chosen)
    regions = result.screen.loc[chosen, "region"].value_counts()
    for region, limit in sel.region_max.items():
        assert regions.get(region, 0) <= limit


def _shares(result, column: str) -> pd.DataFrame:
    alloc = result.allocation
    by = alloc.groupby(["iso3", column])["amount_usd"].sum().unstack(fill_value=0.0)
    return by


def test_pillar_floors_per_compact(solved):
    scenario, result = solved
    by = _shares(result, "pillar")
    totals = by.sum(axis=1)
    for pillar, share in scenario.policy.pillar_floor_share.items():
        got = by.get(pillar, 0.0)
        assert (got >= share * totals - TOL).all(), pillar


def test_earmarks_across_the_portfolio(solved):
    scenario, result = solved
    catalogue = load_catalogue()
    alloc = result.allocation
    total = alloc["amount_usd"].sum()
    for tag, share in scenario.policy.earmark_share.items():
        tagged = [k for k, c in catalogue.components.items() if tag in c.tags]
        spent = alloc.loc[alloc["component"].isin(tagged), "amount_usd"].sum()
        assert spent >= share * total - TOL, tag


def test_government_cap_where_corruption_is_weak(solved):
    scenario, result = solved
    cap = scenario.policy.government_cap_share
    if cap is None:
        pytest.skip("no government cap in this scenario")
    by = _shares(result, "channel")
    cc = result.screen["control_of_corruption_pct"]
    weak = [c for c in by.index if cc[c] < scenario.policy.weak_corruption_pct]
    for iso in weak:
        gov = by.loc[iso].get("government", 0.0)
        assert gov <= cap * by.loc[iso].sum() + TOL, iso


def test_me_floor_per_compact(solved):
    scenario, result = solved
    catalogue = load_catalogue()
    me = [k for k, c in catalogue.components.items() if "me_data" in c.tags]
    alloc = result.allocation
    totals = alloc.groupby("iso3")["amount_usd"].sum()
    me_spend = alloc[alloc["component"].isin(me)].groupby("iso3")["amount_usd"].sum()
    share = scenario.policy.me_floor_share
    assert (me_spend.reindex(totals.index, fill_value=0) >= share * totals - TOL).all()


def test_ramps(solved):
    scenario, result = solved
    years = result.allocation.groupby(["iso3", "year"])["amount_usd"].sum().unstack(fill_value=0.0)
    years = years.reindex(columns=scenario.years, fill_value=0.0)
    up, down = scenario.policy.ramp_up, scenario.policy.ramp_down
    for prev, year in zip(scenario.years, scenario.years[1:], strict=False):
        if up is not None:
            assert (years[year] <= (1 + up) * years[prev] + TOL).all()
        if down is not None:
            assert (years[year] >= (1 - down) * years[prev] - TOL).all()


def test_scenario_paths_resolve(tmp_path):
    """A scenario elsewhere that extends a bundled one by absolute path still loads."""
    child = tmp_path / "mine.toml"
    child.write_text(f'extends = "{Path(SCENARIO_DIR, "baseline.toml").as_posix()}"\n')
    assert load_scenario(child).budget.total_usd == 250e6


def test_sector_components_only_where_the_sector_is_listed(solved):
    _scenario, result = solved
    sector = {k: c.sector for k, c in load_catalogue().components.items()}
    rows = result.allocation[result.allocation["component"].map(sector) != "none"]
    for iso, component in zip(rows["iso3"], rows["component"], strict=True):
        assert result.screen.loc[iso, f"sector_{sector[component]}"], (iso, component)
