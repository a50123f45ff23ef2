"""Country-specific components: the DOL List of Goods gives each country its sectors, and a sector
component (sugar, seafood, agriculture supply chains) applies only where its sector is listed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import world as w
from click.testing import CliRunner

from optimizer.catalogue import load_catalogue
from optimizer.cli import main
from optimizer.data import DATA_DIR, country_view, load_tables
from optimizer.errors import DataError
from optimizer.impact import build_curves
from optimizer.report.text import run_summary
from optimizer.scenario import load_scenario
from optimizer.screening import screen
from optimizer.vocabulary import SECTORS

FULL = 0.95  # a curve bought to its last breakpoint delivers REACH of its saturation


@pytest.fixture(scope="module")
def tables():
    return load_tables()


@pytest.fixture(scope="module")
def view(tables):
    return country_view(tables, 2013)


# ---------------------------------------------------------------- the table and the view


def test_every_sector_component_names_a_sector_of_the_goods_table():
    sectors = {c.sector for c in load_catalogue().components.values()} - {"none"}
    assert sectors == {"sugar", "seafood", "agriculture"}
    assert sectors <= set(SECTORS)


def test_goods_table_facts(tables):
    goods = tables.dol_goods
    assert set(goods["edition"]) == {2016}
    assert len(goods) == 379 and goods["iso3"].nunique() == 75  # "India " is India
    assert set(goods["sector"]) == set(SECTORS)  # every sector word is used
    row = goods[(goods["iso3"] == "BRA") & (goods["good"] == "Sugarcane")].iloc[0]
    assert (row["sector"], row["child_labor"], row["forced_labor"]) == ("sugar", 0, 1)
    assert ((goods["child_labor"] == 1) | (goods["forced_labor"] == 1)).all()


def test_view_sector_flags_and_forced_labour_goods(view):
    assert view.loc["THA", "sector_seafood"] and view.loc["THA", "sector_sugar"]
    assert not view.loc["THA", "sector_agriculture"]  # Thailand's only crop listed: sugarcane
    assert not view.loc["MEX", "sector_seafood"]
    assert view.loc["UKR", "sectors"] == "mining, sexual_exploitation"
    assert view.loc["GBR", "sectors"] == "" and view.loc["GBR", "forced_labor_goods"] == 0
    assert view.loc["IND", "forced_labor_goods"] == 7  # bricks, carpets, cottonseed, ...
    assert (view["dol_edition"] == 2016).all()
    # the 2016 edition is used whatever the reference year (stands in for 2013-2014)
    assert country_view(load_tables(), 2005).loc["THA", "sector_seafood"]


def test_a_good_classed_apart_from_the_sector_table_fails_data_check(tmp_path: Path):
    d = tmp_path / "data"
    shutil.copytree(DATA_DIR, d)
    path = d / "dol_goods.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("BRA,2016,Sugarcane,sugar", "BRA,2016,Sugarcane,mining"))
    with pytest.raises(DataError) as exc:
        load_tables(d)
    msg = str(exc.value)
    assert "dol_goods.csv" in msg and "'Sugarcane' has sector 'mining'" in msg
    assert "dol_good_sectors.csv gives 'sugar'" in msg


def test_a_sector_outside_the_vocabulary_fails_data_check(tmp_path: Path):
    d = tmp_path / "data"
    shutil.copytree(DATA_DIR, d)
    path = d / "dol_good_sectors.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("Cocoa,agriculture", "Cocoa,cocoa"))
    with pytest.raises(DataError, match=r"column sector value 'cocoa' is not one of agriculture"):
        load_tables(d)


# ---------------------------------------------------------------- the gate, hand-solvable


def _world(components: dict, **scenario) -> w.World:
    countries = {"AAA": {"sectors": ("seafood",)}, "BBB": {"sectors": ("mining",)}}
    return w.World(
        scenario=w.scenario(**scenario), view=w.view(countries), catalogue=w.catalogue(components)
    )


def test_sector_component_refused_where_the_country_lacks_the_sector():
    # Both countries: 100,000 people, so each curve saturates at 0.01 * 100,000 = 1,000 a year.
    world = _world(
        {"fish": w.component(sector="seafood"), "general": w.component()},
        budget={"total_usd": 100e6},  # more than the ~$3M a year each curve can use
    )
    prep = world.prepare()
    pairs = set(prep.curves.params.index)
    assert pairs == {("AAA", "fish"), ("AAA", "general"), ("BBB", "general")}
    result = world.result()
    fish = result.allocation[result.allocation["component"] == "fish"]
    assert set(fish["iso3"]) == {"AAA"} and fish["amount_usd"].sum() > 0
    # The budget buys every curve to its end: 3 curves x 3 years x 0.95 x 1,000 outcomes.
    assert result.summary.objective == pytest.approx(3 * 3 * FULL * 1000, rel=1e-6)


def test_a_country_left_with_no_component_builds_solves_and_scores():
    world = _world({"fish": w.component(sector="seafood")}, selection={"min_countries": 0})
    prep = world.prepare()
    assert "BBB" in prep.countries and "BBB" not in prep.curves.params.index.get_level_values(0)
    result = world.result()
    assert result.summary.status == "optimal"
    assert set(result.allocation["iso3"]) == {"AAA"}
    assert set(result.outcomes["iso3"]) == {"AAA"}
    assert result.summary.objective == pytest.approx(3 * FULL * 1000, rel=1e-6)
    assert "AAA Country AAA" in run_summary(result)  # the report reads only pairs that exist


# ---------------------------------------------------------------- the gate, real data


def test_real_curves_follow_the_listed_sectors(tables, view):
    scenario = load_scenario()
    scr = screen(tables, scenario.eligibility, 2013)
    catalogue = load_catalogue()
    curves = build_curves(scr.frame, scr.eligible, catalogue, scenario.objective)
    pairs = set(curves.params.index)
    for key, comp in catalogue.components.items():
        have = {iso for iso in scr.eligible if (iso, key) in pairs}
        if comp.sector == "none":
            assert have == set(scr.eligible), key
        else:
            listed = {iso for iso in scr.eligible if view.loc[iso, f"sector_{comp.sector}"]}
            assert have == listed and 0 < len(listed) < len(scr.eligible), key
    assert ("MEX", "supply_chain_remediation_seafood") not in pairs  # no seafood good listed
    assert ("IDN", "supply_chain_remediation_seafood") in pairs  # fish (forced labour)


def test_real_model_has_no_seafood_money_to_give_where_none_is_listed():
    from optimizer.engine import prepare

    prep = prepare(load_scenario(None, ["selection.lock_in=['MEX', 'THA']"]))
    cols = prep.model.columns
    seafood = cols[cols["component"] == "supply_chain_remediation_seafood"]
    assert "MEX" in prep.countries and "MEX" not in set(seafood["iso3"])
    assert "THA" in set(seafood["iso3"])
    assert set(seafood["iso3"]) == {
        c for c in prep.countries if prep.screen.frame.loc[c, "sector_seafood"]
    }


# ---------------------------------------------------------------- the command line


def _hand_tables(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    for name in ("countries.csv", "country_names.csv", "dol_good_sectors.csv"):
        shutil.copy(DATA_DIR / name, d / name)
    return d


def _import(source: Path, data_dir: Path):
    args = ["data", "import", "dol-goods", str(source), "--data-dir", str(data_dir)]
    return CliRunner().invoke(main, args)


def test_cli_imports_the_list_of_goods(tmp_path: Path):
    d = _hand_tables(tmp_path)
    result = _import(Path(__file__).parent / "fixtures" / "publishers" / "tvpra_2016_goods.csv", d)
    assert result.exit_code == 0, result.output
    header = (d / "dol_goods.csv").read_text().splitlines()[0]
    assert header == "iso3,edition,good,sector,child_labor,forced_labor"


def test_cli_refuses_a_broken_workbook_with_one_message(tmp_path: Path):
    d = _hand_tables(tmp_path)
    broken = tmp_path / "TVPRA2016_0.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    result = _import(broken, d)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert str(broken) in result.output and "not a readable .xlsx workbook" in result.output
    assert not (d / "dol_goods.csv").exists()
