"""The HTML report (parsed, and rendered in headless Chromium) and the Excel workbook (read back
with openpyxl), on saved runs with hostile names."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from PIL import Image
from report_runs import HOSTILE_NAMES, SCENARIO_NAME, cli, two_runs

from optimizer.report.excel import write_workbook
from optimizer.report.html import render
from optimizer.report.sources import load_runs
from optimizer.result import read_run

RUN_SECTIONS = (
    "summary",
    "allocation",
    "outcomes",
    "charts",
    "binding",
    "screening",
    "data",
    "solver",
)
LOADING_TAGS = {"script", "link", "img", "iframe", "object", "embed", "audio", "video", "source"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return two_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def report(folders, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    code, output = cli("report", *folders, "--out", out)
    assert code == 0, output
    return out


class Page(HTMLParser):
    """What a test needs to know of a page: tags, ids, attributes and the text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.attrs: list[tuple[str, str, str]] = []  # tag, name, value
        self.keyed: dict[tuple[str, str], str] = {}  # (section id, data-key) -> data-value
        self.text: list[str] = []
        self.section = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        values = dict(attrs)
        if "id" in values:
            self.ids.add(values["id"])
            if tag == "section" and values["id"].count("-") == 1:
                self.section = values["id"]
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
        if "data-key" in values and "data-value" in values:
            self.keyed[(self.section, values["data-key"])] = values["data-value"]

    def handle_data(self, data):
        self.text.append(data)


def test_every_section_is_there(report):
    page = Page(report.read_text(encoding="utf-8"))
    for i in range(2):
        assert f"run-{i}" in page.ids
        for section in RUN_SECTIONS:
            assert f"run-{i}-{section}" in page.ids, section
    assert {"comparison", "comparison-assumptions", "assumptions"} <= page.ids
    kinds = [v for tag, name, v in page.attrs if tag == "figure" and name == "data-kind"]
    assert sorted(kinds) == sorted(
        ["allocation", "phasing", "outcomes", "readiness"] * 2 + ["compare", "change"]
    )
    assert page.tags.count("svg") == len(kinds)


def test_summary_numbers_equal_summary_json(report, folders):
    page = Page(report.read_text(encoding="utf-8"))
    for i, folder in enumerate(folders):
        summary = json.loads((folder / "summary.json").read_text())
        for key in ("budget_usd", "budget_used_usd", "objective", "gap", "bound", "reference_year"):
            assert float(page.keyed[(f"run-{i}", key)]) == summary[key], key
        assert page.keyed[(f"run-{i}", "selected")].split() == summary["selected"]
        assert int(page.keyed[(f"run-{i}", "eligible")]) == len(summary["eligible"])
    text = "".join(page.text)
    used = json.loads((folders[0] / "summary.json").read_text())["budget_used_usd"]
    assert f"${used:,.0f}" in text


def test_outcome_rows_equal_summary_json(report, folders):
    html = report.read_text(encoding="utf-8")
    page = Page(html)
    rows = [(dict(a)) for a in _rows_with(page, "data-metric")]
    summary = json.loads((folders[0] / "summary.json").read_text())
    first = {
        r["data-metric"]: float(r["data-value"]) for r in rows[: len(summary["outcomes_by_metric"])]
    }
    assert first == summary["outcomes_by_metric"]


def _rows_with(page: Page, name: str) -> list[list[tuple[str, str]]]:
    out, current = [], []
    for tag, attr, value in page.attrs:
        if tag == "tr":
            current.append((attr, value))
            if attr == "data-value":
                out.append(current)
                current = []
    return [r for r in out if any(a == name for a, _ in r)]


def test_nothing_is_loaded_from_anywhere(report):
    html = report.read_text(encoding="utf-8")
    page = Page(html)
    assert not LOADING_TAGS & set(page.tags)
    for tag, name, value in page.attrs:
        assert name not in {"src", "srcset", "action", "formaction", "background", "poster"}, tag
        if name.endswith("href"):
            assert value.startswith("#") or (tag == "a" and value.startswith("https://")), value
        assert "url(" not in value.replace(" ", "").lower() or "url(#" in value, value
        assert not name.startswith("on"), (tag, name)
    assert "@import" not in html and "url(http" not in html.replace(" ", "")


def test_hostile_names_are_text(report):
    page = Page(report.read_text(encoding="utf-8"))
    assert "script" not in page.tags and "b" not in page.tags
    text = "".join(page.text)
    assert SCENARIO_NAME in text  # shown, as text
    assert HOSTILE_NAMES["IND"] in text
    assert HOSTILE_NAMES["THA"] in text
    assert "'" + HOSTILE_NAMES["BRA"] in text  # as the run folder's CSV neutralised it


def test_report_of_a_scenario_file_and_the_catalogue_assumptions(folders):
    runs = load_runs([folders[0]])
    page = Page(render(runs, with_charts=False))
    text = "".join(page.text)
    assert "comparison" not in page.ids
    assert "assumption:" in text  # catalogue sources shown
    assert "Evidence grades" in text
    assert "World Bank governance indicators" in text  # data editions


def test_report_cli_refuses_and_writes_nothing(folders, tmp_path):
    out, book = tmp_path / "r.html", tmp_path / "r.xlsx"
    out.write_text("earlier")
    code, output = cli("report", folders[0], "--out", out, "--xlsx", book)
    assert code == 2 and "--force" in output
    assert out.read_text() == "earlier" and not book.exists()
    newer = tmp_path / "newer"
    shutil.copytree(folders[0], newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "format": 99}))
    code, output = cli("report", newer, "--out", tmp_path / "n.html")
    assert code == 2 and "format 99 is newer" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer", "r.html"]


# ---------------------------------------------------------------------------- Chromium


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    _chromium() is None,
    reason="chromium not on PATH (Debian: apt-get install chromium; .ci/run installs it)",
)
def test_report_renders_in_headless_chromium(report, tmp_path):
    shot, pdf = tmp_path / "shot.png", tmp_path / "report.pdf"
    common = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run"]  # fmt: skip
    subprocess.run([*common, "--window-size=1200,1600", f"--screenshot={shot}", report.as_uri()],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    with Image.open(shot) as image:
        grey = image.convert("L")
        assert grey.size == (1200, 1600)
        dark = sum(count for count, level in grey.getcolors(256) if level < 128)
        assert dark > 0.005 * 1200 * 1600  # text and tables, not a blank page
        assert len(image.convert("RGB").getcolors(1 << 24)) > 50
    subprocess.run([*common, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri()],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 3  # paginated for print


# ---------------------------------------------------------------------------- Excel


@pytest.fixture(scope="module")
def workbook(folders, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("xlsx") / "run.xlsx"
    code, output = cli("report", folders[0], "--out", path.with_suffix(".html"), "--xlsx", path)
    assert code == 0, output
    return path


def _table(sheet) -> pd.DataFrame:
    rows = list(sheet.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_workbook_totals_equal_allocation_csv(workbook, folders):
    alloc = pd.read_csv(folders[0] / "allocation.csv")
    book = openpyxl.load_workbook(workbook, data_only=True)
    assert book.sheetnames == ["Summary", "Allocation", "Country by year", "Outcomes", "Streams",
                               "Co-financing", "Benchmarks", "Screening", "Assumptions",
                               "Metric weights", "Scenario"]  # fmt: skip
    sheet = _table(book["Allocation"])
    body, total = sheet.iloc[:-1], sheet.iloc[-1]
    assert total["iso3"] == "total"
    assert body["total"].sum() == alloc["amount_usd"].sum() == total["total"]
    for year, amount in alloc.groupby("year")["amount_usd"].sum().items():
        assert body[str(year)].sum() == amount == total[str(year)]
    assert len(body) == len(alloc.groupby(["iso3", "component"]))
    by_year = _table(book["Country by year"])
    assert by_year.iloc[-1]["total"] == alloc["amount_usd"].sum()
    assert (
        dict(zip(by_year["iso3"][:-1], by_year["total"][:-1], strict=True))
        == alloc.groupby("iso3")["amount_usd"].sum().to_dict()
    )


def test_workbook_layout(workbook):
    book = openpyxl.load_workbook(workbook)
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert len(sheet.tables) == 1, sheet.title
        assert sheet.column_dimensions["A"].width > 5
    money = book["Allocation"]["F2"]
    assert isinstance(money.value, int | float) and money.number_format == "$#,##0"
    assert book["Outcomes"]["F2"].number_format == "0.0%"
    total = book["Allocation"].cell(book["Allocation"].max_row, 6)
    assert total.data_type == "f" and "SUBTOTAL" in total.value  # a live total


def test_workbook_text_never_runs_as_a_formula(folders, tmp_path):
    result = read_run(folders[0])
    alloc = result.allocation.copy()
    alloc["country"] = ["=1+1", "+A1", "-2", "@SUM(A1)"] * (len(alloc) // 4) + ["=x"] * (
        len(alloc) % 4
    )
    hostile = dataclasses.replace(result, allocation=alloc)
    path = tmp_path / "hostile.xlsx"
    write_workbook(hostile, path)
    sheet = openpyxl.load_workbook(path)["Allocation"]
    cells = [sheet.cell(r, 2) for r in range(2, sheet.max_row)]
    assert {c.value for c in cells} <= {"=1+1", "+A1", "-2", "@SUM(A1)", "=x"}
    assert all(c.data_type == "s" for c in cells)
    summary = openpyxl.load_workbook(path)["Summary"]
    assert summary["B2"].value == SCENARIO_NAME and summary["B2"].data_type == "s"


def test_report_is_the_same_every_time(folders):
    runs = load_runs([folders[1]])
    assert render(runs) == render(runs)  # no dates, fixed SVG ids


def test_workbook_of_several_runs_has_the_comparison(folders, tmp_path):
    path = tmp_path / "two.xlsx"
    code, output = cli("report", *folders, "--out", tmp_path / "two.html", "--xlsx", path)
    assert code == 0, output
    sheet = _table(openpyxl.load_workbook(path)["Comparison"])
    assert list(sheet.columns) == ["section", "item", "unit", "full", "cut", "change cut"]
    budget = sheet[(sheet["section"] == "run") & (sheet["item"] == "budget")].iloc[0]
    assert (budget["full"], budget["cut"], budget["change cut"]) == (250e6, 200e6, -50e6)
    assert "assumption" in set(sheet["section"])


def test_trade_off_tables_beside_a_run_are_shown_escaped(folders, tmp_path):
    folder = tmp_path / "with-prices"
    shutil.copytree(folders[0], folder)
    rows = [
        {"rule": f"rule_{i}", "price_per_musd": 100.0 + i, "note": "<img src=x onerror=alert(1)>"}
        for i in range(70)
    ]
    pd.DataFrame(rows).to_csv(folder / "prices.csv", index=False)
    page = Page(render(load_runs([folder]), with_charts=False))
    assert "run-0-tradeoffs" in page.ids
    text = "".join(page.text)
    assert "rule_59" in text and "rule_60" not in text and "first 60 rows" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert "img" not in page.tags
