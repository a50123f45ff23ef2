"""Saved runs for the report tests: real solves of a small scenario whose country and scenario
names are hostile (HTML, spreadsheet formulas, quotes), written by ``tipfocus run``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from optimizer.cli import main

REPO = Path(__file__).resolve().parent.parent
HOSTILE_NAMES = {  # locked in, so funded: the names reach every table and chart
    "IND": "<script>alert(1)</script>",
    "BRA": "=cmd|' /C calc'!A0",
    "THA": "Quote \"double\" & 'single'",
    "ZAF": "@SUM(A1:A9)",
}
SCENARIO_NAME = '<b>bold</b> =1+1 "quoted"'


def hostile_scenario(root: Path) -> Path:
    """A project folder with renamed countries; returns its scenario file (4 locked-in countries)."""
    shutil.copytree(REPO / "data", root / "data")
    countries = pd.read_csv(root / "data" / "countries.csv", dtype=str, keep_default_na=False)
    for iso, name in HOSTILE_NAMES.items():
        countries.loc[countries["iso3"] == iso, "name"] = name
    countries.to_csv(root / "data" / "countries.csv", index=False, lineterminator="\n")
    baseline = (REPO / "scenarios" / "baseline.toml").as_posix()
    scenario = root / "scenario.toml"
    scenario.write_text(
        f"extends = {json.dumps(baseline)}\n"
        f"name = {json.dumps(SCENARIO_NAME)}\n"
        '[data]\ndir = "data"\n'
        "[selection]\nmin_countries = 4\nmax_countries = 4\n"
        'lock_in = ["BRA", "IND", "THA", "ZAF"]\n'
        "[eligibility]\nmin_rule_of_law_pct = 50\n",
        encoding="utf-8",
    )
    return scenario


def cli(*args: str | Path) -> tuple[int, str]:
    """Run tipfocus; exit code and everything it printed."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def saved_run(scenario: Path, folder: Path, *sets: str) -> Path:
    code, output = cli("run", scenario, "--out", folder, *(x for s in sets for x in ("--set", s)))
    assert code == 0, output
    return folder


def two_runs(root: Path) -> tuple[Path, Path]:
    """The hostile scenario at $250M and at $200M (folders ``full`` and ``cut``)."""
    scenario = hostile_scenario(root / "project")
    full = saved_run(scenario, root / "full")
    cut = saved_run(scenario, root / "cut", "budget.total_usd=200M", "budget.annual_cap_usd=48M")
    return full, cut
