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
NO_CAP = "selection.absorptive_cap_usd=none"  # the rule each test is about binds first


def run_warnings(tmp_path, *sets: str) -> tuple[str, list[str]]:
    args = ["run", *SMALL]
    for text in sets:
        args += ["--set", text]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    return result.stdout, json.loads((tmp_path / "run" / "summary.json").read_text())["warnings"]


def test_too_few_countries_to_spend_it_all(tmp_path):
    stdout, warnings = run_warnings(tmp_path, NO_CAP)
    (warning,) = [w for w in warnings if "left unspent" in w]
    assert warning.startswith("$70.0M left unspent: at most 3 focus countries")
    assert "selection.max_countries" in warning and "$60.0M each" in warning
    assert warning.endswith("= $180.0M")
    assert f"WARNING: {warning}" in " ".join(stdout.split())  # wrapped at 100 columns


def test_the_annual_cap_stops_it(tmp_path):
    _, warnings = run_warnings(tmp_path, NO_CAP, "budget.annual_cap_usd=30M")
    (warning,) = [w for w in warnings if "left unspent" in w]
    assert warning == (
        "$100.0M left unspent: the annual cap (budget.annual_cap_usd), $30.0M a year x 5 years "
        "= $150.0M"
    )


def test_the_absorptive_cap_is_named(tmp_path):
    _, warnings = run_warnings(tmp_path)
    (warning,) = [w for w in warnings if "left unspent" in w]
    assert "at most 3 focus countries" in warning
    assert "selection.absorptive_cap_usd" in warning


def test_all_spent_says_nothing(bundled):
    _, result = bundled("baseline")
    assert result.summary.budget_used_usd == result.summary.budget_usd
    assert not [w for w in result.summary.warnings if "unspent" in w]


def rows(*binding: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"name": n, "family": f, "binding": True} for n, f in binding]
        + [{"name": "budget_total", "family": "budget", "binding": False}]
    )


FOUR_AT_MAX = {"AAA": 60e6, "BBB": 60e6, "CCC": 60e6, "DDD": 60e6}  # $240M of $250M


@pytest.mark.parametrize(
    ("binding", "spent", "capacity", "expected"),
    [
        (
            [("compact_max_AAA", "compact_max"), ("region_max_AF", "region_max")],
            {"AAA": 60e6, "BBB": 20e6},
            {"AAA": 90e6, "BBB": 20e6},
            "every focus country is at its limit (at most $60.0M each (selection.max_compact_usd), "
            "less where a country can usefully absorb less (BBB; selection.absorptive_cap_usd)) and no "
            "other country can be added "
            "without breaking a rule; region_max binding",
        ),
        (
            [(f"compact_max_{c}", "compact_max") for c in FOUR_AT_MAX],
            FOUR_AT_MAX,
            dict.fromkeys(FOUR_AT_MAX, 90e6),
            "every focus country is at its limit (at most $60.0M each (selection.max_compact_usd)) "
            "and the $10.0M left is less than a new compact's minimum (selection.min_compact_usd, "
            "$15.0M)",
        ),
        (
            [("ramp_up_AAA_2016", "ramp_up"), ("me_floor_AAA", "me_floor")],
            {"AAA": 60e6, "BBB": 10e6},
            {"AAA": 90e6, "BBB": 20e6},
            "the binding rules (me_floor, ramp_up) leave no way to spend more that adds impact",
        ),
    ],
    ids=["countries-blocked", "left-below-minimum", "other-rules"],
)
def test_other_limits_are_named(binding, spent, capacity, expected):
    reason = unspent_reason(load_scenario(), rows(*binding), pd.Series(spent), pd.Series(capacity))
    assert reason == expected
