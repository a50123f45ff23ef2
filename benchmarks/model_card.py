"""Model card: does the allocation follow the focus-country argument (issue 10)?

    python benchmarks/model_card.py [scenario.toml] [--cases mode,low,high]

For each cost case (the scenario's catalogue case: mode = baseline, then low and high):
- rank (Spearman) correlations over eligible countries of the value of a standard compact
  ($3M a year, the scenario's policy rules, the country alone) with the people in modern slavery
  and with the readiness score (targets: scale at most 0.6, readiness at least 0.3);
- the selected countries with readiness rank and governance percentiles (target: none in the
  bottom tenth of rule of law unless locked in);
- impact share by pillar and by metric, durable outcomes included;
- the yearly profile;
- the absorptive cap of the five largest eligible countries against the calibration figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from optimizer.engine import collect, prepare
from optimizer.inputs import model_inputs
from optimizer.model import build_model
from optimizer.scenario import DEFAULT_SCENARIO, load_scenario, usd
from optimizer.solve import solve

STANDARD_YEARLY = 3e6
# Calibration figures (docs/model.md, section 10): US$ a year for one country.
CALIBRATION = [
    ("Ghana Child Protection Compact (up to $5M over 4 years)", 5e6 / 4),
    ("USAID Bangladesh Counter-Trafficking (> $8M over ~5 years)", 8e6 / 5),
    ("USAID Asia CTIP ($21.5M, 5 years, 6 countries)", 21.5e6 / 5 / 6),
    ("GAO-21-53: all US projects (>= $316M in 1.5 years, 182 projects)", 316e6 / 1.5),
]


def standard_values(prep) -> pd.Series:
    """Objective value of a $3M-a-year compact for each eligible country on its own."""
    sc = prep.scenario
    years = sc.budget.horizon_years
    changes = {
        "budget": sc.budget.model_copy(
            update={"total_usd": STANDARD_YEARLY * years, "annual_cap_usd": STANDARD_YEARLY}
        ),
        "selection": sc.selection.model_copy(
            update={
                "min_countries": 1,
                "max_countries": 1,
                "min_compact_usd": 0.0,
                "lock_in": [],
                "lock_out": [],
                "region_max": {},
            }
        ),
    }
    one = sc.model_copy(update=changes)
    values = {}
    for iso in prep.countries:
        curves = prep.curves.only([iso])
        model = build_model(model_inputs(one, prep.screen.frame, [iso], curves, prep.catalogue))
        info = solve(model, one.solver, "highs")
        values[iso] = info.objective if info.objective is not None else float("nan")
    return pd.Series(values)


def card(path: Path, case: str) -> list[str]:
    sc = load_scenario(path, [f"objective.cost_case={case}"] if case != "mode" else [])
    prep = prepare(sc)
    frame = prep.screen.frame
    lines = [f"== {sc.name}, cost case {case} =="]
    value = standard_values(prep)
    people = frame.loc[value.index, "people_in_modern_slavery"]
    ready = frame.loc[value.index, "readiness"]
    scale_rho = value.corr(people, method="spearman")
    ready_rho = value.corr(ready, method="spearman")
    lines.append(
        f"rank correlation of a standard compact's value ({len(value)} countries that can take "
        f"one): with people in modern slavery {scale_rho:.2f} (target <= 0.6), with readiness "
        f"{ready_rho:.2f} (target >= 0.3)"
    )
    info = solve(prep.model, sc.solver)
    result = collect(prep, info)
    s = result.summary
    lines.append(f"objective {s.objective:,.0f}; solve {s.solve_seconds:.1f}s; status {s.status}")
    eligible = frame[frame["eligible"]]
    tenth = eligible["rule_of_law_pct"].quantile(0.1)
    lines.append(
        f"selected (readiness rank of {len(eligible)}; rule of law, control of corruption "
        f"percentiles; bottom tenth of rule of law among eligible is < {tenth:.1f}):"
    )
    by_country = result.allocation.groupby("iso3")["amount_usd"].sum()
    for iso in s.selected:
        row = frame.loc[iso]
        flag = "  BOTTOM TENTH" if row["rule_of_law_pct"] < tenth else ""
        tip = "tipped" if iso in s.tipped else "not tipped"
        lines.append(
            f"  {iso} {row['name'][:24]:<24} rank {int(row['rank']):>2}  RL {row['rule_of_law_pct']:5.1f}"
            f"  CC {row['control_of_corruption_pct']:5.1f}  {usd(by_country.get(iso, 0.0)):>8}  "
            f"{tip}{flag}"
        )
    out = result.outcomes
    pillar = {k: c.pillar for k, c in prep.catalogue.components.items()}
    durable = s.durable_impact or 0.0
    total = out["impact"].sum() + durable
    by_pillar = out.assign(pillar=out["component"].map(pillar)).groupby("pillar")["impact"].sum()
    lines.append(
        "impact share by pillar: "
        + ", ".join(f"{p} {v / total:.1%}" for p, v in by_pillar.items())
        + f", durable (after the compact) {durable / total:.1%}"
    )
    by_metric = out.groupby("metric")["impact"].sum()
    lines.append(
        "impact share by metric (within the compact): "
        + ", ".join(f"{m} {v / total:.1%}" for m, v in by_metric.items())
    )
    by_comp = result.allocation.groupby("component")["amount_usd"].sum()
    lines.append("spend by component: " + ", ".join(f"{k} {usd(v)}" for k, v in by_comp.items()))
    by_year = result.allocation.groupby("year")["amount_usd"].sum()
    lines.append("yearly profile: " + ", ".join(usd(v) for v in by_year))
    caps = prep.model.caps or {}
    largest = people.sort_values(ascending=False).index[:5]
    lines.append("absorptive cap a year, five largest eligible countries:")
    for iso in largest:
        cap = caps.get(iso)
        lines.append(
            f"  {iso} {frame.at[iso, 'name'][:24]:<24} N = {people[iso]:>12,.0f}  cap "
            f"{usd(cap) if cap is not None else 'none':>8}"
        )
    lines.append("calibration (US$ a year):")
    lines += [f"  {label}: {usd(v)}" for label, v in CALIBRATION]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO))
    parser.add_argument("--cases", default="mode,low,high")
    args = parser.parse_args()
    for case in args.cases.split(","):
        print("\n".join(card(Path(args.scenario), case)))
        print()


if __name__ == "__main__":
    main()
