"""The scenario schema: TOML (layered by ``optimizer.layering``) -> validated, frozen ``Scenario``.

Precedence (highest first), written once here and in docs/scenario.md:
``--set`` overrides > the scenario file > the file it ``extends`` (recursively) > schema defaults.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import tomli_w
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from optimizer.errors import ScenarioError, setting
from optimizer.layering import apply_overrides, inherited_from, layered, parse_override
from optimizer.paths import DEFAULT_SCENARIO, PROJECT_DIR, SCENARIO_DIR  # noqa: F401 (re-exported)
from optimizer.vocabulary import Channel, EarmarkTag, MissionType, Pillar, Region, Tag, Tier

_MONEY = re.compile(r"^\s*\$?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([kKmMbB]?)\s*$")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")  # 12,000,000 or 1,250.5
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9}
# A typo guard, not a policy limit: US foreign aid in all is about $60B a year (2023), and amounts
# past ~1e15 exceed the solver's tolerances (a 1e30 compact cap came back as a solver error).
MAX_USD = 1e12


def parse_money(value: Any) -> float:
    """US dollars from a plain number or a readable string: ``250M``, ``1.5B``, ``$40k``, ``12,000,000``."""
    if isinstance(value, bool):
        raise ValueError("expected an amount in US dollars, got true/false")
    if isinstance(value, int | float):
        amount = float(value)
    elif isinstance(value, str):
        match = _MONEY.match(value)
        if not match:
            raise ValueError(
                f"{value!r} is not an amount; write a number of US dollars or e.g. '250M', '1.5B', '40k'"
            )
        digits, suffix = match.groups()
        if "," in digits and not _THOUSANDS.fullmatch(digits):
            raise ValueError(
                f"{value!r}: a comma may only separate thousands (12,000,000); write a decimal "
                "with a point ('2.5M', not '2,5M')"
            )
        amount = float(digits.replace(",", "")) * _SCALE[suffix.lower()]
    else:
        raise ValueError(f"expected an amount in US dollars, got {type(value).__name__}")
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"amount must be a finite number of dollars >= 0, got {value!r}")
    if amount > MAX_USD:
        raise ValueError(
            f"{value!r} is above $1 trillion (1e12), far beyond any aid budget; check the "
            "number of zeros or the suffix (k, M, B)"
        )
    return amount


_USD_STEPS = ((1e9, "B", 2), (1e7, "M", 1), (1e6, "M", 2), (1e4, "k", 0), (1e3, "k", 1))


def usd(amount: float) -> str:
    """Dollars for people: $1.25B, $60.0M, $6.75M, $40k, $1.5k, $250. The unit is chosen after
    rounding, so $999,999 is $1.00M (not $1,000k)."""
    size, sign = abs(amount), "-" if amount < 0 else ""
    for step, suffix, decimals in _USD_STEPS:
        scale = 1e9 if suffix == "B" else 1e6 if suffix == "M" else 1e3
        shown = round(size / scale, decimals)
        if shown * scale >= step:
            return f"{sign}${shown:,.{decimals}f}{suffix}"
    return f"{sign}${size:,.0f}"


Money = Annotated[float, BeforeValidator(parse_money)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Percentile = Annotated[float, Field(ge=0.0, le=100.0)]


def _iso3(value: Any) -> Any:
    """An ISO 3166 alpha-3 code in capitals, with a fix suggested for the usual slips."""
    if isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[A-Za-z]{3}\s*", value):
        fixed = value.strip().upper()
        raise ValueError(f"got {value!r}: country codes are three capital letters; write {fixed!r}")
    raise ValueError(
        f"got {value!r}: give an ISO 3166 alpha-3 country code, three capital letters such as 'GHA'"
    )


def _codes(value: Any) -> Any:
    """One country code may be given alone: ``lock_in = "GHA"`` is ``["GHA"]``."""
    return [value] if isinstance(value, str) else value


Iso3 = Annotated[str, BeforeValidator(_iso3)]
Iso3List = Annotated[list[Iso3], BeforeValidator(_codes)]
ReadinessPart = Literal[
    "rule_of_law",
    "control_of_corruption",
    "voice_accountability",
    "migration",
    "prevalence",
    "tier_trend",
    "labor_exposure",
]


class Section(BaseModel):
    """Every section is frozen and forbids unknown keys, so a typo fails loudly; numbers must be
    finite (inf and nan would reach the solver)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _none_in_words(cls, data: Any) -> Any:
        """``key = "none"`` sets a key that may be none to none: TOML has no null, and a scenario
        must be able to drop a limit it inherits (``annual_cap_usd = "none"``)."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            field = cls.model_fields.get(key)
            if field is not None and _admits_none(field) and _is_none_word(value):
                out[key] = None
        return out


def _admits_none(field: Any) -> bool:
    return field.default is None or type(None) in get_args(field.annotation)


def _is_none_word(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == "none"


class DataSection(Section):
    """Which data the run reads: the reference year, the tables folder and the impact catalogue."""

    reference_year: int = Field(
        2013, ge=1900, le=2100, description="Year the country data describe (TIP report year)."
    )
    dir: Path | None = Field(
        None, description="Folder of curated data tables; default: the bundled data/."
    )
    catalogue: Path | None = Field(
        None,
        description="Impact-model catalogue (TOML); default: the bundled models/components.toml.",
    )


class EligibilitySection(Section):
    """Screening rules (the ATEST paper's indicators) and the readiness index weights."""

    require_mission: bool = Field(
        True, description="Require a development-agency mission (paper: USAID)."
    )
    mission_types: list[MissionType] = Field(
        ["bilateral", "regional_mission"],
        description="Mission types that count as present (data/usaid_missions.csv, as of 2014).",
    )
    tiers: list[Tier] = Field(["2", "2WL"], description="TIP Report tiers that are eligible.")
    exclude_cspa: bool = Field(
        True, description="Exclude countries on the Child Soldiers Prevention Act list."
    )
    min_rule_of_law_pct: Percentile | None = Field(
        None, description="Minimum WGI rule-of-law percentile."
    )
    min_control_of_corruption_pct: Percentile | None = Field(
        None, description="Minimum WGI control-of-corruption percentile."
    )
    min_voice_accountability_pct: Percentile | None = Field(
        None,
        description="Minimum WGI voice-and-accountability percentile (civil society without fear).",
    )
    min_migration_pct: Percentile | None = Field(
        None,
        description=(
            "Minimum migration percentile: the larger of the country's percentile ranks in "
            "migrants (immigrants + emigrants) as people and as a share of its population "
            "(docs/model.md, 'The migration measure')."
        ),
    )
    min_forced_labor_goods: Annotated[int, Field(ge=0)] | None = Field(
        None,
        description=(
            "Labour-trafficking exposure: keep only countries with at least this many goods on "
            "the US DOL List of Goods (2016 edition) for forced labour; none = no rule."
        ),
    )
    missing: Literal["exclude", "flag"] = Field(
        "exclude",
        description="A threshold whose indicator is missing: 'exclude' (with reason) or 'flag' (pass, flagged).",
    )
    readiness_weights: dict[ReadinessPart, Annotated[float, Field(ge=0)]] = Field(
        {
            "rule_of_law": 0.25,
            "control_of_corruption": 0.25,
            "voice_accountability": 0.25,
            "tier_trend": 0.25,
        },
        description=(
            "Weights of the readiness (tipping-point) index over normalised indicators: rule_of_law, "
            "control_of_corruption, voice_accountability, migration, prevalence, tier_trend, "
            "labor_exposure (forced-labour goods on the DOL list; 0 where none)."
        ),
    )

    @field_validator("readiness_weights")
    @classmethod
    def _some_readiness_weight(cls, weights: dict[str, float]) -> dict[str, float]:
        if not any(w > 0 for w in weights.values()):
            raise ValueError(
                "no readiness weight is above 0, which would blank every readiness score and "
                "rank; give at least one part a positive weight (e.g. rule_of_law = 1)"
            )
        return weights


class BudgetSection(Section):
    """The money: total, compact length, yearly cap and the discount on later outcomes."""

    total_usd: Money = Field(250e6, description="Total budget over the horizon, US dollars.")
    horizon_years: int = Field(5, description="Compact length in years: 3, 4 or 5.")
    first_year: int = Field(2015, ge=1990, le=2100, description="Label of year 1 (fiscal year).")
    annual_cap_usd: Money | None = Field(
        None, description="Most that may be spent in any one year."
    )
    discount_rate: Annotated[float, Field(ge=0, le=0.5)] = Field(
        0.03, description="Yearly discount rate on projected outcomes."
    )

    @field_validator("horizon_years")
    @classmethod
    def _horizon(cls, years: int) -> int:
        if years not in (3, 4, 5):
            raise ValueError("horizon_years must be 3, 4 or 5 (the compact length)")
        return years


class SelectionSection(Section):
    """Which focus countries and how many: compact sizes, counts, locks and regional limits."""

    min_countries: Annotated[int, Field(ge=0)] = Field(3, description="Fewest focus countries.")
    max_countries: Annotated[int, Field(ge=1)] = Field(8, description="Most focus countries.")
    min_compact_usd: Money = Field(
        15e6, description="Smallest compact over the horizon (tipping point): 0 or at least this."
    )
    max_compact_usd: Money = Field(
        60e6, description="Largest compact over the horizon (absorptive capacity)."
    )
    lock_in: Iso3List = Field(
        [], description='Countries that must be focus countries: ["GHA", "PHL"] (one may be "GHA").'
    )
    lock_out: Iso3List = Field([], description="Countries that must not be (ISO alpha-3 codes).")
    region_max: dict[Region, Annotated[int, Field(ge=0)]] = Field(
        {}, description="Most focus countries per State Department regional bureau."
    )
    absorptive_cap_usd: Money | None = Field(
        8e6,
        description="Most a focus country can usefully absorb in one year at median institutional "
        "capacity; scaled by capacity (docs/model.md, absorptive cap). Calibrated to US "
        "anti-trafficking programme sizes (assumption, range $4M-16M); none = no cap.",
    )

    @model_validator(mode="after")
    def _counts(self) -> SelectionSection:
        if self.min_countries > self.max_countries:
            raise ValueError(
                f"min_countries {self.min_countries} is above max_countries {self.max_countries}"
            )
        if self.min_compact_usd > self.max_compact_usd:
            raise ValueError(
                f"min_compact_usd {self.min_compact_usd:,.0f} is above max_compact_usd "
                f"{self.max_compact_usd:,.0f}"
            )
        for key in ("lock_in", "lock_out"):
            codes = getattr(self, key)
            twice = sorted({c for c in codes if codes.count(c) > 1})
            if twice:
                raise ValueError(f"{key} lists {', '.join(twice)} more than once; list each once")
        both = sorted(set(self.lock_in) & set(self.lock_out))
        if both:
            raise ValueError(f"{', '.join(both)} both locked in and locked out")
        return self


class PolicySection(Section):
    """How each compact is shaped: pillar floors, earmarks, channel cap, M&E floor, ramps."""

    pillar_floor_share: dict[Pillar, Share] = Field(
        {},
        description="Least share of each focus country's compact per pillar (comprehensive approach).",
    )
    earmark_share: dict[EarmarkTag, Share] = Field(
        {}, description="Least share of the whole portfolio on components with this tag."
    )
    weak_corruption_pct: Percentile = Field(
        33.0,
        description="Control-of-corruption percentile below which the government-channel cap applies.",
    )
    government_cap_share: Share | None = Field(
        None,
        description="Most of a weak-governance country's compact through the government channel.",
    )
    me_floor_share: Share = Field(
        0.0, description="Least share of each compact on baseline data, monitoring and evaluation."
    )
    ramp_up: Annotated[float, Field(ge=0, le=100)] | None = Field(
        None, description="Most a country's spend may grow year on year (0.5 = +50%)."
    )
    ramp_down: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="Most a country's spend may fall year on year (0.25 = -25%)."
    )
    component_floor_share: dict[str, Share] = Field(
        {},
        description="Least share of each focus country's compact per catalogue component "
        "(e.g. police and prosecutors inside the prosecution pillar).",
    )
    aftercare_share: Share = Field(
        0.0,
        description="Least survivors assisted through recovery per victim identified, per focus "
        "country over the compact (outcome units; assumption, range 0.1-0.5).",
    )

    @model_validator(mode="after")
    def _shares(self) -> PolicySection:
        floors = sum(self.pillar_floor_share.values()) + self.me_floor_share
        if sum(self.component_floor_share.values()) > 1.0 + 1e-9:
            raise ValueError(
                f"component floors add up to {sum(self.component_floor_share.values()):.0%} "
                "of a compact, above 100%"
            )
        if floors > 1.0 + 1e-9:
            raise ValueError(
                f"pillar floors plus the M&E floor add up to {floors:.0%} of a compact, above 100%"
            )
        if sum(self.earmark_share.values()) > 1.0 + 1e-9:
            raise ValueError(
                f"earmarks add up to {sum(self.earmark_share.values()):.0%} of the portfolio, above 100%"
            )
        return self


class StreamSection(Section):
    """One funding stream (``[streams.NAME]``): how much it gives and what it may pay for. Every
    list left empty allows everything; a component must pass every list that is given."""

    description: str = Field("", description="Who gives this money (for the reader).")
    per_year_usd: Money | None = Field(None, description="Most the stream gives in any one year.")
    total_usd: Money | None = Field(None, description="Most the stream gives over the horizon.")
    pillars: list[Pillar] = Field([], description="Pillars it may pay for (empty: all).")
    components: list[str] = Field(
        [], description="Catalogue components it may pay for (empty: all)."
    )
    channels: list[Channel] = Field([], description="Channels it may pay through (empty: all).")
    countries: Iso3List = Field([], description="Countries it may pay in (empty: all).")
    tags: list[Tag] = Field(
        [], description="Component tags it may pay for: a component needs one of them (empty: all)."
    )

    @model_validator(mode="after")
    def _some_amount(self) -> StreamSection:
        if self.per_year_usd is None and self.total_usd is None:
            raise ValueError("give per_year_usd, total_usd or both: how much the stream gives")
        return self


class CofinancingSection(Section):
    """The focus country's own contribution to its compact, by compact year (a glide path)."""

    host_share: list[float] = Field(
        [],
        description="Host government's share of each compact year's programme money, year 1 "
        "first (e.g. [0.1, 0.2, 0.3, 0.4, 0.4]); one per year of the horizon; empty: none.",
    )
    usd_per_capita: Annotated[float, Field(ge=0, le=100)] = Field(
        0.05,
        description="Affordability assumption: most a host government puts into its compact per "
        "inhabitant per year, US dollars (assumption, range 0.01-0.20; docs/compacts.md).",
    )
    affordable_usd: dict[Iso3, Money] = Field(
        {}, description="Per-country affordability in US dollars a year, replacing usd_per_capita."
    )

    @field_validator("host_share")
    @classmethod
    def _below_whole(cls, shares: list[float]) -> list[float]:
        bad = [f"year {i + 1} is {s:.0%}" for i, s in enumerate(shares) if not 0 <= s < 1]
        if bad:
            raise ValueError(
                f"{'; '.join(bad)}: each host share must be at least 0% and below 100% "
                "(write 0.4 for 40%)"
            )
        return shares


# Assumption (numerical, not a value judgment): beyond these the objective's coefficients span
# more than the solver's tolerances can resolve (HiGHS works to about 1e-7 relative), so a weight of
# 1e20 or an infinite bonus comes back as a solver error rather than an allocation. The baseline's
# whole portfolio is worth about 150,000 impact units and the catalogue's largest weight is 15.
MAX_WEIGHT = 1e4
MAX_BONUS = 1e6


class ObjectiveSection(Section):
    """What counts as impact: metric weights, the tipping-point bonus and the curve approximation."""

    weights: dict[str, Annotated[float, Field(ge=0, le=MAX_WEIGHT)]] = Field(
        {},
        description="Impact units per unit of each metric; missing metrics use the catalogue's mode.",
    )
    tipping_bonus: Annotated[float, Field(ge=0, le=MAX_BONUS)] = Field(
        0.0, description="Impact units credited for each full compact (a focus country selected)."
    )
    readiness_strength: Annotated[float, Field(ge=0, le=5)] = Field(
        1.0,
        description="Exponent of readiness in effectiveness: a dollar achieves (readiness / "
        "median readiness)^strength as much, clipped like the context multiplier; 0 turns "
        "readiness off (assumption, range 0.5-2).",
    )
    scale_exponent: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5,
        description="Exponent alpha of saturation in the people in modern slavery: A = r * N_ref "
        "* (N / N_ref)^alpha, N_ref = 500,000; 1 = proportional (assumption, range 0.3-0.8).",
    )
    segments: Annotated[int, Field(ge=1, le=50)] = Field(
        8, description="Pieces of each concave response curve's linear approximation."
    )
    cost_case: Literal["low", "mode", "high"] = Field(
        "mode", description="Which catalogue case of cost per outcome to use."
    )


class TippingSection(Section):
    """The tipping point (when a compact's outcomes last beyond it) and capacity that builds
    over the compact (docs/model.md, section 10)."""

    threshold_usd_per_person: Annotated[float, Field(ge=0)] = Field(
        20.0,
        description="Cumulative spend per person in modern slavery within reach (N_ref * "
        "(N / N_ref)^alpha) a compact must reach to tip (assumption, range $10-40).",
    )
    pillar_years: Annotated[int, Field(ge=0, le=5)] = Field(
        3,
        description="Every pillar must be funded in each of the compact's last this many years "
        "to tip (ATEST 2014: 3-5 year compacts).",
    )
    pillar_min_usd: Money = Field(
        100e3,
        description="Least spend on a pillar in a year for it to count as funded (assumption, "
        "range $50k-250k).",
    )
    durable_share: Share = Field(
        0.5,
        description="Share of the final year's outcomes that continue in the first year after a "
        "tipped compact, at median readiness (assumption, range 0.25-0.75).",
    )
    durable_years: Annotated[int, Field(ge=0, le=20)] = Field(
        5,
        description="Years after the compact that durable outcomes are counted; 0 turns the "
        "tipping point off (assumption, range 3-10).",
    )
    decay: Share = Field(
        0.2,
        description="Yearly decay of durable outcomes after the compact (assumption, range 0.1-0.4).",
    )
    systems_dividend: Annotated[float, Field(ge=0)] = Field(
        0.0,
        description="Capacity that builds: impact units a year that each US$1M spent earlier on "
        "systems components can add to later service outcomes; 0 = off (assumption if used, "
        "range 10-50).",
    )
    systems_dividend_cap: Share = Field(
        0.2,
        description="Most the systems dividend can add to a year's weighted service outcomes, "
        "as a share (assumption, range 0.1-0.3).",
    )
    systems_components: list[str] = Field(
        ["nap_coordination", "baseline_me"],
        description="Components that build capacity (coordination, data) rather than deliver "
        "services.",
    )


class RangeOverride(Section):
    """A scenario's own low / mode / high for one uncertain number (``[uncertainty]``)."""

    low: Annotated[float, Field(ge=0)]
    mode: Annotated[float, Field(ge=0)]
    high: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered_with_width(self) -> RangeOverride:
        if self.low > self.mode:
            raise ValueError(f"low {self.low:g} is above mode {self.mode:g}; fix the range")
        if self.mode > self.high:
            raise ValueError(f"mode {self.mode:g} is above high {self.high:g}; fix the range")
        if self.low == self.high:
            raise ValueError(
                f"low and high are both {self.low:g}: a range to sample needs width; to fix the "
                "value, set it in the catalogue (or objective.weights) instead"
            )
        return self


class UncertaintySection(Section):
    """How ``tipfocus uncertainty`` and ``sensitivity`` draw the catalogue's uncertain numbers."""

    distribution: Literal["pert", "triangular"] = Field(
        "pert", description="Shape over each low / mode / high range: pert (default) or triangular."
    )
    shared: bool = Field(
        False,
        description="One draw per component shared by every country (correlated), instead of "
        "one per (country, component).",
    )
    unit_cost_usd: dict[str, RangeOverride] = Field(
        {}, description="Range overrides of a component's cost per outcome, by component key."
    )
    saturation: dict[str, RangeOverride] = Field(
        {}, description="Range overrides of a component's saturation, by component key."
    )
    elasticity: dict[str, RangeOverride] = Field(
        {}, description="Range overrides of a component's context elasticity, by component key."
    )
    weight: dict[str, RangeOverride] = Field(
        {}, description="Range overrides of a metric's weight, by metric key."
    )


class SolverSection(Section):
    """The MIP solver and its limits."""

    name: Literal["highs", "cbc"] = Field(
        "highs", description="MIP solver: highs (default) or cbc."
    )
    time_limit_s: Annotated[float, Field(gt=0)] = Field(
        60.0,
        description="Solver time limit, seconds, for the whole solve (with HiGHS: the "
        "relaxations and MIPs of the search and the final LP together).",
    )
    mip_gap: Annotated[float, Field(ge=0, le=1)] = Field(
        1e-6, description="Relative MIP gap to stop at."
    )
    threads: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="Solver threads (1 is deterministic)."
    )


RESERVED_STREAMS = ("default", "host")  # the implicit US stream and the host's co-financing


class Scenario(Section):
    name: str = Field("baseline", description="Short name; used for the run folder.")
    description: str = Field("", description="What this what-if asks.")
    extends: str | None = Field(
        None, description="Scenario file this one layers on (relative path)."
    )
    data: DataSection = DataSection()
    eligibility: EligibilitySection = EligibilitySection()
    budget: BudgetSection = BudgetSection()
    selection: SelectionSection = SelectionSection()
    policy: PolicySection = PolicySection()
    objective: ObjectiveSection = ObjectiveSection()
    tipping: TippingSection = TippingSection()
    solver: SolverSection = SolverSection()
    uncertainty: UncertaintySection = UncertaintySection()
    streams: dict[str, StreamSection] = Field(
        {}, description="Funding streams ([streams.NAME]); none: one implicit stream 'default'."
    )
    cofinancing: CofinancingSection = CofinancingSection()

    _files: tuple[Path, ...] = PrivateAttr(default=())
    _overrides: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _compact_terms(self) -> Scenario:
        shares = self.cofinancing.host_share
        if shares and len(shares) != self.budget.horizon_years:
            raise ValueError(
                f"cofinancing.host_share gives {len(shares)} years but the horizon is "
                f"{self.budget.horizon_years} (budget.horizon_years); give one share per year"
            )
        bad = sorted(n for n in self.streams if not re.fullmatch(r"[a-z][a-z0-9_]*", n))
        bad += sorted(n for n in self.streams if n in RESERVED_STREAMS)
        if bad:
            raise ValueError(
                f"stream name {bad[0]!r}: use lower-case letters, digits and '_', starting with a "
                f"letter, and not {' or '.join(RESERVED_STREAMS)}"
            )
        return self

    @property
    def files(self) -> tuple[Path, ...]:
        """The scenario file and every file it extends (empty if built in code)."""
        return self._files

    @property
    def overrides(self) -> tuple[str, ...]:
        """The ``--set section.key=value`` overrides applied on top of the files, in order."""
        return self._overrides

    @property
    def years(self) -> list[int]:
        return [self.budget.first_year + t for t in range(self.budget.horizon_years)]


# ----------------------------------------------------------------------------- loading


def _fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The valid keys at ``loc`` (for suggestions)."""
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return list(model.model_fields)
        model = field.annotation
    return list(model.model_fields)


def _section_of(key: str) -> str | None:
    """The section whose key this is (``total_usd`` -> ``budget``), if exactly one has it."""
    owners = [
        name
        for name, field in Scenario.model_fields.items()
        if isinstance(field.annotation, type)
        and issubclass(field.annotation, BaseModel)
        and key in field.annotation.model_fields
    ]
    return owners[0] if len(owners) == 1 else None


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    where = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        valid = _fields(Scenario, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        elsewhere = _section_of(str(loc[-1]))
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif elsewhere:
            hint = f"did you mean '{elsewhere}.{loc[-1]}'? (it belongs to [{elsewhere}])"
        else:
            hint = f"valid keys: {', '.join(valid)}"
        return f"{where}: unknown key; {hint}"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    shown = "got " in message or isinstance(given, dict | list | BaseModel)
    if error["type"] not in ("missing",) and not shown:
        message += f" (got {given!r})"
    return f"{where}: {message}"


def _name_from(path: Path) -> str:
    """The scenario's default name, its file name: refused if not valid UTF-8 (it would fail
    only after the solve, writing the run folder)."""
    try:
        path.stem.encode("utf-8")
    except UnicodeEncodeError:
        raise ScenarioError(
            str(path).encode("utf-8", "backslashreplace").decode(),
            'the file name is not valid UTF-8; rename the file, or give it a name = "..." line',
        ) from None
    return path.stem


def load_scenario(path: Path | str | None = None, overrides: list[str] | None = None) -> Scenario:
    """Load a scenario file (default: the bundled baseline), apply ``extends`` and ``--set`` overrides."""
    path = Path(path) if path is not None else DEFAULT_SCENARIO
    layers = layered(path)
    raw = apply_overrides(layers.raw, list(overrides or []))
    raw.pop("extends", None)
    if "name" not in raw:
        raw["name"] = _name_from(path)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        sets = [(text, parse_override(text)[0]) for text in overrides or []]
        problems = []
        for e in exc.errors():
            loc = [str(p) for p in e["loc"]]
            src = [t for t, k in sets if loc and (loc[: len(k)] == k or k[: len(loc)] == loc)]
            if src:
                problems.append(f"{_describe(e)} [with {setting('overrides', src[-1])}]")
                continue
            inherited = inherited_from(loc, layers.origin, path)
            problems.append(_describe(e) + (f" [set in {inherited}]" if inherited else ""))
        raise ScenarioError(str(path), problems) from None
    scenario._files = tuple(layers.files)
    scenario._overrides = tuple(overrides or ())
    return scenario


MONEY_KEYS = (
    ("budget", "total_usd"),
    ("budget", "annual_cap_usd"),
    ("selection", "min_compact_usd"),
    ("selection", "max_compact_usd"),
)
TOO_SMALL_USD = 10_000.0  # below this a budget amount is almost surely millions written bare


def unit_warnings(scenario: Scenario) -> list[str]:
    """A warning for each amount far too small to be meant (``total_usd = 250``): the unit is the
    dollar, and ``250M`` is probably what was meant."""
    out = []
    for section, key in MONEY_KEYS:
        value = getattr(getattr(scenario, section), key)
        if value is not None and 0 < value < TOO_SMALL_USD:
            out.append(
                f"{section}.{key} is {usd(value)}: amounts are in US dollars; for {value:g} "
                f"million write {value:g}M"
            )
    return out


def resolved_toml(scenario: Scenario) -> str:
    """The fully resolved scenario as TOML text (stored with every run; ``load_scenario`` reads
    it back to the same scenario). TOML has no null: a key left at a default of none is left
    out, and a key set to none over another default is written ``"none"``."""
    return tomli_w.dumps(_without_nulls(scenario, scenario.model_dump(mode="json")))


def _without_nulls(model: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in dumped.items():
        field = type(model).model_fields[key]
        inner = getattr(model, key)
        if value is None:
            if field.default is not None:
                out[key] = "none"
        elif isinstance(inner, BaseModel):
            out[key] = _without_nulls(inner, value)
        elif isinstance(inner, dict) and all(isinstance(v, BaseModel) for v in inner.values()):
            out[key] = {k: _without_nulls(inner[k], v) for k, v in value.items()}
        else:
            out[key] = value
    return out
