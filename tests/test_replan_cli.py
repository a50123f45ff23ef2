"""`tipfocus replan`: a template from a plan, a re-plan from it, bad actuals refused (exit 2,
nothing written)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.result import RUN_FILES, TRADEOFF_FILES

SMALL = ["--set", "selection.max_countries=3", "--set", "eligibility.min_rule_of_law_pct=50"]


def invoke(args: list[str], code: int = 0):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A solved plan and the template actuals of its first year."""
    base = tmp_path_factory.mktemp("replan")
    invoke(["run", *SMALL, "--out", str(base / "plan")])
    invoke(["replan", str(base / "plan"), "--template", "--out", str(base / "actuals.csv")])
    return base / "plan", base / "actuals.csv"


def test_template_then_replan_reproduces_the_plan(plan: tuple[Path, Path], tmp_path: Path) -> None:
    folder, actuals = plan
    template = pd.read_csv(actuals, keep_default_na=False)
    assert list(template.columns) == ["iso3", "component", "year", "spend_usd", "outcome"]
    first = pd.read_csv(folder / "allocation.csv", keep_default_na=False).query("year == 2015")
    assert template["spend_usd"].sum() == first["amount_usd"].sum()
    out = tmp_path / "again"
    shown = invoke(["replan", str(folder), "--actuals", str(actuals), "--out", str(out)]).stdout
    assert "Changes against the plan" in shown
    without_tradeoffs = set(RUN_FILES) - set(TRADEOFF_FILES)
    assert {*without_tradeoffs, "changes.csv"} == {p.name for p in out.iterdir()}
    changes = pd.read_csv(out / "changes.csv", keep_default_na=False)
    assert (changes["change_usd"].abs() <= 2).all()
    streams = pd.read_csv(out / "streams.csv", keep_default_na=False)
    alloc = pd.read_csv(out / "allocation.csv", keep_default_na=False)
    assert streams["amount_usd"].sum() == alloc["amount_usd"].sum()


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda f: f.assign(spend_usd=-f["spend_usd"]), "below 0"),
        (lambda f: f.assign(year=2031), "2031 is not a year of the run"),
        (lambda f: f.drop(columns="outcome"), "lacks the column(s) outcome"),
        (lambda f: pd.concat([f, f.head(1)]), "listed more than once"),
        (lambda f: f.assign(iso3="ZZZ"), "ZZZ is not a candidate country"),
    ],
)
def test_bad_actuals_exit_2_and_write_nothing(
    plan: tuple[Path, Path], tmp_path: Path, edit, says: str
) -> None:
    folder, actuals = plan
    bad = tmp_path / "bad.csv"
    edit(pd.read_csv(actuals, keep_default_na=False)).to_csv(bad, index=False)
    out = tmp_path / "never"
    result = invoke(["replan", str(folder), "--actuals", str(bad), "--out", str(out)], code=2)
    assert "bad.csv" in result.output and says in result.output
    assert not out.exists()


def test_actuals_or_template_not_both(plan: tuple[Path, Path]) -> None:
    folder, actuals = plan
    result = invoke(["replan", str(folder), "--template", "--actuals", str(actuals)], code=2)
    assert "either --actuals" in result.output
