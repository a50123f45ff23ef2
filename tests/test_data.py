"""Bundled tables load and validate; known facts; every bad-data case gives a clear DataError."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from optimizer.data import (
    DATA_DIR,
    Tables,
    check_data,
    country_view,
    data_years,
    load_tables,
)
from optimizer.errors import DataError
from optimizer.tables import TABLES
from optimizer.vocabulary import SECTORS

VIEW_COLUMNS = [
    "name",
    "region",
    "tier",
    "cspa_listed",
    "cspa_status",
    "mission_type",
    "mission_confidence",
    "rule_of_law_pct",
    "control_of_corruption_pct",
    "voice_accountability_pct",
    "wgi_year",
    "immigrant_share_pct",
    "emigrant_share_pct",
    "migrant_share_pct",
    "migrant_stock",
    "migration_pct",
    "migration_year",
    "population",
    "population_year",
    "slavery_prevalence_per_1000",
    "slavery_estimate_year",
    "people_in_modern_slavery",
    *(f"sector_{s}" for s in SECTORS),
    "sectors",
    "forced_labor_goods",
    "dol_edition",
]


@pytest.fixture(scope="module")
def tables() -> Tables:
    return load_tables()


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(DATA_DIR, d)
    return d


def test_bundled_tables_validate(tables: Tables) -> None:
    lines = check_data()
    assert len(lines) == len(TABLES)
    assert any(
        line.startswith("tip_tiers.csv: 2895 rows, 193 countries, years 2001-2015")
        for line in lines
    )
    assert len(tables.countries) == 193
    assert set(tables.countries["region"]) == {"AF", "EAP", "EUR", "NEA", "SCA", "WHA"}
    assert data_years(tables)["tip_tiers"] == (2001, 2015)
    assert data_years(tables)["population"] == (1990, 2024)
    for d in ("rule_of_law", "control_of_corruption", "voice_accountability"):
        pct = tables.wgi[f"{d}_pct"].dropna()
        assert pct.between(0, 100).all()


def test_every_country_has_every_report_year(tables: Tables) -> None:
    counts = tables.tip_tiers.groupby("iso3").size()
    assert (counts == 15).all() and len(counts) == 193


def test_cspa_years_cover_2001_2025(tables: Tables) -> None:
    years = tables.cspa_years.set_index("report_year")["status"]
    assert list(years.index) == list(range(2001, 2026))
    assert years[2009] == "no_list" and years[2011] == "unconfirmed"
    assert years[2012] == "partial" and years[2013] == "confirmed"


def test_country_view_2013_known_facts(tables: Tables) -> None:
    v = country_view(tables, 2013)
    assert list(v.columns) == VIEW_COLUMNS
    assert v.index.name == "iso3" and v.index.is_monotonic_increasing and len(v) == 193
    assert v.loc["THA", "tier"] == "2WL"
    assert v.loc["PRK", "tier"] == "3"
    assert bool(v.loc["COD", "cspa_listed"]) and v.loc["COD", "cspa_status"] == "confirmed"
    assert not bool(v.loc["THA", "cspa_listed"])
    assert v.loc["PHL", "mission_type"] == "bilateral"
    assert v.loc["THA", "mission_type"] == "regional_mission"
    assert v.loc["THA", "wgi_year"] == 2013 and v.loc["THA", "migration_year"] == 2010
    assert v.loc["THA", "population_year"] == 2013
    tha = v.loc["THA"]
    assert tha["migrant_share_pct"] == pytest.approx(
        tha["immigrant_share_pct"] + tha["emigrant_share_pct"]
    )
    assert tha["people_in_modern_slavery"] == pytest.approx(
        tha["slavery_prevalence_per_1000"] / 1000 * tha["population"]
    )
    assert pd.isna(v.loc["ISL", "slavery_prevalence_per_1000"])  # GSI has no estimate
    assert pd.isna(v.loc["TWN", "population"])  # World Bank has no Taiwan row
    assert pd.isna(v.loc["MNE", "mission_type"])  # not researched = unknown
    pct = v[["rule_of_law_pct", "control_of_corruption_pct", "voice_accountability_pct"]]
    values = pct.to_numpy().ravel()
    values = values[~pd.isna(values)]
    assert ((values >= 0) & (values <= 100)).all()


def test_country_view_2015_and_early_years(tables: Tables) -> None:
    assert country_view(tables, 2015).loc["SOM", "tier"] == "special_case"
    v = country_view(tables, 2005)
    assert not v["cspa_listed"].any() and (v["cspa_status"] == "no_list").all()
    assert v.loc["THA", "wgi_year"] == 2005 and v.loc["THA", "migration_year"] == 2005


def test_country_view_year_outside_tiers(tables: Tables) -> None:
    with pytest.raises(DataError, match="available report years are 2001-2015") as exc:
        country_view(tables, 2020)
    assert "tip_tiers.csv" in str(exc.value)


# ---- bad data ------------------------------------------------------------------------------


def _expect(data_dir: Path, *fragments: str) -> str:
    with pytest.raises(DataError) as exc:
        load_tables(data_dir)
    msg = str(exc.value)
    for frag in fragments:
        assert frag in msg, msg
    return msg


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_file_missing(data_copy: Path) -> None:
    (data_copy / "wgi.csv").unlink()
    _expect(data_copy, str(data_copy / "wgi.csv"), "file not found")


def test_empty_file(data_copy: Path) -> None:
    (data_copy / "slavery.csv").write_text("", encoding="utf-8")
    _expect(
        data_copy, str(data_copy / "slavery.csv"), "file is empty", "iso3, edition, estimate_year"
    )


def test_missing_column(data_copy: Path) -> None:
    _edit(data_copy / "population.csv", "iso3,year,population", "iso3,yr,population")
    _expect(
        data_copy,
        "population.csv",
        "missing column(s) year",
        "expected columns: iso3, year, population",
    )


def test_malformed_csv(data_copy: Path) -> None:
    _edit(data_copy / "countries.csv", "AFG,Afghanistan,SCA", "AFG,Afghanistan,SCA,x,y")
    _expect(data_copy, "countries.csv", "malformed CSV", "line 3")


def test_bom_and_crlf_accepted(data_copy: Path) -> None:
    path = data_copy / "tip_tiers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    t = load_tables(data_copy)
    assert list(t.tip_tiers.columns) == ["iso3", "report_year", "tier"]
    assert country_view(t, 2013).loc["THA", "tier"] == "2WL"


def test_duplicate_key(data_copy: Path) -> None:
    path = data_copy / "tip_tiers.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join([*lines, lines[1]]), encoding="utf-8")
    _expect(data_copy, "tip_tiers.csv", f"line {len(lines) + 1}: duplicate key", "also on line 2")


def test_unknown_iso3(data_copy: Path) -> None:
    _edit(data_copy / "wgi.csv", "\nAFG,", "\nZZZ,")
    _expect(data_copy, "wgi.csv", "unknown iso3 code 'ZZZ'", "countries.csv")


def test_percentile_out_of_range(data_copy: Path) -> None:
    path = data_copy / "wgi.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1].rstrip("\n").split(",")
    cells[3] = "140"
    lines[1] = ",".join(cells) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    _expect(data_copy, "wgi.csv", "line 2: column rule_of_law_pct value 140 is out of range")


def test_negative_count(data_copy: Path) -> None:
    _edit(data_copy / "population.csv", "ABW,1990,62753", "ABW,1990,-62753")
    _expect(data_copy, "population.csv", "line 2: column population value -62753 is negative")


def test_non_numeric(data_copy: Path) -> None:
    _edit(data_copy / "population.csv", "ABW,1990,62753", "ABW,1990,many")
    _expect(data_copy, "population.csv", "line 2: column population value 'many' is not a number")


def test_tier_outside_vocabulary(data_copy: Path) -> None:
    _edit(data_copy / "tip_tiers.csv", "ABW,2015,2", "ABW,2015,Tier 2")
    _expect(data_copy, "tip_tiers.csv", "column tier value 'Tier 2' is not one of")


def test_file_too_large(data_copy: Path) -> None:
    path = data_copy / "migration.csv"
    os.truncate(path, 21 * 1024 * 1024)
    _expect(data_copy, "migration.csv", "larger than 20 MB", "is this the right file?")


def test_problems_are_collected(data_copy: Path) -> None:
    _edit(data_copy / "population.csv", "ABW,1990,62753", "ABW,1990,-1")
    _edit(data_copy / "population.csv", "ABW,1991,", "ABW,199x,")
    msg = _expect(data_copy, "population.csv", "2 problems", "line 2", "line 3")
    assert msg.count("\n  - ") == 2
