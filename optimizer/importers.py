"""Importers: turn each publisher's own file into one tidy curated table in ``data/``.

Each ``parse_*`` function reads the publisher layout (see ``data/SOURCES.md``) and returns the
tidy table. ``run_import`` validates it with the same checks as ``optimizer.data`` and writes
``data_dir/<table>.csv`` atomically and byte-for-byte reproducibly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data import MAX_EXACT, load_table, read_csv, validate_frame
from optimizer.errors import DataError
from optimizer.files import atomic_path
from optimizer.paths import DATA_DIR
from optimizer.tables import TABLES, TableSchema

MAX_SOURCE_BYTES = 200 * 1024 * 1024
MISSING_TOKENS = ("", "NA", "N/A", "#N/A", "..", "~")


@dataclass(frozen=True)
class Importer:
    """One publisher format: ``parse(source, data_dir)`` returns the rows of ``table``."""

    kind: str
    table: str
    parse: Callable[[Path, Path], pd.DataFrame]
    description: str


def _countries(data_dir: Path) -> set[str]:
    return set(load_table(TABLES["countries"], data_dir)["iso3"])


def _numbers(raw: pd.DataFrame, col: str, problems: list[str]) -> pd.Series:
    """Parse a publisher column as numbers; missing tokens become NaN, junk is a problem."""
    text = raw[col].astype("string").str.strip()
    blank = text.isna() | text.isin(MISSING_TOKENS)
    num = pd.to_numeric(text.mask(blank), errors="coerce").astype("float64")
    for i in raw.index[~blank & num.isna()]:
        problems.append(f"line {i + 2}: column {col} value {text[i]!r} is not a number")
    huge = num.notna() & ~(num.abs() <= MAX_EXACT)  # inf, 1e400 (read as inf), 1e23
    for i in raw.index[huge]:
        problems.append(
            f"line {i + 2}: column {col} value {text[i]!r} is infinite or too large; check the "
            "cell (a unit or exponent typo?)"
        )
    return num.mask(huge)


def _raise(where: Path, problems: list[str]) -> None:
    if problems:
        from optimizer.data import _limit

        raise DataError(str(where), _limit(problems))


def _unknown_iso(raw: pd.DataFrame, iso: pd.Series, known: set[str], problems: list[str]) -> None:
    for i in raw.index[~iso.isin(known)]:
        problems.append(
            f"line {i + 2}: unknown iso3 code {iso[i]!r} (not in countries.csv); "
            "add the country to data/countries.csv or fix the code"
        )


TIER_LABELS = {
    "Tier 1": "1",
    "Tier 2": "2",
    "Watchlist": "2WL",
    "Tier 2 Watch List": "2WL",
    "Tier 3": "3",
    "NA": "not_rated",
    "": "not_rated",
}
ISO_FIXES = {"KOS": "XKX"}  # the Heiss panel codes Kosovo as KOS; World Bank and we use XKX


def parse_tip_tiers(source: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """Heiss/Kelley TIP tier panel (countryname, iso, year, ccode, tier) -> tip_tiers.

    Report years before 2001 (no ratings) are dropped; a country-year absent from the panel is
    ``not_rated``. NA is ``not_rated`` unless
    ``tip_special_cases.csv`` lists the country and year, then ``special_case``.
    """
    raw = read_csv(source, ["countryname", "iso", "year", "tier"], MAX_SOURCE_BYTES)
    known = _countries(data_dir)
    special = load_table(TABLES["special_cases"], data_dir, known)
    problems: list[str] = []
    iso = raw["iso"].str.strip().replace(ISO_FIXES)
    year = _numbers(raw, "year", problems)
    label = raw["tier"].str.strip()
    tier = label.map(TIER_LABELS)
    for i in raw.index[tier.isna()]:
        problems.append(
            f"line {i + 2}: tier {label[i]!r} is not one of "
            f"{', '.join(repr(k) for k in TIER_LABELS if k)}"
        )
    keep = year >= 2001
    _unknown_iso(raw[keep], iso[keep], known, problems)
    _raise(source, problems)
    df = pd.DataFrame({"iso3": iso, "report_year": year.astype("Int64"), "tier": tier})[keep]
    # complete the country x year grid: a panel country missing a year was not rated that year
    grid = pd.MultiIndex.from_product(
        [sorted(df["iso3"].unique()), range(2001, int(df["report_year"].max()) + 1)],
        names=["iso3", "report_year"],
    )
    absent = grid.difference(pd.MultiIndex.from_frame(df[["iso3", "report_year"]]))
    fill = pd.DataFrame(index=absent).reset_index().assign(tier="not_rated")
    fill.index = range(-len(fill), 0)  # negative index: not a line of the source file
    df = pd.concat([df, fill.astype({"report_year": "Int64"})])
    sc = special.set_index(["iso3", "report_year"]).index
    is_sc = pd.MultiIndex.from_frame(df[["iso3", "report_year"]]).isin(sc)
    clash = is_sc & (df["tier"] != "not_rated").to_numpy()
    for i in df.index[clash]:
        problems.append(
            f"line {i + 2}: {iso[i]} {int(year[i])} is rated {label[i]!r} but "
            "tip_special_cases.csv calls it a Special Case; fix one of them"
        )
    _raise(source, problems)
    df.loc[is_sc, "tier"] = "special_case"
    return df


def parse_cspa(source: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """CSPA list by report year (report_year, iso3, country, source) -> cspa.

    Marker rows (blank iso3) are dropped. Row status follows the year's status in
    ``cspa_years.csv``: confirmed/partial years keep it, unconfirmed years give ``inferred``.
    """
    raw = read_csv(source, ["report_year", "iso3", "country", "source"], MAX_SOURCE_BYTES)
    known = _countries(data_dir)
    years = load_table(TABLES["cspa_years"], data_dir).set_index("report_year")["status"]
    problems: list[str] = []
    raw = raw[raw["iso3"].str.strip() != ""]
    iso = raw["iso3"].str.strip()
    year = _numbers(raw, "report_year", problems)
    _unknown_iso(raw, iso, known, problems)
    ystat = year.map(years)
    for i in raw.index[ystat.isna() & year.notna()]:
        problems.append(
            f"line {i + 2}: report year {int(year[i])} is not in cspa_years.csv; "
            "add the year and its status there"
        )
    for i in raw.index[ystat.isin(["no_list"])]:
        problems.append(
            f"line {i + 2}: cspa_years.csv says report year {int(year[i])} had no "
            "list; fix one of them"
        )
    _raise(source, problems)
    status = ystat.replace({"unconfirmed": "inferred"})
    return pd.DataFrame(
        {
            "report_year": year.astype("Int64"),
            "iso3": iso,
            "status": status,
            "source": raw["source"].str.strip(),
        }
    )


MISSION_TYPES = {
    "bilateral": "bilateral",
    "covered by regional mission": "regional_mission",
    "covered by regional program": "regional_program",
    "none known": "none_known",
}
CONFIDENCE_TAGS = [
    (r"verified 2012-14", "verified"),
    (r"verified; undated", "verified_undated"),
    (r"other-year", "other_year"),
    (r"unverified", "unverified"),
]
MISSIONS_AS_OF = 2014
MISSION_UPDATES = "usaid_missions_updates.csv"


def parse_usaid_missions(source: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """USAID missions 2014 (iso3, country, mission_type, mission_name, source) -> missions.

    The ``[...]`` tag that opens ``source`` gives the confidence. Rows re-researched later are
    replaced by ``usaid_missions_updates.csv`` in ``data_dir`` (same output columns) if present.
    Rows for real countries the TIP Report does not rate (in country_names.csv only) are dropped.
    """
    raw = read_csv(
        source, ["iso3", "country", "mission_type", "mission_name", "source"], MAX_SOURCE_BYTES
    )
    known = _countries(data_dir)
    problems: list[str] = []
    iso = raw["iso3"].str.strip()
    others = set(load_table(TABLES["names"], data_dir)["iso3"]) - known
    rated = ~iso.isin(others)  # real countries the TIP Report does not rate are dropped
    raw, iso = raw[rated], iso[rated]
    _unknown_iso(raw, iso, known, problems)
    mtype = raw["mission_type"].str.strip().str.lower().map(MISSION_TYPES)
    for i in raw.index[mtype.isna()]:
        problems.append(
            f"line {i + 2}: mission_type {raw['mission_type'][i]!r} is not one of "
            f"{', '.join(MISSION_TYPES)}"
        )
    parts = raw["source"].str.strip().str.extract(r"^\[([^\]]*)\]\s*(.*)$", flags=re.S)
    conf = pd.Series(pd.NA, index=raw.index, dtype="string")
    for pattern, value in reversed(CONFIDENCE_TAGS):
        hit = parts[0].str.contains(pattern, case=False, regex=False).fillna(False)
        conf = conf.mask(hit & conf.isna(), value)
    for i in raw.index[conf.isna()]:
        problems.append(
            f"line {i + 2}: source must start with a confidence tag such as "
            "[verified 2012-14 source] or [UNVERIFIED ...]"
        )
    _raise(source, problems)
    df = pd.DataFrame(
        {
            "iso3": iso,
            "as_of": MISSIONS_AS_OF,
            "mission_type": mtype,
            "mission_name": raw["mission_name"].str.strip(),
            "confidence": conf,
            "source": parts[1].str.strip(),
        }
    )
    upd_path = Path(data_dir) / MISSION_UPDATES
    if upd_path.is_file():
        schema = TableSchema(
            "mission_updates",
            MISSION_UPDATES,
            TABLES["missions"].columns,
            key=("iso3", "as_of"),
            required=("iso3", "as_of", "mission_type", "confidence", "source"),
            allowed=TABLES["missions"].allowed,
        )
        upd = validate_frame(read_csv(upd_path, list(schema.columns)), schema, str(upd_path), known)
        df = pd.concat(
            [
                df[
                    ~df.set_index(["iso3", "as_of"]).index.isin(
                        upd.set_index(["iso3", "as_of"]).index
                    )
                ],
                upd,
            ],
            ignore_index=True,
        )
    return df


WGI_SERIES = {
    "RL.EST": "rule_of_law_est",
    "RL.PER.RNK": "rule_of_law_pct",
    "CC.EST": "control_of_corruption_est",
    "CC.PER.RNK": "control_of_corruption_pct",
    "VA.EST": "voice_accountability_est",
    "VA.PER.RNK": "voice_accountability_pct",
}


def parse_wgi(source: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """World Bank WGI bulk CSV (wide by year, BOM, trailing empty column) -> wgi.

    Keeps RL, CC and VA estimates and percentile ranks for TIP-rated countries; a country-year
    with none of the six values is dropped.
    """
    raw = read_csv(source, ["Country Code", "Indicator Code"], MAX_SOURCE_BYTES)
    known = _countries(data_dir)
    year_cols = [c for c in raw.columns if re.fullmatch(r"\d{4}", c)]
    if not year_cols:
        raise DataError(
            str(source),
            "no year columns (1996, 1998, ...) found; is this the WGI bulk download WGIData.csv?",
        )
    raw = raw[
        raw["Indicator Code"].str.strip().isin(list(WGI_SERIES))
        & raw["Country Code"].str.strip().isin(known)
    ]
    problems: list[str] = []
    values = pd.DataFrame({y: _numbers(raw, y, problems) for y in year_cols}, index=raw.index)
    _raise(source, problems)
    values["iso3"] = raw["Country Code"].str.strip()
    values["series"] = raw["Indicator Code"].str.strip().map(WGI_SERIES)
    dup = values.duplicated(["iso3", "series"], keep="first")
    for i in values.index[dup]:
        problems.append(
            f"line {i + 2}: duplicate series {values['series'][i]} for "
            f"{values['iso3'][i]}; keep one row"
        )
    _raise(source, problems)
    long = values.melt(id_vars=["iso3", "series"], var_name="year", value_name="value")
    wide = long.pivot_table(
        index=["iso3", "year"], columns="series", values="value", aggfunc="first", dropna=True
    ).reset_index()
    wide = wide.reindex(columns=["iso3", "year", *WGI_SERIES.values()])
    wide["year"] = wide["year"].astype(int)
    return wide.dropna(how="all", subset=list(WGI_SERIES.values()))


def parse_migrant_stock(source: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """UN DESA migrant stock 2020 extract (alpha3, year, fb, pop, fb_share, disp, disp_share).

    ``fb_share`` is already a percentage; ``disp_share`` is a fraction and is multiplied by 100.
    """
    cols = ["alpha3", "year", "fb", "pop", "fb_share", "disp", "disp_share"]
    raw = read_csv(source, cols, MAX_SOURCE_BYTES)
    known = _countries(data_dir)
    raw = raw[raw["alpha3"].str.strip().isin(known)]
    problems: list[str] = []
    num = {c: _numbers(raw, c, problems) for c in cols[1:]}
    _raise(source, problems)
    return pd.DataFrame(
        {
            "iso3": raw["alpha3"].str.strip(),
            "year": num["year"],
            "population": num["pop"].round(),
            "immigrant_stock": num["fb"].round(),
            "emigrant_stock": num["disp"].round(),
            "immigrant_share_pct": num["fb_share"],
            "emigrant_share_pct": num["disp_share"] * 100.0,
        }
    )


GSI_PREVALENCE = "Estimated prevalence of modern slavery per 1,000 population"
GSI_NUMBER = "Estimated number of people in modern slavery"


def match_names(names: pd.Series, data_dir: Path, where: Path) -> pd.Series:
    """Map country names to iso3 via ``country_names.csv`` (case-insensitive, trimmed)."""
    table = load_table(TABLES["names"], data_dir)
    lookup = dict(zip(table["name"].str.strip().str.casefold(), table["iso3"], strict=True))
    iso = names.str.strip().str.casefold().map(lookup)
    problems = [
        f"line {i + 2}: country name {names[i]!r} is not known; add it to data/country_names.csv"
        for i in names.index[iso.isna()]
    ]
    _raise(where, problems)
    return iso


def parse_gsi(source: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """Walk Free GSI 2023 country table (names only) -> slavery (edition 2023, estimate 2021).

    A blank prevalence means no estimate: the publisher's 0 in the number column is missing.
    Countries that the TIP Report does not rate (e.g. the United States) are dropped.
    """
    raw = read_csv(source, ["Country", GSI_PREVALENCE, GSI_NUMBER], MAX_SOURCE_BYTES)
    known = _countries(data_dir)
    iso = match_names(raw["Country"], data_dir, source)
    problems: list[str] = []
    prev = _numbers(raw, GSI_PREVALENCE, problems)
    number = _numbers(raw, GSI_NUMBER, problems)
    _raise(source, problems)
    number = number.mask(prev.isna() & (number == 0))
    df = pd.DataFrame(
        {
            "iso3": iso,
            "edition": 2023,
            "estimate_year": 2021,
            "prevalence_per_1000": prev,
            "number": number.round(),
        }
    )
    return df[df["iso3"].isin(known)]


POPULATION_YEARS = (1990, 2024)


def parse_population(source: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """World Bank SP.POP.TOTL long CSV (Country Name, Country Code, Year, Value) -> population.

    Aggregates (WLD, SSF, ...) and non-TIP-rated economies are dropped; years 1990-2024 kept.
    """
    raw = read_csv(source, ["Country Code", "Year", "Value"], MAX_SOURCE_BYTES)
    known = _countries(data_dir)
    raw = raw[raw["Country Code"].str.strip().isin(known)]
    problems: list[str] = []
    year = _numbers(raw, "Year", problems)
    value = _numbers(raw, "Value", problems)
    _raise(source, problems)
    df = pd.DataFrame(
        {"iso3": raw["Country Code"].str.strip(), "year": year, "population": value.round()}
    )
    lo, hi = POPULATION_YEARS
    return df[(df["year"] >= lo) & (df["year"] <= hi) & df["population"].notna()]


DOL_COLUMNS = ["Country", "Good", "Child Labor", "Forced Labor"]
DOL_MARKS = {"x": 1, "": 0}


def _read_sheet(source: Path, columns: list[str]) -> pd.DataFrame:
    """A publisher table as text: the first sheet of an .xlsx workbook, else a CSV file."""
    if source.suffix.lower() != ".xlsx":
        return read_csv(source, columns, MAX_SOURCE_BYTES)
    if not source.is_file():
        raise DataError(str(source), "file not found; check the path")
    if source.stat().st_size > MAX_SOURCE_BYTES:
        raise DataError(str(source), "file is larger than 200 MB; is this the right file?")
    try:
        raw = pd.read_excel(source, sheet_name=0, dtype=str, keep_default_na=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise DataError(
            str(source), f"not a readable .xlsx workbook ({exc}); save it again as .xlsx or CSV"
        ) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise DataError(
            str(source),
            f"first sheet lacks column(s) {', '.join(missing)}; expected: " + ", ".join(columns),
        )
    return raw.fillna("").reset_index(drop=True)


def _edition(source: Path) -> int:
    """The edition year in the file name (DOL names its downloads TVPRA<year>...)."""
    found = re.findall(r"(?<!\d)(20\d\d)(?!\d)", source.name)
    if len(set(found)) != 1:
        raise DataError(
            str(source),
            "cannot tell the edition from the file name; name the file with its edition year "
            "once (e.g. TVPRA2016.xlsx or tvpra_2016_goods.csv)",
        )
    return int(found[0])


def parse_dol_goods(source: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """DOL List of Goods Produced by Child Labor or Forced Labor (Country, Good, Child Labor,
    Forced Labor; "X" marks) -> dol_goods.

    Names are trimmed; countries are matched with ``country_names.csv`` and goods with
    ``dol_good_sectors.csv`` (which gives the sector and the spelling kept). Blank rows are
    dropped, and so are countries the TIP Report does not rate. The edition is the year in the
    file name.
    """
    edition = _edition(source)
    raw = _read_sheet(source, DOL_COLUMNS)
    raw = raw[(raw["Country"].str.strip() != "") | (raw["Good"].str.strip() != "")]
    known = _countries(data_dir)
    iso = match_names(raw["Country"], data_dir, source)
    sectors = load_table(TABLES["good_sectors"], data_dir)
    spelling = dict(zip(sectors["good"].str.casefold(), sectors["good"], strict=True))
    good = raw["Good"].str.strip().str.casefold().map(spelling)
    problems = [
        f"line {i + 2}: good {raw['Good'][i].strip()!r} is not in dol_good_sectors.csv; "
        "add it there with its sector"
        for i in raw.index[good.isna()]
    ]
    marks = {}
    for col in ("Child Labor", "Forced Labor"):
        marks[col] = raw[col].str.strip().str.casefold().map(DOL_MARKS)
        for i in raw.index[marks[col].isna()]:
            problems.append(f"line {i + 2}: column {col} value {raw[col][i]!r} is not X or blank")
    for i in raw.index[(marks["Child Labor"] == 0) & (marks["Forced Labor"] == 0)]:
        problems.append(f"line {i + 2}: neither Child Labor nor Forced Labor is marked X")
    _raise(source, problems)
    df = pd.DataFrame(
        {
            "iso3": iso,
            "edition": edition,
            "good": good,
            "sector": good.map(sectors.set_index("good")["sector"]),
            "child_labor": marks["Child Labor"],
            "forced_labor": marks["Forced Labor"],
        }
    )
    return df[df["iso3"].isin(known)]


IMPORTERS: dict[str, Importer] = {
    imp.kind: imp
    for imp in [
        Importer("tip-tiers", "tip_tiers", parse_tip_tiers, "Heiss/Kelley TIP tier panel"),
        Importer("cspa", "cspa", parse_cspa, "Child Soldiers Prevention Act list by year"),
        Importer("usaid-missions", "missions", parse_usaid_missions, "USAID missions 2014"),
        Importer("wgi", "wgi", parse_wgi, "World Bank WGI bulk CSV (WGIData.csv)"),
        Importer(
            "migrant-stock",
            "migration",
            parse_migrant_stock,
            "UN DESA International Migrant Stock 2020 (stock_totals_2020.csv)",
        ),
        Importer("gsi", "slavery", parse_gsi, "Walk Free Global Slavery Index 2023"),
        Importer("population", "population", parse_population, "World Bank SP.POP.TOTL"),
        Importer(
            "dol-goods",
            "dol_goods",
            parse_dol_goods,
            "US DOL List of Goods Produced by Child Labor or Forced Labor (.xlsx or .csv)",
        ),
    ]
}


def _format_float(values: pd.Series, decimals: int) -> pd.Series:
    return values.map(
        lambda v: (
            ""
            if pd.isna(v)
            else np.format_float_positional(float(v), precision=decimals, unique=True, trim="-")
        )
    )


def format_table(df: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Render a table as text in the schema's column order, sorted by key (for writing)."""
    out = {}
    for col, kind in schema.columns.items():
        s = df[col]
        if kind == "str":
            out[col] = s.astype("string").fillna("")
        elif kind == "int":
            num = pd.to_numeric(s, errors="coerce").round()
            out[col] = num.astype("Int64").astype("string").fillna("")
        else:
            out[col] = _format_float(pd.to_numeric(s, errors="coerce"), schema.decimals.get(col, 6))
    text = pd.DataFrame(out)
    order = df[list(schema.key)].reset_index(drop=True)
    text = text.reset_index(drop=True).loc[order.sort_values(list(schema.key)).index]
    return text.reset_index(drop=True)


def write_table(text: pd.DataFrame, path: Path) -> None:
    """Write a text table atomically (``optimizer.files.atomic_path``)."""
    with atomic_path(path, what="table") as tmp:
        text.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")


def run_import(kind: str, source: Path, data_dir: Path = DATA_DIR) -> Path:
    """Import ``source`` as ``kind``, validate, write ``data_dir/<table>.csv``; return its path."""
    if kind not in IMPORTERS:
        raise DataError(
            str(source), f"unknown import kind {kind!r}; use one of " + ", ".join(IMPORTERS)
        )
    importer = IMPORTERS[kind]
    source, data_dir = Path(source), Path(data_dir)
    schema = TABLES[importer.table]
    df = importer.parse(source, data_dir)
    text = format_table(df, schema)
    validate_frame(text, schema, f"{source} (imported as {schema.filename})", _countries(data_dir))
    target = data_dir / schema.filename
    write_table(text, target)
    return target
