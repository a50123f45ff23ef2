"""The command line: help everywhere, known screening facts, output formats and run folders."""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

import optimizer.engine as engine_module
from optimizer import __version__
from optimizer.cli import main
from optimizer.data import DATA_DIR, load_tables
from optimizer.result import ALLOCATION_COLUMNS, OUTCOME_COLUMNS, Summary, file_sha256
from optimizer.scenario import DEFAULT_SCENARIO, load_scenario
from optimizer.screening import screen
from optimizer.tables import TABLES

SMALL = ["--set", "selection.max_countries=3", "--set", "eligibility.min_rule_of_law_pct=50"]


def invoke(args: list[str], code: int = 0):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def commands(group: click.Group = main, path: tuple[str, ...] = ()):
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


ALL_COMMANDS = list(commands())


# ---------------------------------------------------------------------------- help and version


@pytest.mark.parametrize(
    ("path", "command"), ALL_COMMANDS, ids=[" ".join(p) or "tipfocus" for p, _ in ALL_COMMANDS]
)
def test_every_command_and_option_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help and command.help.strip(), f"{' '.join(path)} has no help text"
    lacking = [
        p.name
        for p in command.params
        if isinstance(p, click.Option) and not (p.help and p.help.strip())
    ]
    assert lacking == [], f"{' '.join(path) or 'tipfocus'}: options without help: {lacking}"
    for flag in ("--help", "-h"):
        result = invoke([*path, flag])
        first_line = command.help.strip().splitlines()[0]
        assert first_line[:40] in " ".join(result.stdout.split())
        assert "Usage:" in result.stdout


def test_the_expected_commands_exist() -> None:
    names = {" ".join(p) for p, _ in ALL_COMMANDS}
    assert {"", "screen", "run", "data", "data import", "data check"} <= names


def test_version() -> None:
    result = invoke(["--version"])
    assert result.stdout.strip() == f"tipfocus, version {__version__}"


# ---------------------------------------------------------------------------- screen


@pytest.fixture(scope="module")
def screen_json() -> pd.DataFrame:
    result = invoke(["screen", "--format", "json"])
    return pd.DataFrame(json.loads(result.stdout)).set_index("iso3")


@pytest.fixture(scope="module")
def expected_columns() -> list[str]:
    scenario = load_scenario(DEFAULT_SCENARIO)
    frame = screen(load_tables(), scenario.eligibility, scenario.data.reference_year).frame
    return list(frame.reset_index().columns)


def _tier_2013(iso: str) -> str:
    tiers = pd.read_csv(DATA_DIR / "tip_tiers.csv", dtype=str)
    row = tiers[(tiers["iso3"] == iso) & (tiers["report_year"] == "2013")]
    assert len(row) == 1
    return row["tier"].iloc[0]


def test_baseline_is_the_2013_report() -> None:
    assert load_scenario(DEFAULT_SCENARIO).data.reference_year == 2013


def test_thailand_watch_list(screen_json: pd.DataFrame) -> None:
    tha = screen_json.loc["THA"]
    assert _tier_2013("THA") == "2WL"
    assert tha["tier"] == "2WL"
    assert tha["tier_pass"]
    # eligible exactly when no rule excluded it, as the data say
    assert bool(tha["eligible"]) == (tha["reasons"] == "")
    passes = [c for c in screen_json.columns if c.endswith("_pass")]
    has_estimate = pd.notna(tha["people_in_modern_slavery"])
    assert bool(tha["eligible"]) == (all(bool(tha[c]) for c in passes) and has_estimate)


def test_north_korea_excluded_as_tier_3(screen_json: pd.DataFrame) -> None:
    prk = screen_json.loc["PRK"]
    assert _tier_2013("PRK") == "3"
    assert prk["tier"] == "3"
    assert not prk["eligible"]
    assert "Tier 3 in the 2013 TIP Report" in prk["reasons"]


def test_drc_excluded_for_the_cspa_list(screen_json: pd.DataFrame) -> None:
    cod = screen_json.loc["COD"]
    cspa = pd.read_csv(DATA_DIR / "cspa.csv", dtype=str)
    assert ((cspa["iso3"] == "COD") & (cspa["report_year"] == "2013")).any()
    assert cod["cspa_listed"] and not cod["cspa_pass"]
    assert not cod["eligible"]
    assert "Child Soldiers Prevention Act list in the 2013 TIP Report" in cod["reasons"]


def test_every_excluded_country_has_a_reason(screen_json: pd.DataFrame) -> None:
    excluded = screen_json[~screen_json["eligible"].astype(bool)]
    assert len(excluded) > 0
    assert (excluded["reasons"].str.strip() != "").all()
    eligible = screen_json[screen_json["eligible"].astype(bool)]
    assert (eligible["reasons"] == "").all()
    assert sorted(eligible["rank"].astype(int)) == sorted(eligible["rank"].astype(int).unique())


def test_csv_and_json_carry_every_column(
    screen_json: pd.DataFrame, expected_columns: list[str]
) -> None:
    text = invoke(["screen", "--format", "csv"]).stdout
    header = next(csv.reader(io.StringIO(text)))
    assert header == expected_columns
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(screen_json)
    assert ["iso3", *screen_json.columns] == expected_columns


def test_table_fits_100_columns() -> None:
    text = invoke(["screen"]).stdout
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > 100]
    assert too_long == []
    assert lines[0].startswith("Focus-country screen, 2013 TIP Report")
    assert any(line.startswith("  PRK ") for line in lines)


def test_screen_out_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "screen.csv"
    first = invoke(["screen", "--format", "csv", "--out", str(out)])
    assert "Wrote" in first.stdout and out.is_file()
    out.write_text("keep me\n")
    refused = invoke(["screen", "--format", "csv", "--out", str(out)], code=2)
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert out.read_text() == "keep me\n"
    invoke(["screen", "--format", "json", "--out", str(out), "--force"])
    assert isinstance(json.loads(out.read_text()), list)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["screen.csv"]  # no temp leftovers


# ---------------------------------------------------------------------------- run


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("run") / "small"
    result = invoke(["run", *SMALL, "--out", str(folder)])
    return folder, result.stdout


def test_run_writes_the_files(run_folder: tuple[Path, str]) -> None:
    folder, stdout = run_folder
    names = {p.name for p in folder.iterdir()}
    assert {
        "allocation.csv",
        "outcomes.csv",
        "summary.json",
        "scenario.toml",
        "manifest.json",
    } <= names
    assert not [n for n in names if n.startswith(".")]
    assert not [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert f"Wrote {folder}/" in stdout
    assert "optimal" in stdout


def test_run_summary_fits_100_columns_and_names_whole_rules(run_folder: tuple[Path, str]) -> None:
    folder, stdout = run_folder
    lines = stdout.splitlines()
    assert [line for line in lines if len(line) > 100] == []
    binding = json.loads((folder / "summary.json").read_text())["binding"]
    start = lines.index("Rules that bind (tight at the optimum)") + 1
    for line in lines[start : start + len(binding)]:
        family, _, shown = line.strip().partition(" ")
        names = re.sub(r" \(\+(\d+) more\)$", "", shown.strip()).split(", ")
        assert set(names) <= set(binding[family]), line  # whole row names, never cut
        more = re.search(r"\(\+(\d+) more\)$", line)
        assert len(names) + (int(more.group(1)) if more else 0) == len(binding[family])


def test_allocation_csv(run_folder: tuple[Path, str]) -> None:
    folder, _ = run_folder
    alloc = pd.read_csv(folder / "allocation.csv")
    assert (
        list(alloc.columns)
        == ALLOCATION_COLUMNS
        == [
            "iso3",
            "country",
            "component",
            "pillar",
            "channel",
            "year",
            "amount_usd",
        ]
    )
    assert len(alloc) > 0
    assert (alloc["amount_usd"] >= 1).all()
    assert (alloc["amount_usd"] == alloc["amount_usd"].round()).all()  # whole dollars, exact
    summary = json.loads((folder / "summary.json").read_text())
    assert alloc["amount_usd"].sum() == pytest.approx(summary["budget_used_usd"], abs=0.5)
    assert sorted(alloc["iso3"].unique()) == summary["selected"]
    assert set(alloc["year"]) <= set(summary["years"])


def test_outcomes_csv(run_folder: tuple[Path, str]) -> None:
    folder, _ = run_folder
    outcomes = pd.read_csv(folder / "outcomes.csv")
    assert list(outcomes.columns) == OUTCOME_COLUMNS
    assert len(outcomes) > 0
    assert (outcomes["outcome"] >= 0).all()


def test_summary_json(run_folder: tuple[Path, str]) -> None:
    folder, _ = run_folder
    summary = json.loads((folder / "summary.json").read_text())
    for key in (
        "status",
        "objective",
        "bound",
        "gap",
        "budget_used_usd",
        "selected",
        "binding",
    ):
        assert key in summary, key
    # timings live in timings.json, so that summary.json is byte-identical across runs
    timing_keys = {"build_seconds", "solve_seconds", "tradeoffs_seconds"}
    assert set(summary) == set(Summary.__dataclass_fields__) - timing_keys
    timings = json.loads((folder / "timings.json").read_text())
    assert set(timings) == timing_keys
    assert summary["status"] == "optimal"
    assert summary["objective"] > 0 and summary["bound"] >= summary["objective"] - 1e-6
    assert 0 <= summary["gap"] <= 1e-4
    assert len(summary["selected"]) == 3
    assert 0 < summary["budget_used_usd"] <= summary["budget_usd"]
    assert isinstance(summary["binding"], dict)
    assert timings["solve_seconds"] >= 0
    assert timings["tradeoffs_seconds"] > 0  # priced by default


def test_scenario_toml_is_the_resolved_scenario(run_folder: tuple[Path, str]) -> None:
    folder, _ = run_folder
    stored = tomllib.loads((folder / "scenario.toml").read_text())
    assert stored["selection"]["max_countries"] == 3
    assert stored["eligibility"]["min_rule_of_law_pct"] == 50
    assert stored["budget"]["total_usd"] == 250e6
    assert "extends" not in stored


def test_manifest_hashes_every_input(run_folder: tuple[Path, str]) -> None:
    folder, _ = run_folder
    manifest = json.loads((folder / "manifest.json").read_text())
    inputs = {Path(p).name: digest for p, digest in manifest["inputs"].items()}
    expected = {s.filename for s in TABLES.values()} | {"components.toml", "baseline.toml"}
    assert set(inputs) == expected
    project = Path(__file__).resolve().parent.parent
    assert all(not Path(p).is_absolute() for p in manifest["inputs"])  # portable between clones
    for path, digest in manifest["inputs"].items():
        assert file_sha256(project / path) == digest
    for package in ("python", "tipfocus", "pulp", "highspy", "pandas", "numpy"):
        assert manifest["packages"][package]
    assert manifest["packages"]["tipfocus"] == __version__
    assert manifest["solver"] == "highs" and manifest["solver_version"]


def test_write_lp_and_mps_without_solving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_solve(*args, **kwargs):
        raise AssertionError("--write-lp/--write-mps must not solve")

    monkeypatch.setattr(engine_module, "solve", no_solve)
    monkeypatch.chdir(tmp_path)
    lp, mps = tmp_path / "model.lp", tmp_path / "model.mps"
    result = invoke(["run", *SMALL, "--write-lp", str(lp), "--write-mps", str(mps)])
    assert result.stdout.count("not solved") == 2
    assert "Maximize" in lp.read_text()[:2000]
    text = mps.read_text()
    assert "ROWS" in text and "COLUMNS" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.lp", "model.mps"]  # no runs/
    refused = invoke(["run", *SMALL, "--write-lp", str(lp)], code=2)
    assert "already exists" in refused.stderr


def test_data_check_succeeds() -> None:
    result = invoke(["data", "check"])
    assert result.stdout.strip().endswith("All tables valid.")
    for schema in TABLES.values():
        assert schema.filename in result.stdout


def test_a_what_if_on_the_command_line_is_named_by_its_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["run", *SMALL, "--solver", "highs"])
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("baseline_max_countries-3_min_rule_of_law_pct-50-")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["scenario"] == "baseline"
    assert summary["overrides"] == [
        "selection.max_countries=3",
        "eligibility.min_rule_of_law_pct=50",
    ]
    assert result.stdout.splitlines()[1] == (
        "What-if: --set selection.max_countries=3, --set eligibility.min_rule_of_law_pct=50"
    )


def test_run_names_are_safe_and_short() -> None:
    from optimizer.result import run_name

    assert run_name("baseline", []) == "baseline"
    assert run_name("spread", ["budget.total_usd=300M"]) == "spread_total_usd-300M"
    name = run_name(
        "b", ['data.dir="../../etc/x"', "policy.earmark_share={migrants=0.9, labor=0.05}"]
    )
    assert "/" not in name and ".." not in name and len(name) <= 2 + 48
    other = run_name(
        "b", ['data.dir="../../etc/y"', "policy.earmark_share={migrants=0.9, labor=0.05}"]
    )
    assert name != other  # shortened names keep a hash of the whole


def test_constraints_csv_shows_each_rule_in_its_own_units(run_folder: tuple[Path, str]) -> None:
    folder, _ = run_folder
    rules = pd.read_csv(folder / "constraints.csv", keep_default_na=False, na_values=[""])
    summary = json.loads((folder / "summary.json").read_text())
    by_name = rules.set_index("name")
    budget = by_name.loc["budget_total"]
    assert (budget["unit"], budget["limit"]) == ("usd", 250e6)
    assert by_name.loc["countries_max", "unit"] == "countries"
    assert by_name.loc["countries_max", "limit"] == 3
    labor = by_name.loc["earmark_labor"]
    assert (labor["unit"], labor["limit"]) == ("share", 0.15)
    assert labor["activity"] == pytest.approx(labor["amount_usd"] / labor["base_usd"])
    assert labor["base_usd"] == pytest.approx(summary["budget_used_usd"], abs=1.0)
    assert labor["slack"] == pytest.approx(labor["activity"] - 0.15)
    per_country = rules[rules["iso3"].notna()]
    assert set(per_country.loc[per_country["selected"] == True, "iso3"]) == set(summary["selected"])  # noqa: E712
    idle = per_country[per_country["selected"] == False]  # noqa: E712
    assert len(idle) and not idle["binding"].any()
    shares = per_country[(per_country["unit"] == "share") & (per_country["selected"] == True)]  # noqa: E712
    assert ((shares["activity"] >= 0) & (shares["activity"] <= 1 + 1e-9)).all()
    assert (rules.loc[rules["family"].str.startswith("ramp"), "unit"] == "ratio").all()


def test_run_help_lists_every_file_of_the_run_folder(run_folder: tuple[Path, str]) -> None:
    from optimizer.result import RUN_FILES

    folder, _ = run_folder
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(RUN_FILES)  # the trade-off files too: on by default
    shown = " ".join(invoke(["run", "--help"]).stdout.split())
    assert [name for name in RUN_FILES if name not in shown] == []


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_progress_on_stderr_only_on_a_terminal(
    terminal: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optimizer.cli as cli_module

    monkeypatch.setattr(cli_module, "_stderr_is_terminal", lambda: terminal)
    result = invoke(["run", *SMALL, "--out", str(tmp_path / "run")])
    stages = [line for line in result.stderr.splitlines() if re.match(r"\[ *[\d.]+s\] ", line)]
    if terminal:
        names = [s.split("] ", 1)[1].split(":")[0] for s in stages]
        assert [name for i, name in enumerate(names) if name not in names[:i]] == [
            "reading the data, screening countries and building the model",
            "solving with highs",
            "reading the allocation and the outcomes",
            "trade-offs",  # one line a rule re-solved
            f"writing {tmp_path / 'run'}/",
        ]
        assert "trade-offs: re-solving without each rule" in result.stderr
    else:
        assert result.stderr == ""
    assert "[" not in result.stdout.splitlines()[0]  # the summary on stdout is the same either way


def test_a_command_runs_numpy_s_blas_on_one_thread(tmp_path):
    """Every command's process keeps numpy's BLAS to one thread (``solve.blas_on_one_thread``):
    OpenBLAS's own threads spun between its calls and took a core from the Monte Carlo's other
    worker. In a fresh process, as a user's command starts (this test process may have set it
    already)."""
    import subprocess
    import sys

    script = (
        "from click.testing import CliRunner\n"
        "from threadpoolctl import threadpool_info\n"
        "from optimizer.cli import main\n"
        "import numpy\n"
        "before = max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas')\n"
        f"result = CliRunner().invoke(main, ['screen', '--out', {str(tmp_path / 'screen')!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "after = [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "print(before, max(after))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown[1] == "1", shown
