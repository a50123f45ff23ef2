"""Importers run on small fixtures written in the publishers' own layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from optimizer.data import DATA_DIR, load_table
from optimizer.errors import DataError
from optimizer.importers import IMPORTERS, run_import
from optimizer.tables import TABLES

PUB = Path(__file__).parent / "fixtures" / "publishers"
HAND_TABLES = [
    "countries.csv",
    "country_names.csv",
    "tip_special_cases.csv",
    "cspa_years.csv",
    "dol_good_sectors.csv",
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder holding only the curated hand tables the importers read."""
    d = tmp_path / "data"
    d.mkdir()
    for name in HAND_TABLES:
        shutil.copy(DATA_DIR / name, d / name)
    return d


def _parse(kind: str, filename: str, data_dir: Path) -> pd.DataFrame:
    return IMPORTERS[kind].parse(PUB / filename, data_dir).reset_index(drop=True)


def _row(df: pd.DataFrame, **key: object) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for col, val in key.items():
        mask &= df[col] == val
    assert mask.sum() == 1, key
    return df[mask].iloc[0]


def test_registry_kinds() -> None:
    assert set(IMPORTERS) == {
        "tip-tiers",
        "cspa",
        "usaid-missions",
        "wgi",
        "migrant-stock",
        "gsi",
        "population",
        "dol-goods",
    }


def test_tip_tiers(data_dir: Path) -> None:
    df = _parse("tip-tiers", "tip_tiers_orig.csv", data_dir)
    assert df["report_year"].min() == 2001  # 2000 dropped
    assert len(df) == 6 * 15  # THA SOM HTI NOR XKX WSM x 2001-2015, gaps filled as not_rated
    assert _row(df, iso3="THA", report_year=2013)["tier"] == "2WL"
    assert _row(df, iso3="THA", report_year=2014)["tier"] == "3"
    assert _row(df, iso3="NOR", report_year=2013)["tier"] == "1"
    assert _row(df, iso3="XKX", report_year=2015)["tier"] == "2"  # KOS -> XKX
    # NA is special_case only where tip_special_cases.csv says so
    assert _row(df, iso3="SOM", report_year=2015)["tier"] == "special_case"
    assert _row(df, iso3="HTI", report_year=2010)["tier"] == "special_case"
    assert _row(df, iso3="WSM", report_year=2015)["tier"] == "not_rated"
    assert _row(df, iso3="THA", report_year=2005)["tier"] == "not_rated"  # absent from panel


def test_cspa_markers_dropped_and_status(data_dir: Path) -> None:
    df = _parse("cspa", "cspa_list.csv", data_dir)
    assert len(df) == 4 and df["iso3"].notna().all()
    assert _row(df, iso3="MMR", report_year=2011)["status"] == "inferred"
    assert _row(df, iso3="LBY", report_year=2012)["status"] == "partial"
    assert _row(df, iso3="COD", report_year=2013)["status"] == "confirmed"
    assert (
        _row(df, iso3="COD", report_year=2013)["source"] == "https://example.org/world-vision-2013"
    )


def test_usaid_missions(data_dir: Path) -> None:
    df = _parse("usaid-missions", "usaid_missions_2014.csv", data_dir)
    assert list(df["iso3"]) == ["PHL", "THA", "CAF", "CUB"]  # PSE is not TIP-rated: dropped
    assert (df["as_of"] == 2014).all()
    phl = _row(df, iso3="PHL")
    assert (phl["mission_type"], phl["confidence"]) == ("bilateral", "verified")
    assert phl["source"] == "https://www.usaid.gov/philippines/our-work (c. mid-2014)"
    tha = _row(df, iso3="THA")
    assert (tha["mission_type"], tha["confidence"]) == ("regional_mission", "verified_undated")
    caf = _row(df, iso3="CAF")
    assert (caf["mission_type"], caf["confidence"]) == ("regional_program", "other_year")
    cub = _row(df, iso3="CUB")
    assert (cub["mission_type"], cub["confidence"]) == ("none_known", "unverified")


def test_wgi_bom_crlf_wide(data_dir: Path) -> None:
    raw = (PUB / "WGIData.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    df = _parse("wgi", "WGIData.csv", data_dir)
    assert set(df["iso3"]) == {"THA", "SOM"}  # USA is not TIP-rated
    assert list(df.columns) == [
        "iso3",
        "year",
        "rule_of_law_est",
        "rule_of_law_pct",
        "control_of_corruption_est",
        "control_of_corruption_pct",
        "voice_accountability_est",
        "voice_accountability_pct",
    ]
    r = _row(df, iso3="THA", year=2013)
    assert r["rule_of_law_pct"] == pytest.approx(52.11268)
    assert r["control_of_corruption_est"] == pytest.approx(-0.4)
    assert r["voice_accountability_pct"] == pytest.approx(34.2723)
    assert pd.isna(_row(df, iso3="THA", year=1998)["rule_of_law_est"])  # blank stays missing
    assert len(df[df["iso3"] == "SOM"]) == 1  # years with no value at all are dropped
    assert _row(df, iso3="SOM", year=2013)["rule_of_law_pct"] == 0


def test_migrant_stock_shares_in_percent(data_dir: Path) -> None:
    df = _parse("migrant-stock", "stock_totals_2020.csv", data_dir)
    assert set(df["iso3"]) == {"THA", "SSD"}
    r = _row(df, iso3="THA", year=2010)
    assert r["population"] == 67195032 and r["immigrant_stock"] == 3224131
    assert r["emigrant_stock"] == 769227
    assert r["immigrant_share_pct"] == pytest.approx(4.79817)
    assert r["emigrant_share_pct"] == pytest.approx(1.144767)  # fraction * 100
    ssd = _row(df, iso3="SSD", year=2005)
    assert pd.isna(ssd["immigrant_stock"]) and pd.isna(ssd["immigrant_share_pct"])


def test_gsi_zero_with_blank_is_missing(data_dir: Path) -> None:
    df = _parse("gsi", "clean_data_modern_slavery.csv", data_dir)
    assert set(df["iso3"]) == {"THA", "TUR", "ISL", "LAO"}  # USA not TIP-rated
    isl = _row(df, iso3="ISL")
    assert pd.isna(isl["prevalence_per_1000"]) and pd.isna(isl["number"])
    tur = _row(df, iso3="TUR")
    assert (tur["edition"], tur["estimate_year"]) == (2023, 2021)
    assert tur["prevalence_per_1000"] == 15.6 and tur["number"] == 1320000


def test_population_aggregates_dropped(data_dir: Path) -> None:
    df = _parse("population", "population.csv", data_dir)
    assert sorted(zip(df["iso3"], df["year"], strict=True)) == [
        ("THA", 1990),
        ("THA", 2013),
        ("XKX", 2013),
    ]
    assert _row(df, iso3="THA", year=2013)["population"] == 69845114


@pytest.mark.parametrize(
    ("kind", "filename"),
    [
        ("tip-tiers", "tip_tiers_orig.csv"),
        ("cspa", "cspa_list.csv"),
        ("usaid-missions", "usaid_missions_2014.csv"),
        ("wgi", "WGIData.csv"),
        ("migrant-stock", "stock_totals_2020.csv"),
        ("gsi", "clean_data_modern_slavery.csv"),
        ("population", "population.csv"),
        ("dol-goods", "tvpra_2016_goods.csv"),
    ],
)
def test_run_import_writes_valid_reproducible_table(
    kind: str, filename: str, data_dir: Path
) -> None:
    target = run_import(kind, PUB / filename, data_dir)
    first = target.read_bytes()
    assert b"\r" not in first and first.endswith(b"\n")
    assert run_import(kind, PUB / filename, data_dir).read_bytes() == first
    assert not list(data_dir.glob(".*.tmp-*"))  # no temporary left (files.atomic_path)
    schema = TABLES[IMPORTERS[kind].table]
    assert first.decode().splitlines()[0] == ",".join(schema.columns)
    load_table(schema, data_dir, set(load_table(TABLES["countries"], data_dir)["iso3"]))


def test_run_import_unknown_kind(data_dir: Path) -> None:
    with pytest.raises(DataError, match="unknown import kind 'nope'"):
        run_import("nope", PUB / "population.csv", data_dir)


def test_gsi_unmatched_name(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "gsi.csv"
    text = (PUB / "clean_data_modern_slavery.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace("Lao PDR", "Atlantis"), encoding="utf-8")
    with pytest.raises(DataError) as exc:
        run_import("gsi", bad, data_dir)
    msg = str(exc.value)
    assert str(bad) in msg and "line 5" in msg and "'Atlantis'" in msg
    assert "add it to data/country_names.csv" in msg
    assert not (data_dir / "slavery.csv").exists()


def test_tier_label_outside_vocabulary(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "tiers.csv"
    text = (PUB / "tip_tiers_orig.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace('"Tier 3"', '"Tier 4"', 1), encoding="utf-8")
    with pytest.raises(DataError, match=r"line 4: tier 'Tier 4' is not one of"):
        run_import("tip-tiers", bad, data_dir)


def test_unknown_iso_in_publisher_file(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cspa.csv"
    text = (PUB / "cspa_list.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace("2012,LBY", "2012,LBX"), encoding="utf-8")
    with pytest.raises(DataError, match=r"line 4: unknown iso3 code 'LBX'"):
        run_import("cspa", bad, data_dir)


def test_non_numeric_in_publisher_file(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "pop.csv"
    text = (PUB / "population.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace("69845114", "lots"), encoding="utf-8")
    with pytest.raises(DataError, match=r"line 5: column Value value 'lots' is not a number"):
        run_import("population", bad, data_dir)


def test_missing_publisher_column(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "pop.csv"
    bad.write_text("Country Name,Code,Year,Value\nThailand,THA,2013,1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"missing column\(s\) Country Code; expected columns"):
        run_import("population", bad, data_dir)


def test_dol_goods_names_marks_and_sectors(data_dir: Path) -> None:
    df = _parse("dol-goods", "tvpra_2016_goods.csv", data_dir)
    assert len(df) == 7 and (df["edition"] == 2016).all()  # the blank row is dropped
    assert set(df["iso3"]) == {"MMR", "CIV", "IND", "KGZ", "MYS"}  # Burma, "India " ...
    sugar = _row(df, iso3="IND", good="Sugarcane")
    assert (sugar["sector"], sugar["child_labor"], sugar["forced_labor"]) == ("sugar", 1, 0)
    assert _row(df, iso3="IND", good="Garments")["sector"] == "garments"  # "Garments " trimmed
    assert _row(df, iso3="MMR", good="Shrimp")["sector"] == "seafood"
    beans = _row(df, iso3="MMR", good="Beans (green, soy, yellow)")  # quoted comma
    assert beans["sector"] == "agriculture" and beans["forced_labor"] == 1
    assert _row(df, iso3="MYS", good="Oil (palm)")["child_labor"] == 0  # the sector table's case
    assert _row(df, iso3="KGZ", good="Cotton")["sector"] == "agriculture"


def test_dol_goods_xlsx_gives_the_same_table(data_dir: Path, tmp_path: Path) -> None:
    sheet = pd.read_csv(PUB / "tvpra_2016_goods.csv", dtype=str, keep_default_na=False)
    workbook = tmp_path / "TVPRA2016_0.xlsx"
    sheet.to_excel(workbook, index=False)
    from_csv = run_import("dol-goods", PUB / "tvpra_2016_goods.csv", data_dir).read_bytes()
    assert run_import("dol-goods", workbook, data_dir).read_bytes() == from_csv


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "Kyrgyz Republic,Cotton",
            "Kyrgyz Republic,Moon Rocks",
            "line 7: good 'Moon Rocks' is not",
        ),
        ("Shrimp,,X", "Shrimp,yes,X", "line 3: column Child Labor value 'yes' is not X or blank"),
        ("Shrimp,,X", "Shrimp,,", "line 3: neither Child Labor nor Forced Labor is marked X"),
        ("Kyrgyz Republic", "Kyrgyzia", "line 7: country name 'Kyrgyzia' is not known"),
    ],
)
def test_dol_goods_bad_rows(
    data_dir: Path, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    bad = tmp_path / "tvpra_2016_goods.csv"
    text = (PUB / "tvpra_2016_goods.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(DataError) as exc:
        run_import("dol-goods", bad, data_dir)
    assert expected in str(exc.value) and str(bad) in str(exc.value)
    assert not (data_dir / "dol_goods.csv").exists()


def test_dol_goods_edition_from_file_name(data_dir: Path, tmp_path: Path) -> None:
    unnamed = tmp_path / "goods.csv"
    unnamed.write_bytes((PUB / "tvpra_2016_goods.csv").read_bytes())
    with pytest.raises(DataError, match="name the file with its edition year"):
        run_import("dol-goods", unnamed, data_dir)
    later = tmp_path / "TVPRA2018.csv"
    later.write_bytes(unnamed.read_bytes())
    assert set(IMPORTERS["dol-goods"].parse(later, data_dir)["edition"]) == {2018}
