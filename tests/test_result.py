"""A run folder reads back as the same plain data, so reports never need to solve again."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from test_model import three_countries

from optimizer.cli import FLAGS
from optimizer.errors import OutputError
from optimizer.result import (
    RUN_FORMAT,
    plain_number,
    read_run,
    safe_cell,
    safe_name,
    write_run,
)


@pytest.fixture(scope="module")
def result():
    return three_countries(selection={"min_compact_usd": 3e6}).result()


def test_round_trip(result, tmp_path):
    folder = write_run(result, tmp_path / "run")
    back = read_run(folder)
    assert back.summary == result.summary
    pd.testing.assert_frame_equal(back.allocation, result.allocation, check_dtype=False)
    pd.testing.assert_frame_equal(
        back.outcomes.reset_index(drop=True),
        result.outcomes.reset_index(drop=True),
        check_dtype=False,
        rtol=5e-4,  # outcomes.csv keeps 4 significant figures (claimable_outcomes)
    )
    assert back.totals("iso3").to_dict() == result.totals("iso3").to_dict()
    assert back.scenario_toml == result.scenario_toml


def test_existing_folder_needs_force(result, tmp_path):
    folder = write_run(result, tmp_path / "run")
    with pytest.raises(OutputError, match="use force to replace it") as info:
        write_run(result, folder)
    assert "use --force to replace it, or another --out" in info.value.render(FLAGS)
    write_run(result, folder, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_not_a_run_folder(tmp_path):
    with pytest.raises(OutputError, match="not a tipfocus run folder"):
        read_run(tmp_path)


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("two\nlines", "two lines"),
        ("plain", "plain"),
        (3.5, 3.5),
    ],
)
def test_safe_cell(given, safe):
    assert safe_cell(given) == safe


@pytest.mark.parametrize(
    ("given", "safe"),
    [("../../etc", "etc"), ("baseline", "baseline"), ("a b/c", "a-b-c"), ("...", "run")],
)
def test_safe_name(given, safe):
    assert safe_name(given) == safe


def test_not_a_run_recognises_only_tipfocus_run_folders(tmp_path: Path) -> None:
    """--force replaces an earlier run (or an empty folder), nothing else."""
    from optimizer.result import not_a_run

    run = tmp_path / "run"
    run.mkdir()
    assert not_a_run(run) == ""  # empty: nothing to lose
    (run / "summary.json").write_text('{"scenario": "x", "status": "optimal"}')
    assert "no manifest.json" in not_a_run(run)
    (run / "manifest.json").write_text("{}")
    assert not_a_run(run) == ""
    assert not_a_run(run, {"summary.json", "manifest.json", "allocation.csv"}) == ""
    (run / "notes.txt").write_text("mine")
    assert not_a_run(run) == ""  # before the solve: only the marks are checked
    assert "holds notes.txt" in not_a_run(run, {"summary.json", "manifest.json"})
    (run / "notes.txt").unlink()
    (run / "sub").mkdir()
    assert "holds sub" in not_a_run(run)
    (run / "sub").rmdir()
    (run / "summary.json").write_text("not json")
    assert "summary.json that tipfocus did not write" in not_a_run(run)
    (tmp_path / "link").symlink_to(run)
    assert "symbolic link" in not_a_run(tmp_path / "link")
    (tmp_path / "file").write_text("x")
    assert not_a_run(tmp_path / "file") == "is a file, not a tipfocus run folder"


def test_manifest_records_the_format(result, tmp_path):
    folder = write_run(result, tmp_path / "run")
    assert json.loads((folder / "manifest.json").read_text())["format"] == RUN_FORMAT


def test_newer_format_is_refused(result, tmp_path):
    folder = write_run(result, tmp_path / "run")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format": RUN_FORMAT + 1}))
    with pytest.raises(OutputError, match=f"format {RUN_FORMAT + 1} is newer"):
        read_run(folder)


def test_summary_keys_from_a_later_version_are_ignored(result, tmp_path):
    folder = write_run(result, tmp_path / "run")
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "added_later": [1]}))
    assert read_run(folder).summary == result.summary
    del summary["status"]
    (folder / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(OutputError, match="lacks status"):
        read_run(folder)


@pytest.mark.parametrize(
    ("given", "text"),
    [
        (2.84217094304e-08, "0"),
        (250000000.0, "250000000"),
        (1234567.5, "1234567.5"),
        (-0.0, "0"),
        (1e15, "1000000000000000"),
        (float("nan"), ""),
    ],
)
def test_plain_number(given, text):
    assert plain_number(given) == text


def test_csvs_have_no_scientific_notation_and_outcomes_four_figures(result, tmp_path):
    folder = write_run(result, tmp_path / "run")
    for name in ("allocation.csv", "outcomes.csv", "constraints.csv", "screen.csv"):
        assert not re.search(r"\d[eE][+-]?\d", (folder / name).read_text()), name
    outcomes = pd.read_csv(folder / "outcomes.csv")
    digits = outcomes["outcome"].map(lambda v: len(f"{v:.15g}".replace(".", "").strip("0")))
    assert digits.max() <= 4
    assert outcomes["outcome"].sum() == pytest.approx(result.outcomes["outcome"].sum(), rel=5e-4)


@pytest.mark.parametrize("name", ["manifest.json", "summary.json"])
@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_damaged_json_is_a_clear_error(result, tmp_path, name, text):
    folder = write_run(result, tmp_path / "run")
    (folder / name).write_text(text)
    with pytest.raises(OutputError, match=f"{name}: is not"):
        read_run(folder)


def test_analysis_folders_force_replaces_only_their_own(tmp_path):
    """frontier (and the studies) write through files.write_folder: --force replaces an earlier
    folder of the same analysis, never anything else."""
    from optimizer.analysis.output import write_folder

    def files(text: str) -> dict:
        return {"frontier.csv": lambda path: path.write_text(text)}

    folder = write_folder(tmp_path / "sweep", files("first"), force=False)
    with pytest.raises(OutputError, match="already exists"):
        write_folder(folder, files("second"), force=False)
    write_folder(folder, files("second"), force=True)
    assert (folder / "frontier.csv").read_text() == "second"
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="force replaces only what tipfocus wrote"):
        write_folder(other, files("x"), force=True)
    assert (other / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "sweep"]  # no temporaries
