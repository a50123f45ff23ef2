"""Report tables, `show`, `compare` and the charts, on saved runs (no solving in the reports)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from PIL import Image
from report_runs import HOSTILE_NAMES, SCENARIO_NAME, cli, two_runs

from optimizer.report import charts
from optimizer.report.compare import assumptions_diff, side_by_side
from optimizer.report.figures import KINDS, available, check_kinds, figure, run_colours
from optimizer.report.sources import Run, load_runs
from optimizer.report.tables import outcomes_table, report_tables, vintage
from optimizer.report.text import run_summary
from optimizer.result import RUN_FORMAT, read_run
from optimizer.scenario import usd

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return two_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def runs(folders) -> list[Run]:
    return load_runs(list(folders))


# ---------------------------------------------------------------------------- tables


def test_tables_add_up_to_the_allocation(folders):
    result = read_run(folders[0])
    alloc = pd.read_csv(folders[0] / "allocation.csv")
    tables = report_tables(result)
    total = alloc["amount_usd"].sum()
    for frame in (tables.by_country, tables.by_pillar, tables.by_channel, tables.by_year):
        assert frame["amount_usd"].sum() == total
        assert frame["share"].sum() == pytest.approx(1.0)
    assert tables.country_pillar["total"].sum() == total
    assert tables.country_year.drop(columns="total").sum().sum() == total
    assert list(tables.by_country["amount_usd"]) == sorted(tables.by_country["amount_usd"])[::-1]
    assert set(tables.by_country["iso3"]) == set(HOSTILE_NAMES)


def test_chart_footnotes_name_every_data_edition_the_screen_used(bundled):
    """The footnote names each source the baseline's screening read, the DOL List of Goods
    included, with the edition years found in its screen."""
    _, result = bundled("baseline")
    editions = report_tables(result).editions.set_index("source")["years"]
    assert editions["US DOL List of Goods Produced by Child Labor or Forced Labor"] == "2016"
    assert editions["US State Department TIP Report (tiers)"] == "2013"
    line = vintage("baseline", report_tables(result).editions)
    assert line.startswith("Scenario baseline. Data: US State Department TIP Report 2013;")
    assert "US DOL List of Goods Produced by Child Labor or Forced Labor 2016" in line


def test_outcomes_table_matches_the_summary(folders):
    result = read_run(folders[0])
    table = outcomes_table(result).set_index("metric")
    assert table["outcome"].to_dict() == result.summary.outcomes_by_metric
    assert table["share"].sum() == pytest.approx(1.0)
    spend = table["spend_usd"]
    assert spend.sum() == result.allocation["amount_usd"].sum()  # every component has a metric
    assert table["cost_per_outcome_usd"].to_dict() == pytest.approx(
        (spend / table["outcome"]).to_dict(),
        nan_ok=True,  # a metric nothing buys has no cost each
    )


# ---------------------------------------------------------------------------- show


def test_show_prints_the_run_summary_without_solving(folders, monkeypatch):
    import optimizer.engine

    def no_solve(*_args, **_kwargs):
        raise AssertionError("show must not solve")

    monkeypatch.setattr(optimizer.engine, "run", no_solve)
    code, output = cli("show", folders[0])
    assert code == 0, output
    assert output.strip() == run_summary(read_run(folders[0])).strip()
    assert "By focus country" in output


@pytest.mark.parametrize("problem", ["not a run", "newer format", "missing"])
def test_show_refuses_bad_folders(folders, tmp_path, problem):
    folder = tmp_path / "run"
    if problem == "not a run":
        folder.mkdir()
        (folder / "notes.txt").write_text("hello")
        expected = "not a tipfocus run folder"
    elif problem == "newer format":
        import shutil

        shutil.copytree(folders[0], folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["format"] = RUN_FORMAT + 1
        (folder / "manifest.json").write_text(json.dumps(manifest))
        expected = "upgrade tipfocus"
    else:
        expected = "no such run folder"
    code, output = cli("show", folder)
    assert code == 2
    assert expected in output
    assert "Traceback" not in output


# ---------------------------------------------------------------------------- compare


def test_side_by_side_values_and_changes(runs):
    table = side_by_side(runs).set_index(["section", "item"])
    full, cut = (r.result for r in runs)
    assert table.loc[("run", "budget"), "full"] == 250e6
    assert table.loc[("run", "budget"), "cut"] == 200e6
    assert table.loc[("run", "budget"), "change cut"] == -50e6
    used = table.loc[("run", "budget used")]
    assert used["change cut"] == cut.summary.budget_used_usd - full.summary.budget_used_usd
    for iso, amount in full.totals("iso3").items():
        row = table.loc[
            ("country", f"{iso} {full.allocation.set_index('iso3').loc[iso, 'country'].iloc[0]}")
        ]
        assert row["full"] == amount
        assert row["change cut"] == cut.totals("iso3").get(iso, 0.0) - amount
    for metric, value in cut.summary.outcomes_by_metric.items():
        assert table.loc[("outcomes", metric), "cut"] == value
    assert pd.isna(table.loc[("run", "status"), "change cut"])  # same text: no change


def test_assumptions_diff_names_the_keys_that_differ(runs):
    diff = assumptions_diff(runs).set_index("key")
    assert diff.loc["budget.total_usd"].to_dict() == {"full": "250,000,000", "cut": "200,000,000"}
    assert diff.loc["budget.annual_cap_usd", "cut"] == "48,000,000"
    assert "selection.max_countries" not in diff.index  # the same in both
    assert not any(k.startswith("input ") for k in diff.index)  # same files, same hashes


def test_compare_cli_formats(folders, tmp_path):
    code, text = cli("compare", *folders)
    assert code == 0, text
    assert "change cut" in text and "budget.total_usd" in text and "$200.0M" in text
    code, md = cli("compare", *folders, "--format", "md")
    assert code == 0 and md.startswith("| section | item | full | cut | change cut |")
    out = tmp_path / "cmp"
    code, output = cli("compare", *folders, "--format", "csv", "--out", out)
    assert code == 0, output
    frame = pd.read_csv(out / "comparison.csv")
    assert list(frame.columns) == ["section", "item", "unit", "full", "cut", "change cut"]
    names = set(frame.loc[frame["section"] == "country", "item"])
    assert "BRA '=cmd|' /C calc'!A0" in names  # neutralised in the run folder already
    assert all(not str(v).startswith(("=", "+", "-", "@")) for v in frame["item"])
    assumed = frame[frame["section"] == "assumption"].set_index("item")
    assert assumed.loc["budget.total_usd", ["full", "cut", "change cut"]].tolist() == [
        "250,000,000",
        "200,000,000",
        "differs",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["comparison.csv"]


def test_compare_refuses_bad_arguments_and_writes_nothing(folders, tmp_path):
    code, output = cli("compare", folders[0], folders[0])
    assert code == 2 and "same name 'full'" in output
    copy = tmp_path / "other" / "full"
    copy.parent.mkdir()
    import shutil

    shutil.copytree(folders[0], copy)
    code, output = cli("compare", folders[0], copy, "--out", tmp_path / "cmp")
    assert code == 2 and "same name" in output
    assert not (tmp_path / "cmp").exists()
    (tmp_path / "exists").mkdir()
    code, output = cli("compare", *folders, "--out", tmp_path / "exists")
    assert code == 2 and "--force" in output
    assert list((tmp_path / "exists").iterdir()) == []
    code, output = cli("compare", folders[0], tmp_path / "nowhere")
    assert code == 2 and "no such run folder or scenario file" in output


def test_compare_solves_a_scenario_file_on_the_fly(folders, tmp_path):
    scenario = folders[0].parent / "project" / "scenario.toml"
    code, output = cli("compare", folders[1], scenario, "--format", "csv")
    assert code == 0, output
    frame = pd.read_csv(io.StringIO(output))
    label = next(c for c in frame.columns if c.startswith("change ")).removeprefix("change ")
    assert label == SCENARIO_NAME
    budget = frame[(frame["section"] == "run") & (frame["item"] == "budget")]
    assert float(budget[label].iloc[0]) == 250e6


# ---------------------------------------------------------------------------- charts


def _draw(kind, runs):
    fig = figure(kind, runs, run_colours(runs))
    return fig, fig.axes[0]


def _footnote(fig) -> str:
    return " ".join(t.get_text() for t in fig.texts)


def test_allocation_chart_content(runs):
    fig, ax = _draw("allocation", runs[:1])
    tables = report_tables(runs[0].result)
    pillars = [c for c in tables.country_pillar.columns if c != "total"]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == len(pillars)
    assert all(len(b) == len(tables.by_country) for b in bars)
    assert "$M" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == pillars[::-1]
    tops = [sum(b[i].get_height() for b in bars) for i in range(len(tables.by_country))]
    assert tops == pytest.approx(list(tables.by_country["amount_usd"] / 1e6))
    assert SCENARIO_NAME in _footnote(fig) and "TIP Report 2013" in _footnote(fig)
    assert (
        charts.PILLAR_COLOURS["prevention"]
        == matplotlib.colors.to_hex(bars[pillars.index("prevention")][0].get_facecolor()).upper()
    )


def test_country_colours_are_kept_across_charts(runs):
    colours = run_colours(runs)
    phasing = figure("phasing", runs[:1], colours).axes[0]
    readiness = figure("readiness", runs[:1], colours).axes[0]
    legend = {
        t.get_text(): h
        for t, h in zip(
            phasing.get_legend().get_texts(), phasing.get_legend().legend_handles, strict=True
        )
    }
    assert set(legend) == set(HOSTILE_NAMES)
    for iso, handle in legend.items():
        assert matplotlib.colors.to_hex(handle.get_facecolor()).upper() == colours[iso]
    focus = readiness.collections[1]
    assert len(focus.get_offsets()) == len(HOSTILE_NAMES)
    assert "$M" in phasing.get_ylabel() and "WGI percentile" in readiness.get_xlabel()
    assert {t.get_text() for t in readiness.texts} == set(HOSTILE_NAMES)


def test_outcomes_and_comparison_charts(runs):
    _, ax = _draw("outcomes", runs[:1])
    assert len(ax.patches) == len(runs[0].result.summary.outcomes_by_metric)
    assert "%" in ax.get_xlabel()
    fig, ax = _draw("compare", runs)
    funded = set(runs[0].result.allocation["iso3"]) | set(runs[1].result.allocation["iso3"])
    assert len(ax.patches) == 2 * len(funded)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["full", "cut"]
    assert "$M" in ax.get_ylabel() and "full, cut" in _footnote(fig)
    _, ax = _draw("change", runs)
    assert "$M" in ax.get_xlabel() and "from full" in ax.get_title()


def test_chart_cli_writes_png_at_200_dpi(folders, tmp_path):
    out = tmp_path / "charts"
    code, output = cli("chart", *folders, "--out", out)
    assert code == 0, output
    assert sorted(p.stem for p in out.iterdir()) == sorted(k for k in KINDS if k != "frontier")
    with Image.open(out / "allocation.png") as image:
        assert image.size == (7.5 * 200, 4.2 * 200)
        assert round(image.info["dpi"][0]) == 200
        assert len(image.convert("L").getcolors(1 << 20)) > 20  # drawn, not blank
    code, output = cli("chart", folders[0], "--kind", "outcomes", "--format", "svg", "--out", out)
    assert code == 0 and (out / "outcomes.svg").read_text().lstrip().startswith("<?xml")


def test_chart_cli_bad_input_writes_nothing(folders, tmp_path):
    out = tmp_path / "charts"
    code, output = cli("chart", folders[0], "--kind", "frontier", "--out", out)
    assert code == 2 and "needs frontier.csv" in output
    code, output = cli("chart", folders[0], "--kind", "change", "--out", out)
    assert code == 2 and "needs two runs" in output
    code, output = cli("chart", folders[0], "--kind", "pie", "--out", out)
    assert code == 2
    assert not out.exists()
    out.mkdir()
    (out / "outcomes.png").write_text("earlier")
    code, output = cli("chart", folders[0], "--out", out)
    assert code == 2 and "--force" in output
    assert [p.name for p in out.iterdir()] == ["outcomes.png"]
    assert (out / "outcomes.png").read_text() == "earlier"


def test_frontier_chart_from_frontier_csv(folders, tmp_path):
    import shutil

    folder = tmp_path / "with-frontier"
    shutil.copytree(folders[0], folder)
    pd.DataFrame(
        {
            "value": [100e6, 150e6, 200e6, 250e6],
            "status": ["infeasible", "optimal", "optimal", "optimal"],
            "objective": [None, 9e4, 1.1e5, 1.25e5],
        }
    ).to_csv(folder / "frontier.csv", index=False)
    runs = load_runs([folder])
    assert "frontier" in available(runs)
    assert check_kinds(runs, []) == available(runs)
    _, ax = _draw("frontier", runs)
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [150, 200, 250]  # $M; the infeasible point left out
    assert list(line.get_ydata()) == [9e4, 1.1e5, 1.25e5]
    assert "$M" in ax.get_xlabel() and "impact" in ax.get_ylabel()


def test_compare_names_the_scenario_file_whose_rules_are_wrong(folders, tmp_path):
    scenario = tmp_path / "bad.toml"
    baseline = (Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml").as_posix()
    scenario.write_text(f'extends = "{baseline}"\n[selection]\nlock_in = ["XXX"]\n')
    code, output = cli("compare", folders[0], scenario, "--out", tmp_path / "cmp")
    assert code == 2
    assert str(scenario) in output and "selection.lock_in: XXX" in output
    assert not (tmp_path / "cmp").exists()


def test_compare_terminal_table_keeps_one_line_per_row():
    from optimizer.report.compare import as_text

    frame = pd.DataFrame(
        [
            ["country", "AAA two\nlines", "usd", 1e6, 3e6, 2e6],
            ["run", "list", "text", "x" * 60, "y", "differs"],
        ],
        columns=["section", "item", "unit", "a", "b", "change b"],
    )
    diff = pd.DataFrame([["description", "one\r\ntwo", "three"]], columns=["key", "a", "b"])
    lines = as_text(frame, diff).splitlines()
    assert any(line.startswith("AAA two lines") and "+$2.00M" in line for line in lines)
    assert any(("x" * 39 + "…") in line for line in lines)
    assert "  description: a=one two | b=three" in lines


def test_chart_kinds_offered_by_the_cli_are_the_figures_kinds():
    from optimizer.cli import chart

    kind = next(p for p in chart.params if p.name == "kinds")
    assert tuple(kind.type.choices) == KINDS


# ---------------------------------------------------------------------------- one set of tables


def test_every_view_takes_its_figures_from_the_report_tables(runs, tmp_path):
    """Change one report table and the text summary, compare, the HTML report, the workbook and
    the chart all show the changed figures: no view computes its own."""
    import dataclasses

    import openpyxl

    from optimizer.report import html
    from optimizer.report.excel import write_workbook

    result = runs[0].result
    real = report_tables(result)
    iso = real.by_country["iso3"].iloc[0]
    by_country = real.by_country.copy()
    by_country.loc[0, ["amount_usd", "share"]] = [123_456_789.0, 0.4321]
    by_pillar = real.by_pillar.copy()
    by_pillar.loc[0, "amount_usd"] = 98_765_432.0
    outcomes = real.outcomes.copy()
    outcomes.loc[0, "outcome"] = 9_876_543.0
    country_pillar = real.country_pillar.copy()
    country_pillar.loc[iso] = 111e6
    changed = dataclasses.replace(
        real,
        by_country=by_country,
        by_pillar=by_pillar,
        outcomes=outcomes,
        country_pillar=country_pillar,
        country_pillar_total=real.country_pillar_total + 1e6,
    )
    run = Run(runs[0].label, result, runs[0].folder)
    run.__dict__["tables"] = changed  # what Run.tables would have computed

    text = run_summary(result, changed)
    assert "$123.5M  43.2%" in text and "$98.8M" in text and "9,876,543" in text

    page = html.render([run], with_charts=False)
    assert "$111.0M" in page and "43.2%" in page and "$98.8M" in page and "9,876,543" in page
    total_row = page[page.index('<tr class="total">') :].split("</tr>")[0]
    assert usd(real.country_pillar_total["total"] + 1e6) in total_row

    compare = side_by_side([run, runs[1]]).set_index(["section", "item"])
    name = f"{iso} {by_country.loc[0, 'country']}"
    assert compare.loc[("country", name), run.label] == 123_456_789.0
    assert compare.loc[("outcomes", outcomes.loc[0, "metric"]), run.label] == 9_876_543.0

    path = tmp_path / "changed.xlsx"
    write_workbook(result, path, tables=changed)
    sheet = openpyxl.load_workbook(path)["Outcomes"]
    assert sheet["B2"].value == 9_876_543.0

    ax = figure("allocation", [run], run_colours([run])).axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert sum(b[0].get_height() for b in bars) == pytest.approx(111 * len(bars))


def test_views_of_a_saved_run_show_the_same_figures(runs):
    """The summary, compare and the HTML report of one saved run agree figure for figure."""
    from optimizer.report import html

    run = runs[0]
    t = run.tables
    text = run_summary(run.result)
    page = html.render([run], with_charts=False)
    compare = side_by_side(runs).set_index(["section", "item"])[run.label]
    for row in t.by_country.itertuples():
        assert f"{usd(row.amount_usd):>10} {row.share:>6.1%}" in text
        assert compare[("country", f"{row.iso3} {row.country}")] == row.amount_usd
    for row in t.by_pillar.itertuples():
        assert f"{row.pillar:<40} {usd(row.amount_usd):>10} {row.share:>6.1%}" in text
        assert f'<td>{row.pillar}</td><td class="num">{usd(row.amount_usd)}</td>' in page
        assert compare[("pillar", row.pillar)] == row.amount_usd
    for row in t.outcomes.itertuples():
        assert compare[("outcomes", row.metric)] == row.outcome
        assert f'data-metric="{row.metric}" data-value="{row.outcome}"' in page


def test_focus_labels_cover_no_label_and_no_marker():
    """Focus countries with close scores (ZAF and GHA on the baseline): each name goes to a side
    where it covers no other name and no focus country's marker."""
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

    screening = pd.DataFrame(
        {
            "iso3": ["AAA", "BBB", "CCC", "DDD", "EEE"],
            "eligible": [True] * 5,
            "focus": [True, True, True, True, False],
            "governance_pct": [55.0, 56.0, 54.0, 20.0, 55.5],
            "readiness": [57.0, 56.5, 55.0, 30.0, 56.0],
        }
    )
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    with charts.chart_style():
        charts.readiness_vs_governance(ax, screening, {})
        fig.draw_without_rendering()
        labels = [t.get_window_extent() for t in ax.texts]
        markers = ax.transData.transform(ax.collections[1].get_offsets())
    assert sorted(t.get_text() for t in ax.texts) == ["AAA", "BBB", "CCC", "DDD"]
    half = 4.5 * fig.dpi / 72
    marks = [Bbox.from_extents(x - half, y - half, x + half, y + half) for x, y in markers]
    for i, box in enumerate(labels):
        assert not any(box.overlaps(other) for other in labels[i + 1 :] + marks)
