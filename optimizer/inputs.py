"""Every number the allocation model uses, built once: ``ModelInputs``.

``model_inputs`` turns a scenario, the screening view, the catalogue and the response curves into
one frozen object: the spend columns with their widths and slopes, the candidate countries with
their regions, weak governance, absorptive and host caps, and the rule sections whose numbers are
the right-hand sides (budget, selection, policy, tipping, streams, co-financing). The ``define_*``
families of ``optimizer.model``, ``optimizer.focus`` and ``optimizer.compact`` read only this.

A change an analysis makes (a rule's right-hand side, a draw of the curves) gives new inputs of the
same structure (``with_rhs``, ``with_curves``): the model applies them in place
(``AllocationModel.set_rhs``, ``AllocationModel.set_inputs``) and ``engine.collect`` reports the
numbers that were solved, never the original scenario's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import pandas as pd

from optimizer.catalogue import Catalogue
from optimizer.impact import Curves
from optimizer.scenario import (
    BudgetSection,
    Scenario,
    SelectionSection,
    StreamSection,
)
from optimizer.units import UNIT

SEGMENT_KEY = ["iso3", "component", "segment"]
CURVE_NUMBERS = ["width_usd", "slope", "value_slope"]  # the spend columns' numbers from curves


def spend_columns(curves: Curves, catalogue: Catalogue, years: list[int]) -> pd.DataFrame:
    """One row per spend column: iso3, component, segment, width_usd, slope, value_slope, year,
    pillar, channel, metric, tags; sorted as the model creates them."""
    comp = pd.DataFrame(
        {
            "component": list(catalogue.components),
            "pillar": [c.pillar for c in catalogue.components.values()],
            "channel": [c.channel for c in catalogue.components.values()],
            "metric": [c.metric for c in catalogue.components.values()],
            "tags": [frozenset(c.tags) for c in catalogue.components.values()],
        }
    )
    seg = curves.segments
    cols = seg.merge(pd.DataFrame({"year": years}), how="cross").merge(comp, on="component")
    return cols.sort_values(["iso3", "component", "year", "segment"], ignore_index=True)


@dataclass(frozen=True)
class ModelInputs:
    """The numbers of one model. ``scenario`` is the scenario as solved: its budget, selection,
    policy and tipping sections are the ones here (a changed right-hand side included)."""

    source: Scenario  # names, years, solver settings, objective weights
    view: pd.DataFrame  # the screening view (one row per eligible country)
    catalogue: Catalogue
    curves: Curves
    countries: tuple[str, ...]
    columns: pd.DataFrame  # ``spend_columns``: widths (US$) and slopes of every spend column
    regions: dict[str, str]
    weak_governance: tuple[str, ...]  # countries under policy.weak_corruption_pct
    caps: dict[str, float] | None  # absorptive cap per country, US$ a year (None: off)
    host_caps: dict[str, float]  # most each host government affords a year, US$
    host_share: dict[int, float]  # the host's share of each year's programme money
    budget: BudgetSection
    selection: SelectionSection
    policy: object  # PolicySection
    tipping: object  # TippingSection
    streams: dict[str, StreamSection]
    # changes made on a built model (``optimizer.changes``), replayed by a cold build:
    row_rhs: dict[str, float] = field(default_factory=dict)  # rows set without a scenario number
    off: frozenset[str] = frozenset()  # rule families switched off
    col_bounds: dict[str, tuple[float, float]] = field(default_factory=dict)  # by column name
    costs: dict[str, float] = field(default_factory=dict)  # objective coefficients by column name

    @property
    def scenario(self) -> Scenario:
        return self.source.model_copy(
            update={
                "budget": self.budget,
                "selection": self.selection,
                "policy": self.policy,
                "tipping": self.tipping,
                "streams": self.streams,
            }
        )

    @property
    def years(self) -> list[int]:
        return self.source.years

    def with_curves(self, curves: Curves) -> ModelInputs:
        """The same structure on other curves (a draw): widths and slopes of every column."""
        curves = curves.only(list(self.countries))
        fresh = curves.segments.set_index(SEGMENT_KEY)[CURVE_NUMBERS]
        found = fresh.reindex(pd.MultiIndex.from_frame(self.columns[SEGMENT_KEY]))
        if found["width_usd"].isna().any():  # a programming error: the structure must not change
            raise RuntimeError("the drawn curves lack segments of the built model")
        columns = self.columns.assign(**{k: found[k].to_numpy() for k in found.columns})
        return replace(self, curves=curves, columns=columns)

    def differs_only_in_curves(self, other: ModelInputs) -> bool:
        """Whether ``other`` is these inputs on other curves (a draw): the same columns but for
        their numbers from the curves, every other field equal."""
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if item.name == "curves" or mine is theirs:
                continue
            if item.name == "columns":
                same = mine.drop(columns=CURVE_NUMBERS).equals(theirs.drop(columns=CURVE_NUMBERS))
            elif isinstance(mine, pd.DataFrame):
                same = mine.equals(theirs)
            else:
                same = mine == theirs
            if not same:
                return False
        return True

    def with_rhs(self, name: str, value: float) -> ModelInputs:
        """Row ``name``'s right-hand side set to ``value`` (model units: US$ million for money, a
        country for counts): in the scenario number it comes from where there is one."""
        money = value * UNIT
        sel = self.selection
        if name == "budget_total":
            return replace(self, budget=self.budget.model_copy(update={"total_usd": money}))
        if name.startswith("annual_cap_") and len(self.years) == 1:
            return replace(self, budget=self.budget.model_copy(update={"annual_cap_usd": money}))
        whole = float(value).is_integer()
        if whole and name in ("countries_min", "countries_max"):
            key = "min_countries" if name == "countries_min" else "max_countries"
            return replace(self, selection=sel.model_copy(update={key: int(value)}))
        if whole and name.startswith("region_max_"):
            regions = {**sel.region_max, name.removeprefix("region_max_"): int(value)}
            return replace(self, selection=sel.model_copy(update={"region_max": regions}))
        for key, stream in self.streams.items():
            if name == f"stream_{key}_total":
                streams = {**self.streams, key: stream.model_copy(update={"total_usd": money})}
                return replace(self, streams=streams)
        return replace(self, row_rhs={**self.row_rhs, name: value})


def model_inputs(
    scenario: Scenario,
    view: pd.DataFrame,
    countries: list[str],
    curves: Curves,
    catalogue: Catalogue,
) -> ModelInputs:
    """The inputs for eligible ``countries`` (rows of the screening view) on ``curves``."""
    from optimizer import compact, focus

    countries = list(countries)
    weak_pct = scenario.policy.weak_corruption_pct
    cap = scenario.selection.absorptive_cap_usd
    bounds = (catalogue.context.phi_min, catalogue.context.phi_max)
    return ModelInputs(
        source=scenario,
        view=view,
        catalogue=catalogue,
        curves=curves,
        countries=tuple(countries),
        columns=spend_columns(curves, catalogue, scenario.years),
        regions={c: str(view.at[c, "region"]) for c in countries},
        weak_governance=tuple(
            c for c in countries if view.at[c, "control_of_corruption_pct"] < weak_pct
        ),
        caps=None if cap is None else focus.absorptive_caps(view, countries, cap, *bounds),
        host_caps=compact.host_caps(scenario, view, countries),
        host_share=compact.host_shares(scenario),
        budget=scenario.budget,
        selection=scenario.selection,
        policy=scenario.policy,
        tipping=scenario.tipping,
        streams=dict(scenario.streams),
    )
