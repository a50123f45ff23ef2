"""Compacts: funding streams and host co-financing on hand-solvable instances.

With a huge saturation every curve stays in its first segment, so value is linear in spend: a
component at unit cost 1000 is worth twice one at 2000 per dollar (see test_model.py)."""

from __future__ import annotations

import pytest
from world import World, catalogue, component, scenario, view

from optimizer.compact import check_streams
from optimizer.errors import ScenarioError

LINEAR = {"saturation": 1000.0}
COMPONENTS = {
    "A": component(pillar="protection", cost=1000.0, **LINEAR),
    "B": component(pillar="prosecution", channel="government", cost=2000.0, **LINEAR),
}


def one_country(**sections) -> World:
    return World(
        scenario=scenario(**sections), view=view({"AAA": {}}), catalogue=catalogue(COMPONENTS)
    )


TWO_STREAMS = {
    "state": {"per_year_usd": "1M"},
    "labor": {"total_usd": "600k", "components": ["B"]},
}


def test_two_streams_pinned_by_hand() -> None:
    """State's $1M a year may pay for anything and goes to A (twice B's value per dollar); Labor's
    $600k may pay only for B, and goes there in the first year (the tie-break's earliest year)."""
    result = one_country(streams=TWO_STREAMS).result()
    alloc = result.allocation.set_index(["component", "year"])["amount_usd"]
    assert alloc.to_dict() == {
        ("A", 2015): 1e6,
        ("A", 2016): 1e6,
        ("A", 2017): 1e6,
        ("B", 2015): 6e5,
    }
    streams = result.streams.set_index(["component", "year", "stream"])["amount_usd"]
    assert streams.to_dict() == {
        ("A", 2015, "state"): 1e6,
        ("A", 2016, "state"): 1e6,
        ("A", 2017, "state"): 1e6,
        ("B", 2015, "labor"): 6e5,
    }
    assert result.summary.money_by_stream == {"labor": 6e5, "state": 3e6}


def test_streams_sum_to_the_allocation_row_by_row() -> None:
    """Concave curves split money across years and streams; every row still adds up exactly."""
    comps = {
        "A": component(pillar="protection", cost=1000.0, saturation=0.01),
        "B": component(pillar="prosecution", channel="government", cost=2000.0, saturation=0.01),
    }
    streams = {
        "state": {"per_year_usd": "700k"},
        "labor": {"total_usd": "333,333", "pillars": ["protection"]},
    }
    w = World(
        scenario=scenario(streams=streams),
        view=view({"AAA": {}, "BBB": {"people": 50_000}}),
        catalogue=catalogue(comps),
    )
    result = w.result()
    key = ["iso3", "component", "year"]
    by_row = result.streams.groupby(key)["amount_usd"].sum()
    alloc = result.allocation.set_index(key)["amount_usd"]
    assert by_row.reindex(alloc.index).tolist() == alloc.tolist()
    assert (result.streams["amount_usd"] == result.streams["amount_usd"].round()).all()
    labor = result.streams[result.streams["stream"] == "labor"]
    assert set(labor["component"]) == {"A"}
    assert labor["amount_usd"].sum() == pytest.approx(333_333, abs=2)
    per_year = (
        result.streams[result.streams["stream"] == "state"].groupby("year")["amount_usd"].sum()
    )
    assert (per_year <= 700_000 + 2).all()


def test_no_streams_is_one_default_stream() -> None:
    result = one_country(budget={"total_usd": "2M"}).result()
    assert set(result.streams["stream"]) == {"default"}
    assert result.streams["amount_usd"].tolist() == result.allocation["amount_usd"].tolist()
    assert result.summary.money_by_stream == {"default": 2e6}


def test_cofinancing_follows_the_declared_path() -> None:
    """US $3M; the host pays 10%, 25%, 40% of each year's programme and can afford $300k a year."""
    path = [0.1, 0.25, 0.4]
    w = one_country(
        budget={"total_usd": "3M"},
        cofinancing={"host_share": path, "affordable_usd": {"AAA": "300k"}},
    )
    result = w.result()
    co = result.cofinancing.set_index("year")
    assert co["host_share"].tolist() == pytest.approx(path, abs=1e-6)
    assert (co["host_usd"] <= 300_000 + 1).all()
    assert co["us_usd"].sum() == 3e6  # the binding budget, to the dollar
    assert result.summary.budget_used_usd == 3e6
    key = ["iso3", "component", "year"]
    by_row = result.streams.groupby(key)["amount_usd"].sum()
    alloc = result.allocation.set_index(key)["amount_usd"]
    assert by_row.reindex(alloc.index).tolist() == alloc.tolist()
    shares = list(result.summary.us_share_by_year.values())
    assert shares == pytest.approx([0.9, 0.75, 0.6], abs=1e-6)
    # the programme is US money plus host money: more than the US budget
    assert result.allocation["amount_usd"].sum() > 3e6 + 100_000
    # linear curves: later years' dollars go further (the host adds more) until affordability binds
    assert co.loc[2017, "host_usd"] == pytest.approx(300_000, abs=1)
    assert co.loc[2017, "programme_usd"] == pytest.approx(750_000, abs=1)


def test_cofinancing_without_affordability_data_buys_nothing_where_shared() -> None:
    """No population and no affordable_usd: the host can afford nothing, so a year with a host
    share gets no money."""
    result = one_country(cofinancing={"host_share": [0.0, 0.2, 0.2]}).result()
    assert set(result.allocation["year"]) == {2015}


@pytest.mark.parametrize(
    ("sections", "says"),
    [
        ({"cofinancing": {"host_share": [0.1, 0.5, 1.2]}}, "year 3 is 120%"),
        ({"cofinancing": {"host_share": [0.1, 0.5]}}, "gives 2 years but the horizon is 3"),
        ({"streams": {"state": {"pillars": ["protection"]}}}, "give per_year_usd, total_usd"),
        ({"streams": {"host": {"total_usd": 1}}}, "stream name 'host'"),
    ],
)
def test_bad_compact_terms_are_refused(sections: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        scenario(**sections)


def test_streams_that_cannot_fund_the_minimum_compacts() -> None:
    sc = scenario(
        streams={"state": {"total_usd": "5M"}, "labor": {"per_year_usd": "1M"}},
        selection={"min_countries": 2, "min_compact_usd": "5M"},
    )
    with pytest.raises(ScenarioError, match=r"at most \$8.00M together.*need at least \$10.0M"):
        check_streams(sc, catalogue(COMPONENTS))


def test_stream_naming_an_unknown_component() -> None:
    sc = scenario(streams={"state": {"total_usd": "5M", "components": ["Z"]}})
    with pytest.raises(ScenarioError, match=r"streams\.state\.components: Z not in the catalogue"):
        check_streams(sc, catalogue(COMPONENTS))


def test_bundled_streams_scenario_keeps_every_restriction(bundled) -> None:
    from optimizer.catalogue import DEFAULT_CATALOGUE, load_catalogue

    _scenario, result = bundled("compact-streams")
    comps = load_catalogue(DEFAULT_CATALOGUE).components
    streams, alloc = result.streams, result.allocation
    key = ["iso3", "component", "year"]
    by_row = streams.groupby(key)["amount_usd"].sum()
    assert by_row.reindex(alloc.set_index(key).index).tolist() == alloc["amount_usd"].tolist()
    tags = streams["component"].map(lambda k: set(comps[k].tags))
    pillars = streams["component"].map(lambda k: comps[k].pillar)
    assert tags[streams["stream"] == "dol_ilab"].map(lambda t: "labor" in t).all()
    assert tags[streams["stream"] == "foundation"].map(lambda t: "child_protection" in t).all()
    assert set(pillars[streams["stream"] == "usaid"]) <= {"prevention", "protection"}
    per_year = streams.groupby(["stream", "year"])["amount_usd"].sum()
    assert (per_year["state_jtip"] <= 20e6 + 5).all() and (per_year["usaid"] <= 15e6 + 5).all()
    money = result.summary.money_by_stream
    assert money["dol_ilab"] <= 50e6 + 5 and money["foundation"] <= 15e6 + 5
    assert "funding streams give at most $240.0M" in " ".join(result.summary.warnings)


def test_report_shows_streams_glide_path_and_benchmarks(tmp_path) -> None:
    """Through the run folder, as `tipfocus report` reads it: every target of targets.csv is a
    row of the benchmarks table, and the co-financing table shows the falling US share."""
    import re

    from optimizer.report.html import render
    from optimizer.report.sources import Run
    from optimizer.result import read_run, write_run

    w = one_country(
        budget={"total_usd": "3M"},
        streams={"state": {"per_year_usd": "2M"}},
        cofinancing={"host_share": [0.1, 0.25, 0.4], "affordable_usd": {"AAA": "300k"}},
    )
    folder = write_run(w.result(), tmp_path / "run")
    result = read_run(folder)
    html = render([Run(label="run", result=result, folder=folder)], with_charts=False)
    section = html[html.index("Benchmarks: projected outputs") :]
    rows = re.findall(r"<tr><td>AAA</td><td>([AB])</td><td>m</td>", section)
    assert sorted(rows) == sorted(set(result.targets["component"]))
    glide = html[html.index("Co-financing: the US share") : html.index("Benchmarks:")]
    assert re.findall(r"(\d+\.\d)%</td></tr>", glide) == ["90.0", "75.0", "60.0"]
    assert "<td>state</td>" in html and "<td>host</td>" in html


def test_cli_refuses_streams_short_of_the_minimum_compacts(tmp_path) -> None:
    from click.testing import CliRunner

    from optimizer.cli import main

    out = tmp_path / "never"
    args = ["run", "--set", "streams.state.total_usd=10M", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "baseline.toml" in result.output and "need at least $45.0M" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_compare_shows_streams_and_the_us_share() -> None:
    from optimizer.report.compare import side_by_side
    from optimizer.report.sources import Run

    plain = one_country(budget={"total_usd": "3M"}).result()
    shared = one_country(
        budget={"total_usd": "3M"},
        cofinancing={"host_share": [0.1, 0.25, 0.4], "affordable_usd": {"AAA": "300k"}},
    ).result()
    table = side_by_side([Run(label="plain", result=plain), Run(label="shared", result=shared)])
    rows = table.set_index(["section", "item"])
    assert rows.loc[("stream", "default"), "plain"] == 3e6
    assert rows.loc[("stream", "host"), "plain"] == 0  # none of it: zero, not missing
    assert rows.loc[("stream", "host"), "shared"] > 0
    shares = [rows.loc[("US share", str(y)), "shared"] for y in (2015, 2016, 2017)]
    assert shares == pytest.approx([0.9, 0.75, 0.6], abs=1e-6)


def test_targets_carry_the_uncertainty_range_when_given() -> None:
    """The hook for an uncertainty run: P10 and P90 per (iso3, component, year) join the targets;
    without it the range columns are blank."""
    import pandas as pd

    from optimizer.compact_tables import targets_table

    result = one_country(budget={"total_usd": "2M"}).result()
    plain = targets_table(result.outcomes)
    assert plain["projected"].tolist() == result.outcomes["outcome"].tolist()
    assert plain[["p10", "p90"]].isna().all().all()
    key = pd.MultiIndex.from_frame(result.outcomes[["iso3", "component", "year"]])
    spread = pd.DataFrame(
        {
            "p10": result.outcomes["outcome"].to_numpy() * 0.5,
            "p90": result.outcomes["outcome"].to_numpy() * 2,
        },
        index=key,
    )
    ranged = targets_table(result.outcomes, spread)
    assert (ranged["p10"] < ranged["projected"]).all() and (
        ranged["p90"] > ranged["projected"]
    ).all()


def test_streams_that_may_pay_in_too_few_countries() -> None:
    sc = scenario(
        streams={"state": {"total_usd": "50M", "countries": ["AAA"]}},
        selection={"min_countries": 2, "lock_in": ["BBB"]},
    )
    with pytest.raises(ScenarioError) as info:
        check_streams(sc, catalogue(COMPONENTS), ["AAA", "BBB", "CCC"])
    said = str(info.value)
    assert "BBB is locked in but no stream may pay there" in said
    assert "may pay only in AAA (1 countries), fewer than selection.min_countries 2" in said
