"""Focus-country screening: the ATEST paper's indicators as rules from the scenario.

Every country gets a pass/fail per rule, the reasons for exclusion in plain words, flags for what
passed on missing data, and a transparent readiness ("tipping point") index with each part shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.data import Tables, country_view
from optimizer.scenario import EligibilitySection
from optimizer.vocabulary import MISSION_LABEL, TIER_LABEL

TIER_POINTS = {"1": 3.0, "2": 2.0, "2WL": 1.0, "3": 0.0}
TREND_YEARS = 3

# (rule name, indicator column, scenario threshold attribute, words for a reason)
THRESHOLDS = [
    ("rule_of_law", "rule_of_law_pct", "min_rule_of_law_pct", "rule-of-law percentile"),
    (
        "control_of_corruption",
        "control_of_corruption_pct",
        "min_control_of_corruption_pct",
        "control-of-corruption percentile",
    ),
    (
        "voice_accountability",
        "voice_accountability_pct",
        "min_voice_accountability_pct",
        "voice-and-accountability percentile",
    ),
    ("migration", "migration_pct", "min_migration_pct", "migration percentile"),
]


@dataclass(frozen=True)
class Screen:
    """The screen of every TIP-rated country for one reference year (plain data)."""

    reference_year: int
    frame: pd.DataFrame  # index iso3; see ``screen`` for the columns

    @property
    def eligible(self) -> list[str]:
        return sorted(self.frame.index[self.frame["eligible"]])


def _tier_trend(tables: Tables, reference_year: int) -> pd.Series:
    """Tier points now minus TREND_YEARS reports earlier, scaled to 0..1 (0.5 = no change)."""
    tiers = tables.tip_tiers.pivot(index="iso3", columns="report_year", values="tier")
    now = tiers.get(reference_year)
    before = tiers.get(reference_year - TREND_YEARS)
    if now is None or before is None:
        return pd.Series(np.nan, index=tiers.index)
    delta = now.map(TIER_POINTS) - before.map(TIER_POINTS)
    return (delta + 3.0) / 6.0


def _rank01(values: pd.Series) -> pd.Series:
    """Percentile rank in 0..1 among countries with data (ties share the mean rank)."""
    return values.rank(pct=True, method="average")


def _labor_exposure(forced_goods: pd.Series) -> pd.Series:
    """0 where no good is listed for forced labour, else the percentile rank (0..1] of the
    number of such goods among the countries with at least one."""
    count = forced_goods.astype("float64")
    return _rank01(count.where(count > 0)).fillna(0.0)


def readiness_parts(view: pd.DataFrame, tables: Tables, reference_year: int) -> pd.DataFrame:
    """Each readiness indicator normalised to 0..1 (NaN where missing)."""
    return pd.DataFrame(
        {
            "rule_of_law": view["rule_of_law_pct"] / 100.0,
            "control_of_corruption": view["control_of_corruption_pct"] / 100.0,
            "voice_accountability": view["voice_accountability_pct"] / 100.0,
            "migration": view["migration_pct"] / 100.0,
            "prevalence": _rank01(view["slavery_prevalence_per_1000"]),
            "tier_trend": _tier_trend(tables, reference_year).reindex(view.index),
            "labor_exposure": _labor_exposure(view["forced_labor_goods"]),
        },
        index=view.index,
    ).astype(float)


def _weighted_score(parts: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    """0..100: weighted mean of the available parts (weights renormalised over what is present)."""
    used = {k: w for k, w in weights.items() if w > 0}
    if not used:
        return pd.Series(np.nan, index=parts.index)
    cols = parts[list(used)]
    w = pd.Series(used)
    present = cols.notna()
    total_w = present.mul(w, axis=1).sum(axis=1)
    score = cols.fillna(0.0).mul(w, axis=1).sum(axis=1) / total_w.replace(0.0, np.nan)
    return 100.0 * score


def screen(tables: Tables, rules: EligibilitySection, reference_year: int) -> Screen:
    """Apply the scenario's eligibility rules to every TIP-rated country."""
    view = country_view(tables, reference_year)
    year = reference_year
    reasons: dict[str, list[str]] = {iso: [] for iso in view.index}
    flags: dict[str, list[str]] = {iso: [] for iso in view.index}
    out = view.copy()

    allowed = ", ".join(TIER_LABEL[t] for t in rules.tiers)
    out["tier_pass"] = view["tier"].isin(rules.tiers)
    for iso in out.index[~out["tier_pass"]]:
        label = TIER_LABEL.get(view.at[iso, "tier"], str(view.at[iso, "tier"]))
        reasons[iso].append(f"{label} in the {year} TIP Report (eligible: {allowed})")

    listed = view["cspa_listed"].astype(bool)
    out["cspa_pass"] = ~listed | (not rules.exclude_cspa)
    for iso in out.index[~out["cspa_pass"]]:
        reasons[iso].append(f"on the Child Soldiers Prevention Act list in the {year} TIP Report")
    status = view["cspa_status"].iloc[0] if len(view) else None
    if rules.exclude_cspa and status in ("unconfirmed", "partial"):
        for iso in out.index:
            flags[iso].append(f"CSPA list for {year} is {status}")

    mission = view["mission_type"]
    out["mission_pass"] = ~rules.require_mission | mission.isin(rules.mission_types)
    if rules.require_mission:
        for iso in out.index[mission.isna()]:
            if rules.missing == "exclude":
                reasons[iso].append("USAID mission presence unknown (not in the missions table)")
            else:
                out.at[iso, "mission_pass"] = True
                flags[iso].append("USAID mission presence unknown; passed (missing = flag)")
        for iso in out.index[mission.notna() & ~mission.isin(rules.mission_types)]:
            reasons[iso].append(
                f"USAID: {MISSION_LABEL.get(mission[iso], mission[iso])} as of 2014"
            )
        for iso in out.index[out["mission_pass"] & (view["mission_confidence"] == "unverified")]:
            flags[iso].append("USAID mission row unverified")

    for rule, column, attribute, words in THRESHOLDS:
        minimum = getattr(rules, attribute)
        value = view[column]
        passed = pd.Series(True, index=view.index)
        if minimum is not None:
            passed = value >= minimum
            for iso in out.index[value.notna() & (value < minimum)]:
                reasons[iso].append(f"{words} {value[iso]:.1f} below the minimum {minimum:g}")
            for iso in out.index[value.isna()]:
                if rules.missing == "exclude":
                    reasons[iso].append(f"{words} missing (missing = exclude)")
                else:
                    passed[iso] = True
                    flags[iso].append(f"{words} missing; passed (missing = flag)")
        out[f"{rule}_pass"] = passed

    out["forced_labor_pass"] = True
    if rules.min_forced_labor_goods is not None:
        fewest, edition = rules.min_forced_labor_goods, view["dol_edition"]
        out["forced_labor_pass"] = (view["forced_labor_goods"] >= fewest).astype(bool)
        for iso in out.index[~out["forced_labor_pass"]]:
            count = int(view.at[iso, "forced_labor_goods"])
            listed = f"{count} good{'s' if count != 1 else ''}" if count else "no good"
            reasons[iso].append(
                f"{listed} on the US DOL List of Goods ({edition[iso]} edition) for forced "
                f"labour, below the minimum {fewest} (labour-trafficking exposure)"
            )

    for iso in out.index[view["people_in_modern_slavery"].isna()]:
        reasons[iso].append(
            "no modern-slavery estimate (Global Slavery Index 2023) to size the impact model"
        )

    parts = readiness_parts(view, tables, reference_year)
    out["readiness"] = _weighted_score(parts, dict(rules.readiness_weights)).round(2)
    for name in parts.columns:
        out[f"readiness_{name}"] = parts[name].round(4)
    out["eligible"] = [not reasons[iso] for iso in out.index]
    out["reasons"] = ["; ".join(reasons[iso]) for iso in out.index]
    out["flags"] = ["; ".join(flags[iso]) for iso in out.index]
    eligible_scores = out["readiness"].where(out["eligible"])
    out["rank"] = eligible_scores.rank(ascending=False, method="min").astype("Int64")
    return Screen(reference_year=reference_year, frame=out)
