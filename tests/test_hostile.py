"""Hostile text in the data and catalogue flows through every output safely.

Country names and a component label carry HTML, spreadsheet formulas, line breaks and a path;
the scenario name tries to escape the runs/ folder. A hostile component key (it would name model
variables) is refused at load with a clear error. CSV cells must be neutralised (leading
apostrophe) with line breaks folded, JSON must stay valid (and keep the text exactly), the
terminal table must stay one line per country, and the run folder must stay inside runs/.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.result import FORMULA_START

REPO = Path(__file__).resolve().parent.parent
HOSTILE_NAMES = {  # the four locked-in countries are funded, so their names reach the run files
    "IND": "<script>alert(1)</script>",
    "BRA": '=HYPERLINK("http://x","y")',
    "THA": "@SUM(A1:A9)\nsecond line",
    "ZAF": "../../etc/passwd",
    "GHA": "+1",
    "NAM": "-1",
    "SEN": "\tTab\r\nand CRLF",
    "PRK": "=cmd|' /C calc'!A0",  # excluded (Tier 3): still in the screen
}
HOSTILE_LABEL = '=HYPERLINK("http://x","y") <script>alert(1)</script>\n../../etc'
HOSTILE_KEY = "=cmd|' /C calc'!A0"
RENAMED_COMPONENT = "awareness_community_prevention"
SCENARIO_NAME = "../../outside/<script>\n=1\r"


def _fold(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _neutral(text: str) -> str:
    folded = _fold(text.strip())  # the data layer strips cells
    return "'" + folded if folded.startswith(FORMULA_START) else folded


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder: hostile data/ and catalogue.toml, and scenario.toml pointing at them."""
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(REPO / "data", root / "data")
    countries = pd.read_csv(root / "data" / "countries.csv", dtype=str, keep_default_na=False)
    for iso, name in HOSTILE_NAMES.items():
        assert (countries["iso3"] == iso).sum() == 1
        countries.loc[countries["iso3"] == iso, "name"] = name
    countries.to_csv(root / "data" / "countries.csv", index=False, lineterminator="\n")

    catalogue = (REPO / "models" / "components.toml").read_text(encoding="utf-8")
    header = f"[components.{RENAMED_COMPONENT}]\n"
    assert header in catalogue
    start = catalogue.index(header)
    label_at = catalogue.index("\nlabel = ", start)
    end = catalogue.index("\n", label_at + 1)
    catalogue = catalogue[:label_at] + f"\nlabel = {json.dumps(HOSTILE_LABEL)}" + catalogue[end:]
    # a second label, on a component that keeps its key
    catalogue = catalogue.replace(
        'label = "Victim identification', 'label = "@SUM(1+1) Victim identification', 1
    )
    (root / "catalogue.toml").write_text(catalogue, encoding="utf-8")
    baseline = (REPO / "scenarios" / "baseline.toml").as_posix()
    (root / "scenario.toml").write_text(
        f"extends = {json.dumps(baseline)}\n"
        f"name = {json.dumps(SCENARIO_NAME)}\n"
        '[data]\ndir = "data"\ncatalogue = "catalogue.toml"\n'
        "[selection]\nmin_countries = 4\nmax_countries = 4\n"
        'lock_in = ["BRA", "IND", "THA", "ZAF"]\n'
        "[eligibility]\nmin_rule_of_law_pct = 50\n",
        encoding="utf-8",
    )
    return root


def invoke(args: list[str]) -> tuple[str, str]:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout, result.stderr


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_csv(text: str, expected_rows: int | None = None) -> list[dict[str, str]]:
    """No raw line break inside a cell, no text cell a spreadsheet would run."""
    lines = text.split("\n")
    assert lines[-1] == ""
    assert "\r" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(lines) - 2  # one physical line per record: no embedded newline
    if expected_rows is not None:
        assert len(rows) == expected_rows
    for row in rows:
        for column, cell in row.items():
            if cell.startswith(FORMULA_START) and not _is_number(cell):
                pytest.fail(f"{column} cell {cell!r} starts a formula")
    return rows


# ---------------------------------------------------------------------------- screen


def test_screen_csv_neutralises_names(hostile: Path, tmp_path: Path) -> None:
    out = tmp_path / "screen.csv"
    invoke(["screen", str(hostile / "scenario.toml"), "--format", "csv", "--out", str(out)])
    text = out.read_text(encoding="utf-8")
    rows = _check_csv(text, expected_rows=193)
    names = {row["iso3"]: row["name"] for row in rows}
    for iso, name in HOSTILE_NAMES.items():
        assert names[iso] == _neutral(name), iso
    assert names["BRA"] == "'" + HOSTILE_NAMES["BRA"]
    assert names["THA"] == "'@SUM(A1:A9) second line"
    assert names["IND"] == "<script>alert(1)</script>"  # CSV is not HTML: kept, not mangled
    stdout, _ = invoke(["screen", str(hostile / "scenario.toml"), "--format", "csv"])
    assert stdout == text


def test_screen_json_stays_valid_and_exact(hostile: Path) -> None:
    stdout, _ = invoke(["screen", str(hostile / "scenario.toml"), "--format", "json"])
    records = json.loads(stdout)
    names = {r["iso3"]: r["name"] for r in records}
    for iso, name in HOSTILE_NAMES.items():
        assert names[iso] == name.strip()


def test_screen_table_one_line_per_country(hostile: Path) -> None:
    stdout, _ = invoke(["screen", str(hostile / "scenario.toml")])
    lines = stdout.splitlines()
    assert [line for line in lines if len(line) > 100] == []
    assert "\r" not in stdout and "\t" not in stdout
    assert not any(line.startswith(("second line", "and CRLF")) for line in lines)
    tha = [line for line in lines if " THA " in line]
    assert len(tha) == 1 and "@SUM(A1:A9) second" in tha[0]
    sen = [line for line in lines if " SEN " in line]
    assert len(sen) == 1 and "Tab and CRLF" in sen[0]


# ---------------------------------------------------------------------------- run


@pytest.fixture(scope="module")
def run_folder(hostile: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the hostile scenario with the default run folder (runs/<name>-<stamp>/)."""
    work = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        stdout, _ = invoke(["run", str(hostile / "scenario.toml")])
    assert "\r" not in stdout
    assert not any(line.startswith(("=1", "second line")) for line in stdout.splitlines())
    entries = sorted(p.name for p in work.iterdir())
    assert entries == ["runs"], entries  # nothing escaped the runs/ parent
    folders = list((work / "runs").iterdir())
    assert len(folders) == 1, folders
    assert not (work.parent / "outside").exists()
    return folders[0]


def test_run_folder_name_is_sanitised(run_folder: Path) -> None:
    assert run_folder.resolve().parent == run_folder.parent.resolve()
    assert run_folder.parent.name == "runs"
    name = run_folder.name
    assert not name.startswith((".", "-"))
    assert all(ch.isalnum() or ch in "-_." for ch in name), name
    assert ".." not in name.split("-")


def test_run_csv_files_are_neutralised(run_folder: Path) -> None:
    allocation = _check_csv((run_folder / "allocation.csv").read_text(encoding="utf-8"))
    countries = {row["iso3"]: row["country"] for row in allocation}
    assert set(countries) == {"BRA", "IND", "THA", "ZAF"}
    for iso, name in countries.items():
        assert name == _neutral(HOSTILE_NAMES[iso])
    assert RENAMED_COMPONENT in {row["component"] for row in allocation}
    outcomes = _check_csv((run_folder / "outcomes.csv").read_text(encoding="utf-8"))
    assert {row["country"] for row in outcomes} == set(countries.values())
    screen = _check_csv((run_folder / "screen.csv").read_text(encoding="utf-8"), 193)
    assert {r["iso3"]: r["name"] for r in screen}["GHA"] == "'+1"
    _check_csv((run_folder / "constraints.csv").read_text(encoding="utf-8"))


def test_run_json_and_toml_stay_valid(run_folder: Path) -> None:
    summary = json.loads((run_folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["scenario"] == SCENARIO_NAME
    assert summary["status"] == "optimal"
    scenario = tomllib.loads((run_folder / "scenario.toml").read_text(encoding="utf-8"))
    assert scenario["name"] == SCENARIO_NAME
    json.loads((run_folder / "manifest.json").read_text(encoding="utf-8"))
    for path in run_folder.iterdir():  # the label itself never needs to reach an output
        assert HOSTILE_LABEL not in path.read_text(encoding="utf-8")


def test_write_lp_with_hostile_names(
    hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hostile names still give a model file, and only where asked."""
    monkeypatch.chdir(tmp_path)
    invoke(["run", str(hostile / "scenario.toml"), "--write-lp", "model.lp"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.lp"]
    assert "Maximize" in (tmp_path / "model.lp").read_text(encoding="utf-8")[:2000]


def test_hostile_component_key_is_refused(hostile: Path, tmp_path: Path) -> None:
    """Component keys name model variables and rows: only a-z, 0-9 and _ are accepted."""
    text = (hostile / "catalogue.toml").read_text(encoding="utf-8")
    header = f"[components.{RENAMED_COMPONENT}]\n"
    bad = tmp_path / "catalogue.toml"
    bad.write_text(text.replace(header, f"[components.{json.dumps(HOSTILE_KEY)}]\n"), "utf-8")
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        (hostile / "scenario.toml")
        .read_text(encoding="utf-8")
        .replace('dir = "data"', f"dir = {json.dumps((hostile / 'data').as_posix())}"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["run", str(scenario), "--write-lp", str(tmp_path / "m.lp")])
    assert result.exit_code == 2, result.output
    assert "catalogue.toml" in result.stderr and "lower-case letters" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "m.lp").exists()


def test_run_folder_follows_the_umask(run_folder: Path) -> None:
    """mkdtemp makes 0700 folders; the run folder is made like its files, from the umask."""
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(run_folder.stat().st_mode) == 0o777 & ~mask
    for path in run_folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path.name


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses non-UTF-8 file names")
def test_scenario_file_name_not_utf8_is_refused_before_the_solve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = os.fsdecode(b"what-if-\xff.toml")
    baseline = (REPO / "scenarios" / "baseline.toml").as_posix()
    (tmp_path / name).write_text(f"extends = {json.dumps(baseline)}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", name, "--out", "out"])
    assert result.exit_code == 2, result.output
    assert "the file name is not valid UTF-8" in result.stderr and 'name = "..."' in result.stderr
    assert "what-if-\\udcff.toml" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    (tmp_path / name).write_text(  # with a name in the file it runs (checked without solving)
        f'extends = {json.dumps(baseline)}\nname = "what-if"\n', encoding="utf-8"
    )
    small = ["--set", "eligibility.min_rule_of_law_pct=50"]
    result = CliRunner().invoke(main, ["run", name, *small, "--write-lp", "m.lp"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.lp").is_file()
