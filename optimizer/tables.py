"""The curated tables' layouts: columns and kinds, keys, required cells, vocabularies, ranges.

One ``TableSchema`` per CSV in ``data/``; ``optimizer.data`` reads and validates against them and
``optimizer.importers`` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.vocabulary import MISSION_TYPES, REGIONS, SECTORS, TIERS


@dataclass(frozen=True)
class TableSchema:
    """Layout of one curated table.

    ``columns`` maps column name to kind: ``str``, ``int`` (whole number) or ``float``.
    ``decimals`` fixes how many decimals a float column is written with.
    """

    name: str
    filename: str
    columns: dict[str, str]
    key: tuple[str, ...]
    required: tuple[str, ...] = ()
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    decimals: dict[str, int] = field(default_factory=dict)
    iso_checked: bool = True  # iso3 must be a TIP-rated country (in countries.csv)
    casefold_key: bool = False  # keys differing only in letter case are duplicates
    year_column: str | None = None


WGI_DIMENSIONS = ("rule_of_law", "control_of_corruption", "voice_accountability")
_YEAR = (1900.0, 2100.0)
# People in one country: the largest population is about 1.44 billion (UN WPP 2024); 2 billion
# leaves room and still refuses a unit or exponent typo.
_PEOPLE = (0.0, 2e9)

TABLES: dict[str, TableSchema] = {
    s.name: s
    for s in [
        TableSchema(
            "countries",
            "countries.csv",
            {"iso3": "str", "name": "str", "region": "str"},
            key=("iso3",),
            required=("iso3", "name", "region"),
            allowed={"region": REGIONS},
            iso_checked=False,
        ),
        TableSchema(
            "names",
            "country_names.csv",
            {"name": "str", "iso3": "str"},
            key=("name",),
            required=("name", "iso3"),
            iso_checked=False,
            casefold_key=True,
        ),
        TableSchema(
            "tip_tiers",
            "tip_tiers.csv",
            {"iso3": "str", "report_year": "int", "tier": "str"},
            key=("iso3", "report_year"),
            required=("iso3", "report_year", "tier"),
            allowed={"tier": TIERS},
            ranges={"report_year": (2001, 2100)},
            year_column="report_year",
        ),
        TableSchema(
            "special_cases",
            "tip_special_cases.csv",
            {"iso3": "str", "report_year": "int", "source": "str"},
            key=("iso3", "report_year"),
            required=("iso3", "report_year", "source"),
            ranges={"report_year": (2001, 2100)},
            year_column="report_year",
        ),
        TableSchema(
            "cspa",
            "cspa.csv",
            {"report_year": "int", "iso3": "str", "status": "str", "source": "str"},
            key=("report_year", "iso3"),
            required=("report_year", "iso3", "status", "source"),
            allowed={"status": ("confirmed", "partial", "inferred")},
            ranges={"report_year": (2010, 2100)},
            year_column="report_year",
        ),
        TableSchema(
            "cspa_years",
            "cspa_years.csv",
            {"report_year": "int", "status": "str", "note": "str"},
            key=("report_year",),
            required=("report_year", "status"),
            allowed={"status": ("no_list", "confirmed", "partial", "unconfirmed")},
            ranges={"report_year": (2001, 2100)},
            iso_checked=False,
            year_column="report_year",
        ),
        TableSchema(
            "missions",
            "usaid_missions.csv",
            {
                "iso3": "str",
                "as_of": "int",
                "mission_type": "str",
                "mission_name": "str",
                "confidence": "str",
                "source": "str",
            },
            key=("iso3", "as_of"),
            required=("iso3", "as_of", "mission_type", "confidence"),
            allowed={
                "mission_type": MISSION_TYPES,
                "confidence": ("verified", "verified_undated", "other_year", "unverified"),
            },
            ranges={"as_of": _YEAR},
            year_column="as_of",
        ),
        TableSchema(
            "wgi",
            "wgi.csv",
            {"iso3": "str", "year": "int"}
            | {f"{d}_{s}": "float" for d in WGI_DIMENSIONS for s in ("est", "pct")},
            key=("iso3", "year"),
            required=("iso3", "year"),
            ranges={"year": _YEAR}
            | {f"{d}_pct": (0.0, 100.0) for d in WGI_DIMENSIONS}
            | {f"{d}_est": (-5.0, 5.0) for d in WGI_DIMENSIONS},
            decimals={f"{d}_{s}": 4 for d in WGI_DIMENSIONS for s in ("est", "pct")},
            year_column="year",
        ),
        TableSchema(
            "migration",
            "migration.csv",
            {
                "iso3": "str",
                "year": "int",
                "population": "int",
                "immigrant_stock": "int",
                "emigrant_stock": "int",
                "immigrant_share_pct": "float",
                "emigrant_share_pct": "float",
            },
            key=("iso3", "year"),
            required=("iso3", "year"),
            ranges={
                "year": _YEAR,
                "population": _PEOPLE,
                "immigrant_stock": _PEOPLE,
                "emigrant_stock": _PEOPLE,
                "immigrant_share_pct": (0.0, 100.0),
                "emigrant_share_pct": (0.0, 1000.0),
            },
            decimals={"immigrant_share_pct": 4, "emigrant_share_pct": 4},
            year_column="year",
        ),
        TableSchema(
            "slavery",
            "slavery.csv",
            {
                "iso3": "str",
                "edition": "int",
                "estimate_year": "int",
                "prevalence_per_1000": "float",
                "number": "int",
            },
            key=("iso3", "edition"),
            required=("iso3", "edition", "estimate_year"),
            ranges={
                "edition": _YEAR,
                "estimate_year": _YEAR,
                "prevalence_per_1000": (0.0, 1000.0),
                "number": _PEOPLE,
            },
            decimals={"prevalence_per_1000": 3},
            year_column="estimate_year",
        ),
        TableSchema(
            "good_sectors",
            "dol_good_sectors.csv",
            {"good": "str", "sector": "str"},
            key=("good",),
            required=("good", "sector"),
            allowed={"sector": SECTORS},
            iso_checked=False,
            casefold_key=True,
        ),
        TableSchema(
            "dol_goods",
            "dol_goods.csv",
            {
                "iso3": "str",
                "edition": "int",
                "good": "str",
                "sector": "str",
                "child_labor": "int",
                "forced_labor": "int",
            },
            key=("iso3", "edition", "good"),
            required=("iso3", "edition", "good", "sector", "child_labor", "forced_labor"),
            allowed={"sector": SECTORS},
            ranges={"edition": (2009.0, 2100.0), "child_labor": (0, 1), "forced_labor": (0, 1)},
            year_column="edition",
        ),
        TableSchema(
            "population",
            "population.csv",
            {"iso3": "str", "year": "int", "population": "int"},
            key=("iso3", "year"),
            required=("iso3", "year", "population"),
            ranges={"year": _YEAR, "population": _PEOPLE},
            year_column="year",
        ),
    ]
}
