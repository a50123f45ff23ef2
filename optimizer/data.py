"""Curated data tables: loading, validation and the reference-year country view.

Every table is a tidy UTF-8 CSV in ``data/`` keyed by ISO 3166 alpha-3 codes. Blank cells are
missing values (never zero). Problems are collected per file and raised once as a ``DataError``
whose lines name the row (1-based line number, the header is line 1) or the column.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import DataError, setting
from optimizer.files import read_input
from optimizer.paths import DATA_DIR
from optimizer.tables import TABLES, WGI_DIMENSIONS, TableSchema
from optimizer.vocabulary import SECTORS

MAX_TABLE_BYTES = 20 * 1024 * 1024
MAX_LISTED_PROBLEMS = 40
MAX_EXACT = float(2**53)  # larger whole numbers are not exact in float64 (and overflow Int64 casts)


@dataclass(frozen=True)
class Tables:
    """All curated tables, validated."""

    countries: pd.DataFrame
    names: pd.DataFrame
    tip_tiers: pd.DataFrame
    special_cases: pd.DataFrame
    cspa: pd.DataFrame
    cspa_years: pd.DataFrame
    missions: pd.DataFrame
    wgi: pd.DataFrame
    migration: pd.DataFrame
    slavery: pd.DataFrame
    good_sectors: pd.DataFrame
    dol_goods: pd.DataFrame
    population: pd.DataFrame


def _limit(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_LISTED_PROBLEMS:
        return problems
    extra = len(problems) - MAX_LISTED_PROBLEMS
    return [*problems[:MAX_LISTED_PROBLEMS], f"... and {extra} more problems of the same kinds"]


def read_csv(
    path: Path,
    columns: list[str] | tuple[str, ...],
    max_bytes: int = MAX_TABLE_BYTES,
    numeric: list[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV as text (blank = ""), accepting a BOM and CRLF; check the expected columns.

    With ``numeric`` (a curated table's number columns) a clean file with exactly ``columns`` is
    parsed straight to float64 there; otherwise everything is read as text for validation.

    Raises ``DataError`` for a missing, oversized, empty, undecodable or malformed file and for
    missing columns. Extra columns are kept (callers select what they need).
    """
    where = str(path)
    data = read_input(
        path,
        DataError,
        max_bytes,
        "file not found; check the path (or run `tipfocus data check`)",
        what="table" if max_bytes == MAX_TABLE_BYTES else "file",
    )
    if numeric:  # fast path: let the C parser read numbers; any trouble -> text path below
        try:
            df = pd.read_csv(
                io.BytesIO(data),
                dtype=dict.fromkeys(numeric, "float64"),
                encoding="utf-8-sig",
                keep_default_na=False,
                na_values={c: [""] for c in numeric},
            )
            if list(df.columns) == list(columns):
                return df.astype({c: "str" for c in df.columns if c not in numeric})
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
            pass
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(
            where, "file is empty; expected a header line with columns: " + ", ".join(columns)
        ) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            where, f"file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(
            where,
            f"malformed CSV ({str(exc).strip()}); check quoting and the "
            "number of fields on that line",
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            where,
            f"missing column(s) {', '.join(missing)}; expected columns: " + ", ".join(columns),
        )
    return df


def _num_text(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else repr(float(x))


def _line(idx: pd.Index) -> list[int]:
    return [int(i) + 2 for i in idx]


def validate_frame(
    raw: pd.DataFrame, schema: TableSchema, where: str, known_iso: set[str] | None = None
) -> pd.DataFrame:
    """Check a text table against ``schema``; return it typed (Int64/float64/string).

    ``raw`` holds text cells ("" = missing) with a 0-based RangeIndex matching file rows.
    All problems are collected and raised together as one ``DataError``.
    """
    problems: list[str] = []
    raw = raw.reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for col, kind in schema.columns.items():
        if kind != "str" and pd.api.types.is_float_dtype(raw[col]):
            num = raw[col]  # parsed by read_csv's fast path
            blank = num.isna()
            text = num  # only shown in messages, via _num_text
        else:
            cells = raw[col].to_numpy(dtype=object)
            text = pd.Series(
                [c.strip() if isinstance(c, str) else "" for c in cells],
                index=raw.index,
                dtype=object,
            )
            blank = text == ""
            num = None
        if col in schema.required:
            for ln in _line(raw.index[blank]):
                problems.append(f"line {ln}: column {col} is blank; fill it in")
        if kind == "str":
            vals = text.mask(blank)
            if col in schema.allowed:
                bad = ~blank & ~vals.isin(schema.allowed[col]).fillna(False)
                for i in raw.index[bad]:
                    problems.append(
                        f"line {i + 2}: column {col} value {vals[i]!r} is not one of "
                        f"{', '.join(schema.allowed[col])}"
                    )
            if col == "iso3":
                ok = [len(c) == 3 and c.isascii() and c.isalpha() and c.isupper() for c in text]
                bad = ~blank & ~pd.Series(ok, index=raw.index)
                for i in raw.index[bad]:
                    problems.append(
                        f"line {i + 2}: iso3 {vals[i]!r} is not a 3-letter upper-case "
                        "ISO 3166 alpha-3 code"
                    )
                if schema.iso_checked and known_iso is not None:
                    bad = ~blank & ~vals.isin(known_iso).fillna(False)
                    for i in raw.index[bad]:
                        problems.append(
                            f"line {i + 2}: unknown iso3 code {vals[i]!r} (not in "
                            "countries.csv); fix the code or add the country"
                        )
            out[col] = vals.astype("str")
            continue
        if num is None:
            num = pd.to_numeric(text.mask(blank), errors="coerce").astype("float64")
        bad = ~blank & num.isna()
        for i in raw.index[bad]:
            problems.append(f"line {i + 2}: column {col} value {text[i]!r} is not a number")
        huge = num.notna() & ~(num.abs() <= MAX_EXACT)  # inf, 1e400 (read as inf), 1e23
        for i in raw.index[huge]:
            shown = repr(text[i]) if isinstance(text[i], str) else _num_text(num[i])
            problems.append(
                f"line {i + 2}: column {col} value {shown} is infinite or too large to be a "
                "count, share or year; check the cell (a unit or exponent typo?)"
            )
        num = num.mask(huge)
        if kind == "int":
            frac = num.notna() & (num != np.floor(num))
            for i in raw.index[frac]:
                problems.append(
                    f"line {i + 2}: column {col} value {_num_text(num[i])} is not a whole number"
                )
        if col in schema.ranges:
            lo, hi = schema.ranges[col]
            out_of = num.notna() & ((num < lo) | (num > hi))
            for i in raw.index[out_of]:
                what = "negative" if num[i] < 0 <= lo else "out of range"
                problems.append(
                    f"line {i + 2}: column {col} value {_num_text(num[i])} is {what}; "
                    f"expected "
                    f"{lo:g} to {hi:g}"
                )
        out[col] = num.round().astype("Int64") if kind == "int" and not frac.any() else num
    df = pd.DataFrame(out)
    key = list(schema.key)
    keycols = df[key].apply(lambda s: s.str.casefold()) if schema.casefold_key else df[key]
    dup = keycols.duplicated(keep=False) & keycols.notna().all(axis=1)
    if dup.any():
        first: dict[tuple, int] = {}
        for i, k in zip(
            df.index[dup], keycols[dup].itertuples(index=False, name=None), strict=True
        ):
            if k in first:
                label = ", ".join(f"{c}={v}" for c, v in zip(key, k, strict=True))
                problems.append(
                    f"line {i + 2}: duplicate key ({label}) also on line {first[k]}; keep one row"
                )
            else:
                first[k] = i + 2
    if problems:
        raise DataError(where, _limit(problems))
    return df


MAY_BE_EMPTY = frozenset({"tip_special_cases.csv"})  # a year range may have no Special Case


def load_table(
    schema: TableSchema, data_dir: Path, known_iso: set[str] | None = None
) -> pd.DataFrame:
    """Read and validate one curated table from ``data_dir``."""
    path = Path(data_dir) / schema.filename
    numeric = [c for c, kind in schema.columns.items() if kind != "str"]
    raw = read_csv(path, list(schema.columns), numeric=numeric)
    if raw.empty and schema.filename not in MAY_BE_EMPTY:
        raise DataError(str(path), "has a header but no rows; restore the table or re-import it")
    df = validate_frame(raw, schema, str(path), known_iso)
    df.attrs["path"] = str(path)
    return df


def load_tables(data_dir: Path = DATA_DIR) -> Tables:
    """Read and validate every curated table; ``DataError`` on the first file with problems."""
    data_dir = Path(data_dir)
    countries = load_table(TABLES["countries"], data_dir)
    known = set(countries["iso3"].dropna())
    loaded = {"countries": countries}
    for name, schema in TABLES.items():
        if name != "countries":
            loaded[name] = load_table(schema, data_dir, known)
    tables = Tables(**loaded)
    _check_good_sectors(tables)
    return tables


def _check_good_sectors(tables: Tables) -> None:
    """Every good in dol_goods.csv is spelt and classed as in dol_good_sectors.csv."""
    goods = tables.dol_goods
    sector = goods["good"].map(tables.good_sectors.set_index("good")["sector"])
    problems = [
        f"line {i + 2}: good {goods.at[i, 'good']!r} is not in dol_good_sectors.csv; "
        "add it there (good, sector) and re-import the List of Goods"
        for i in goods.index[sector.isna()]
    ]
    problems += [
        f"line {i + 2}: good {goods.at[i, 'good']!r} has sector {goods.at[i, 'sector']!r} but "
        f"dol_good_sectors.csv gives {sector[i]!r}; re-import the List of Goods or fix one of them"
        for i in goods.index[sector.notna() & (sector != goods["sector"])]
    ]
    if problems:
        raise DataError(goods.attrs.get("path", "dol_goods.csv"), _limit(problems))


def data_years(tables: Tables) -> dict[str, tuple[int, int]]:
    """Year range (min, max) available in each yearly table."""
    years: dict[str, tuple[int, int]] = {}
    for name, schema in TABLES.items():
        df = getattr(tables, name)
        if schema.year_column and df[schema.year_column].notna().any():
            col = df[schema.year_column]
            years[name] = (int(col.min()), int(col.max()))
    return years


def check_data(data_dir: Path = DATA_DIR) -> list[str]:
    """Validate every table; return one summary line per table (rows, countries, years)."""
    tables = load_tables(data_dir)
    years = data_years(tables)
    lines = []
    for name, schema in TABLES.items():
        df = getattr(tables, name)
        parts = [f"{schema.filename}: {len(df)} rows"]
        if "iso3" in df.columns:
            parts.append(f"{df['iso3'].nunique()} countries")
        if name in years:
            lo, hi = years[name]
            parts.append(f"years {lo}-{hi}" if lo != hi else f"year {lo}")
        lines.append(", ".join(parts))
    return lines


def _latest(df: pd.DataFrame, year_col: str, reference_year: int) -> pd.DataFrame:
    """Per country, the row with the latest ``year_col`` <= reference_year, indexed by iso3."""
    sub = df[df[year_col] <= reference_year].sort_values(["iso3", year_col])
    return sub.drop_duplicates("iso3", keep="last").set_index("iso3")


def migration_percentile(stock: pd.Series, share_pct: pd.Series) -> pd.Series:
    """0..100: the larger of a country's percentile rank (among rated countries with data) in
    migrants as people (immigrants + emigrants) and as a share of its population, so that a
    large origin country (millions of emigrants, a small share) counts as a migration country.
    docs/model.md, section 13."""
    ranks = pd.concat([stock, share_pct], axis=1).rank(pct=True, method="average")
    return 100.0 * ranks.max(axis=1, skipna=False)


def goods_view(goods: pd.DataFrame, countries: pd.Index) -> pd.DataFrame:
    """Per country, from the latest edition of the DOL List of Goods: ``sector_<s>`` (a good of
    sector s is listed), ``sectors`` (those sectors, in words), ``forced_labor_goods`` (goods
    listed for forced labour) and ``dol_edition``. A country without a listed good has none."""
    edition = goods["edition"].max()
    latest = goods[goods["edition"] == edition]
    listed: dict[str, set[str]] = {}
    for iso, sector in zip(latest["iso3"], latest["sector"], strict=True):
        listed.setdefault(iso, set()).add(sector)
    out = {f"sector_{s}": [s in listed.get(c, ()) for c in countries] for s in SECTORS}
    out["sectors"] = pd.array([", ".join(sorted(listed.get(c, ()))) for c in countries], "string")
    forced = latest.loc[latest["forced_labor"] == 1, "iso3"].value_counts()
    out["forced_labor_goods"] = forced.reindex(countries, fill_value=0).astype("Int64").to_numpy()
    out["dol_edition"] = pd.array([edition] * len(countries), dtype="Int64")
    return pd.DataFrame(out, index=countries)


def country_view(tables: Tables, reference_year: int) -> pd.DataFrame:
    """One row per TIP-rated country for ``reference_year`` (index iso3, sorted).

    Tier is the ``reference_year`` report; WGI and migration are the latest year <= reference
    year; population is the reference year itself; people in modern slavery applies the GSI
    prevalence to the reference-year population. Missing values stay missing. Sectors and
    forced-labour goods come from the latest edition of the DOL List of Goods, whatever the
    reference year (the 2016 edition stands in for the paper's 2013-2014 vintage).
    """
    tiers = tables.tip_tiers
    lo, hi = int(tiers["report_year"].min()), int(tiers["report_year"].max())
    if not lo <= reference_year <= hi:
        raise DataError(
            tiers.attrs.get("path", "tip_tiers.csv"),
            f"reference year {reference_year} ({setting('data.reference_year')}) is outside the tier data; "
            f"available report years are {lo}-{hi}",
        )
    view = tables.countries.set_index("iso3")[["name", "region"]].sort_index()
    idx = view.index
    t = tiers[tiers["report_year"] == reference_year].set_index("iso3")["tier"]
    view["tier"] = t.reindex(idx).astype("string")
    listed = tables.cspa.loc[tables.cspa["report_year"] == reference_year, "iso3"]
    view["cspa_listed"] = idx.isin(listed)
    cy = tables.cspa_years.set_index("report_year")["status"]
    status = cy.get(reference_year, pd.NA)
    view["cspa_status"] = pd.Series(status, index=idx, dtype="string")
    m = tables.missions.assign(dist=(tables.missions["as_of"] - reference_year).abs())
    m = m.sort_values(["iso3", "dist", "as_of"]).drop_duplicates("iso3").set_index("iso3")
    view["mission_type"] = m["mission_type"].reindex(idx).astype("string")
    view["mission_confidence"] = m["confidence"].reindex(idx).astype("string")
    w = _latest(tables.wgi, "year", reference_year).reindex(idx)
    for d in WGI_DIMENSIONS:
        view[f"{d}_pct"] = w[f"{d}_pct"].astype("float64")
    view["wgi_year"] = w["year"].astype("Int64")
    mg = _latest(tables.migration, "year", reference_year).reindex(idx)
    view["immigrant_share_pct"] = mg["immigrant_share_pct"].astype("float64")
    view["emigrant_share_pct"] = mg["emigrant_share_pct"].astype("float64")
    view["migrant_share_pct"] = view["immigrant_share_pct"] + view["emigrant_share_pct"]
    view["migrant_stock"] = (mg["immigrant_stock"] + mg["emigrant_stock"]).astype("float64")
    view["migration_pct"] = migration_percentile(view["migrant_stock"], view["migrant_share_pct"])
    view["migration_year"] = mg["year"].astype("Int64")
    pop = tables.population
    p = pop[pop["year"] == reference_year].set_index("iso3").reindex(idx)
    view["population"] = p["population"].astype("Int64")
    view["population_year"] = p["year"].astype("Int64")
    s = tables.slavery.sort_values(["iso3", "edition"]).drop_duplicates("iso3", keep="last")
    s = s.set_index("iso3").reindex(idx)
    view["slavery_prevalence_per_1000"] = s["prevalence_per_1000"].astype("float64")
    view["slavery_estimate_year"] = s["estimate_year"].astype("Int64")
    view["people_in_modern_slavery"] = (
        view["slavery_prevalence_per_1000"] / 1000.0 * view["population"].astype("float64")
    )
    view = view.join(goods_view(tables.dol_goods, idx))
    view.index.name = "iso3"
    view["name"] = view["name"].astype("string")
    view["region"] = view["region"].astype("string")
    return view
