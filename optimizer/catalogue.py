"""The impact-model catalogue (``models/components.toml``): components, metrics, sources.

:func:`load_catalogue` returns a frozen :class:`Catalogue` or raises ``CatalogueError`` listing
every problem at once, each naming its table and key.
"""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from optimizer.errors import CatalogueError
from optimizer.files import MAX_TOML_BYTES, read_input
from optimizer.layering import parse_toml
from optimizer.paths import DEFAULT_CATALOGUE
from optimizer.scenario import Section
from optimizer.vocabulary import ME_TAG, SECTORS, Channel, Pillar, Tag, Target

# "none" or a sector of the DOL List of Goods (tables.SECTORS): a sector component applies only
# in countries with a listed good of that sector (impact.build_curves).
Sector = Literal[("none", *SECTORS)]
Evidence = Literal["A", "B", "C", "D"]
ContextKind = Literal["none", "governance", "voice", "migration"]

# Field name -> allowed words, used to suggest the closest word when a value is misspelt.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "pillar": typing.get_args(Pillar),
    "channel": typing.get_args(Channel),
    "target": typing.get_args(Target),
    "sector": typing.get_args(Sector),
    "tags": typing.get_args(Tag),
    "evidence": typing.get_args(Evidence),
    "context": typing.get_args(ContextKind),
}
ASSUMPTION_PREFIX = "assumption:"
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


class _Frozen(Section):
    """A scenario-style section (frozen, no unknown keys) that also refuses true/false for numbers
    and text."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected a number or text, got boolean {str(value).lower()}")
        return value


class Triangle(_Frozen):
    """A low / mode / high range; mode is the default value, low and high bound the uncertainty."""

    low: float
    mode: float
    high: float
    _strictly_positive: typing.ClassVar[bool] = True
    # A typo guard in every triangle's units (US$ per outcome, outcomes per person in modern
    # slavery, elasticity, impact units): the catalogue's largest value is 150,000, and 1e300
    # overflowed into a solver error or NaN curve breakpoints.
    _highest: typing.ClassVar[float] = 1e9

    @model_validator(mode="after")
    def _ordered_and_signed(self) -> Triangle:
        for name in ("low", "mode", "high"):
            value = getattr(self, name)
            if self._strictly_positive and not value > 0:
                raise ValueError(f"{name} must be above 0 (got {value:g})")
            if not self._strictly_positive and value < 0:
                raise ValueError(f"{name} must be 0 or more (got {value:g})")
            if value > self._highest:
                raise ValueError(
                    f"{name} {value:g} is above {self._highest:g}, far beyond any value in the "
                    "catalogue's units; check the number"
                )
        if self.low > self.mode:
            raise ValueError(f"low {self.low:g} is above mode {self.mode:g}; fix the triangle")
        if self.mode > self.high:
            raise ValueError(f"mode {self.mode:g} is above high {self.high:g}; fix the triangle")
        return self


class NonNegativeTriangle(Triangle):
    """A triangle whose values may be 0 (elasticities)."""

    _strictly_positive: typing.ClassVar[bool] = False


Text = typing.Annotated[str, Field(min_length=1)]


class ContextBounds(_Frozen):
    """Clip bounds of the context multiplier phi."""

    phi_min: float = Field(gt=0)
    phi_max: float = Field(gt=0)
    note: Text

    @model_validator(mode="after")
    def _brackets_one(self) -> ContextBounds:
        if not self.phi_min <= 1.0 <= self.phi_max:
            raise ValueError(
                f"need phi_min <= 1 <= phi_max (got {self.phi_min:g} and {self.phi_max:g})"
            )
        return self


class Metric(_Frozen):
    """An outcome unit; ``weight`` converts one unit into impact units (victim-equivalents)."""

    label: Text
    unit: Text
    description: Text
    weight: Triangle
    weight_source: Text
    counted: Literal["per_year", "once"] = Field(
        "per_year",
        description="'once': a stock, not a flow (e.g. evidence coverage): a country's outcomes "
        "over the compact count at most up to one saturation, not again every year.",
    )


class Component(_Frozen):
    """One fundable programme component with its response-curve parameters."""

    label: Text
    description: Text
    pillar: Pillar
    channel: Channel
    target: Target
    sector: Sector
    tags: tuple[Tag, ...] = ()
    metric: Text
    unit_cost_usd: Triangle
    cost_basis_year: int = Field(ge=1990, le=2100)
    cost_source: Text
    evidence: Evidence
    saturation: Triangle
    saturation_source: Text
    context: ContextKind
    elasticity: NonNegativeTriangle
    elasticity_source: Text

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({t for t in tags if tags.count(t) > 1})
        if duplicates:
            raise ValueError(f"tag(s) listed twice: {', '.join(duplicates)}")
        return tags

    @model_validator(mode="after")
    def _grade_matches_source(self) -> Component:
        assumed = self.cost_source.strip().lower().startswith(ASSUMPTION_PREFIX)
        if self.evidence == "D" and not assumed:
            raise ValueError(
                "evidence is D but cost_source is not an 'assumption: ...' statement; "
                "grade a cited cost A-C, or mark it as an assumption"
            )
        if assumed and self.evidence != "D":
            raise ValueError(
                f"cost_source is an assumption but evidence is {self.evidence}; grade it D"
            )
        return self

    @property
    def cost_is_assumption(self) -> bool:
        return self.cost_source.strip().lower().startswith(ASSUMPTION_PREFIX)


class Catalogue(_Frozen):
    """The whole catalogue; ``metrics`` and ``components`` keep file order."""

    name: Text
    version: Text
    description: Text
    context: ContextBounds
    metrics: dict[str, Metric] = Field(min_length=1)
    components: dict[str, Component] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_references(self) -> Catalogue:
        problems = _cross_problems(
            self.metrics.keys(), {k: (c.metric, c.tags) for k, c in self.components.items()}
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _cross_problems(metrics: typing.Iterable[str], comps: dict[str, tuple[Any, Any]]) -> list[str]:
    """Problems that span tables: unknown metric keys, no me_data component."""
    metric_keys = list(metrics)
    problems = [
        f"{table}.{key}: keys are lower-case letters, digits and _ (they name model variables); "
        "rename it"
        for table, keys in (("metrics", metric_keys), ("components", list(comps)))
        for key in keys
        if not KEY_PATTERN.fullmatch(str(key))
    ]
    for key, (metric, _tags) in comps.items():
        if isinstance(metric, str) and metric and metric not in metric_keys:
            problems.append(
                f"components.{key}.metric: '{metric}' is not a key of [metrics]"
                f"{_suggest(metric, metric_keys)}"
            )
    if comps and not any(isinstance(t, list | tuple) and ME_TAG in t for _, t in comps.values()):
        problems.append(
            f"components: no component has tag '{ME_TAG}'; add at least one baseline, "
            "monitoring or evaluation component"
        )
    return problems


def _suggest(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


# Allowed keys per table kind, for unknown-key messages with suggestions.
_TABLE_KEYS = {
    "root": ("catalogue", "metrics", "components"),
    "catalogue": ("name", "version", "description", "context"),
    "context": tuple(ContextBounds.model_fields),
    "metric": tuple(Metric.model_fields),
    "component": tuple(Component.model_fields),
    "triangle": ("low", "mode", "high"),
}
_TRIANGLE_FIELDS = {"weight", "unit_cost_usd", "saturation", "elasticity"}


def _unknown_keys(table: Any, kind: str, where: str) -> list[str]:
    if not isinstance(table, dict):
        return []
    allowed = _TABLE_KEYS[kind]
    problems = [
        f"{where + '.' if where else ''}{key}: unknown key{_suggest(key, allowed)}"
        + ("" if _suggest(key, allowed) else f"; valid keys are {', '.join(allowed)}")
        for key in table
        if key not in allowed
    ]
    for key, value in table.items():
        if key in _TRIANGLE_FIELDS and kind in ("metric", "component"):
            problems += _unknown_keys(value, "triangle", f"{where}.{key}")
    return problems


def _all_unknown_keys(raw: dict[str, Any]) -> list[str]:
    problems = _unknown_keys(raw, "root", "")
    head = raw.get("catalogue", {})
    problems += _unknown_keys(head, "catalogue", "catalogue")
    if isinstance(head, dict):
        problems += _unknown_keys(head.get("context"), "context", "catalogue.context")
    for section, kind in (("metrics", "metric"), ("components", "component")):
        tables = raw.get(section, {})
        if isinstance(tables, dict):
            for key, table in tables.items():
                problems += _unknown_keys(table, kind, f"{section}.{key}")
    return problems


def _describe(error: dict[str, Any]) -> str | None:
    """One pydantic error as 'table.key: message', or None if reported elsewhere."""
    loc = error["loc"]
    if error["type"] == "extra_forbidden" or not loc:
        return None  # unknown keys and cross-table checks are reported by the passes above
    if error["type"] == "too_short" and loc in (("metrics",), ("components",)):
        return None  # reported as "no [metrics.<key>] tables"
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if parts[0] in ("name", "version", "description", "context"):
        parts.insert(0, "catalogue")
    where = ".".join(parts)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "literal_error":
        allowed = VOCABULARIES.get(parts[-1], ())
        got = error.get("input")
        message = f"'{got}' is not one of {', '.join(allowed)}{_suggest(got, allowed)}"
    elif error["type"] == "missing":
        message = "missing; add this key"
    return f"{where}: {message}"


def load_catalogue(path: Path = DEFAULT_CATALOGUE) -> Catalogue:
    """Read, check and return the catalogue; raise CatalogueError listing every problem."""
    path = Path(path)
    where = str(path)
    hint = f"file not found; check the path, or omit it to use {DEFAULT_CATALOGUE}"
    data = read_input(path, CatalogueError, MAX_TOML_BYTES, hint, what="catalogue")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueError(where, f"cannot read the file: {exc}") from None
    raw = parse_toml(text, CatalogueError, where, "malformed TOML")

    problems = _all_unknown_keys(raw)
    head = raw.get("catalogue")
    if not isinstance(head, dict):
        problems.append("catalogue: missing [catalogue] table; add name, version, description")
        head = {}
    data = {**head, "metrics": raw.get("metrics", {}), "components": raw.get("components", {})}
    if not raw.get("metrics"):
        problems.append("metrics: no [metrics.<key>] tables; define at least one metric")
    if not raw.get("components"):
        problems.append("components: no [components.<key>] tables; define at least one component")
    try:
        catalogue = Catalogue.model_validate(data)
    except ValidationError as exc:
        catalogue = None
        for error in exc.errors():
            line = _describe(error)
            if line and line not in problems:
                problems.append(line)
    comps = data["components"] if isinstance(data["components"], dict) else {}
    pairs = {k: (c.get("metric"), c.get("tags")) for k, c in comps.items() if isinstance(c, dict)}
    metrics = data["metrics"] if isinstance(data["metrics"], dict) else {}
    problems += [p for p in _cross_problems(metrics, pairs) if p not in problems]
    if problems or catalogue is None:
        raise CatalogueError(where, problems or ["invalid catalogue"])
    return catalogue
