"""Money left unspent is said, with the rule that stops it and that rule's numbers."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.diagnose import unspent_reason
from optimizer.scenario import load_scenario

SMALL = ["--set", "selection.max_countries=3", "--set", "eligibility.min_rule_of_law_pct=50"]


def run_warnings(tmp_path, *sets: str) -> tuple[str, list[str]]:
    args = ["run", *SMALL]
    for text in sets:
        args += ["--set", text]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    return result.stdout, json.loads((tmp_path / "run" / "summary.json").read_text())["warnings"]


def test_too_few_countries_to_spend_it_all(tmp_path):
    stdout, warnings = run_warnings(tmp_path)
    (warning,) = [w for w in warnings if "left unspent" in w]
    assert warning.startswith("$70.0M left unspent: at most 3 focus countries")
    assert "selection.max_countries" in warning and "$60.0M each" in warning
    assert warning.endswith("= $180.0M")
    assert f"WARNING: {warning}" in " ".join(stdout.split())  # wrapped at 100 columns


def test_the_annual_cap_stops_it(tmp_path):
    _, warnings = run_warnings(tmp_path, "budget.annual_cap_usd=30M")
    (warning,) = [w for w in warnings if "left unspent" in w]
    assert warning == (
        "$100.0M left unspent: the annual cap (budget.annual_cap_usd), $30.0M a year x 5 years "
        "= $150.0M"
    )


def test_all_spent_says_nothing(bundled):
    _, result = bundled("baseline")
    assert result.summary.budget_used_usd == result.summary.budget_usd
    assert not [w for w in result.summary.warnings if "unspent" in w]


def rows(*binding: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"name": n, "family": f, "binding": True} for n, f in binding]
        + [{"name": "budget_total", "family": "budget", "binding": False}]
    )


@pytest.mark.parametrize(
    ("binding", "expected"),
    [
        (
            [("compact_max_AAA", "compact_max"), ("region_max_AF", "region_max")],
            "every focus country is at its limit (at most $60.0M each (selection.max_compact_usd), "
            "less where a country can usefully absorb less (BBB)) and no other country can be added "
            "without breaking a rule; region_max binding",
        ),
        (
            [("ramp_up_AAA_2016", "ramp_up"), ("me_floor_AAA", "me_floor")],
            "the binding rules (me_floor, ramp_up) leave no way to spend more that adds impact",
        ),
    ],
)
def test_other_limits_are_named(binding, expected):
    scenario = load_scenario()
    by_country = pd.Series({"AAA": 60e6, "BBB": 20e6})
    capacity = pd.Series({"AAA": 90e6, "BBB": 20e6})
    if binding[0][1] == "ramp_up":
        by_country["BBB"] = 10e6  # BBB below its capacity: not every country at its limit
    assert unspent_reason(scenario, rows(*binding), by_country, capacity) == expected
