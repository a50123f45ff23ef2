"""The allocation model as a PuLP problem: one function per constraint family.

Money inside the model is in millions of US dollars (``UNIT``) so coefficients stay well scaled;
everything that leaves the model is in dollars. Variables and rows are named from their index
(``x_THA_shelter_2016_s3``, ``compact_min_THA``), so names are stable across runs.

``build_model`` reads top to bottom as the list of families. Each family function returns early
when its rule is off. With ``elastic=True`` every rule row gets a penalised slack and the objective
becomes "break the rules as little as possible": used to explain infeasible scenarios.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd
import pulp

from optimizer import changes, compact, focus
from optimizer.catalogue import Catalogue
from optimizer.impact import Curves
from optimizer.inputs import ModelInputs
from optimizer.scenario import Scenario
from optimizer.units import UNIT
from optimizer.vocabulary import GOVERNMENT, ME_TAG

TIE_BREAK = 1e-7  # relative preference for earlier (country, component, year); docs/model.md

LE, GE, EQ = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ


@dataclass
class AllocationModel:
    """A built problem plus everything needed to read, change and re-solve it.

    ``inputs`` are the numbers it was built from (``optimizer.inputs``); the setters below change
    the PuLP problem (the model of record: export, CBC) and the attached solver session
    (``optimizer.session``) alike, and keep ``inputs`` in step, so a cold build of ``inputs`` is
    the same problem. Once solved with HiGHS, change it only through them: the session does not
    see a change made on the PuLP objects directly."""

    problem: pulp.LpProblem
    inputs: ModelInputs
    columns: pd.DataFrame  # ``inputs.columns`` with each spend column's PuLP variable (``var``)
    select: dict[str, pulp.LpVariable]
    families: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    slacks: dict[str, pulp.LpVariable] = field(default_factory=dict)
    elastic: bool = False
    total: dict[str, pulp.LpVariable] = field(default_factory=dict)
    year_spend: dict[tuple[str, int], pulp.LpVariable] = field(default_factory=dict)
    variables: list[pulp.LpVariable] = field(default_factory=list)  # every column, as created
    stream_split: dict[tuple, pulp.LpVariable] = field(default_factory=dict)  # (c, k, t, stream)
    tipped: dict[str, pulp.LpVariable] = field(default_factory=dict)  # tip_c (binary)
    durable: dict[str, pulp.LpVariable] = field(default_factory=dict)  # durable_c, impact units
    coverage: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    dividend: dict[tuple[str, int], pulp.LpVariable] = field(default_factory=dict)
    dropped: dict[str, pulp.LpConstraint] = field(default_factory=dict)  # rows of families off
    session: object = None  # the solver session that follows this model's changes, if any
    reused: dict[str, pulp.LpVariable] = field(default_factory=dict)  # build_model(..., reuse=)
    rows_of: dict[str, list[str]] = field(default_factory=dict)  # rows each family function built
    sketch: dict[str, tuple[dict, float]] | None = None  # a partial rebuild's rows (build_model)
    link_rows: list[pulp.LpConstraint] | None = None  # each spend column's link (``links``)
    keyed: dict = field(default_factory=dict)  # what depends on the columns' keys alone (``once``)

    # ------------------------------------------------------------------ the inputs, by name
    @property
    def scenario(self) -> Scenario:
        """The scenario as solved (its numbers are the inputs')."""
        return self.inputs.scenario

    @property
    def curves(self) -> Curves:
        return self.inputs.curves

    @property
    def catalogue(self) -> Catalogue:
        return self.inputs.catalogue

    @property
    def countries(self) -> list[str]:
        return list(self.inputs.countries)

    @property
    def regions(self) -> dict[str, str]:
        return self.inputs.regions

    @property
    def weak_governance(self) -> list[str]:
        return list(self.inputs.weak_governance)

    @property
    def caps(self) -> dict[str, float] | None:
        return self.inputs.caps

    @property
    def host_caps(self) -> dict[str, float]:
        return self.inputs.host_caps

    # ------------------------------------------------------------------ changes (optimizer.changes)
    def set_rhs(self, name: str, value: float) -> None:
        """Row ``name``'s right-hand side, in model units (US$ million, countries, persons)."""
        changes.set_rhs(self, name, value)

    def set_family(self, family: str, on: bool) -> None:
        """Switch a rule family's rows off (dropped) or back on."""
        changes.set_family(self, family, on)

    def set_col_bounds(self, names: list[str], lower: float, upper: float) -> None:
        """Columns ``names`` get bounds [lower, upper] (model units)."""
        changes.set_col_bounds(self, names, lower, upper)

    def set_costs(self, costs: dict[str, float]) -> None:
        """Objective coefficients by column name (impact units per model unit)."""
        changes.set_costs(self, costs)

    def set_inputs(self, inputs: ModelInputs) -> None:
        """New inputs of the same structure (a draw of the curves), applied in place."""
        changes.set_inputs(self, inputs)

    def links(self) -> list[pulp.LpConstraint]:
        """Each spend column's selection link (``define_selection_link``), found once: the
        links are never rebuilt (a draw sets their coefficients in place)."""
        if self.link_rows is None:
            rows = self.problem._constraints
            self.link_rows = [rows[link_name(var)] for var in self.columns["var"]]
        return self.link_rows

    @property
    def binaries(self) -> list[pulp.LpVariable]:
        """Every integer column: the focus-country selection, then the tipping points."""
        return [*self.select.values(), *self.tipped.values()]

    def new_var(self, name: str) -> pulp.LpVariable:
        """A non-negative continuous column, recorded in ``variables`` (PuLP would otherwise
        have to find it by walking every row)."""
        var = self.column(name, lowBound=0)
        self.variables.append(var)
        return var

    def column(
        self, name: str, lowBound: float | None, upBound: float | None = None, cat=pulp.LpContinuous
    ) -> pulp.LpVariable:
        """A new PuLP variable, or the one of that name in ``reused`` with these bounds."""
        var = self.reused.get(name)
        if var is None:
            return self.problem.add_variable(name, lowBound=lowBound, upBound=upBound, cat=cat)
        var.lowBound, var.upBound = (0, 1) if cat == pulp.LpBinary else (lowBound, upBound)
        return var

    # ------------------------------------------------------------------ groups of spend variables
    def once(self, key: str, make):
        """``make()``, made once for this model and the partial rebuilds of its draws
        (``build_model(only=...)`` shares them): for what depends on the columns' keys alone
        (country, component, pillar, metric, year, segment), which a draw never changes
        (``ModelInputs.differs_only_in_curves``), never on their numbers."""
        if key not in self.keyed:
            self.keyed[key] = make()
        return self.keyed[key]

    def groups(self, by: list[str]) -> dict[tuple, list[pulp.LpVariable]]:
        """The spend columns by the values of ``by`` (sorted keys; each group in column order)."""
        index = self.once(f"groups {by}", lambda: self.columns.groupby(by, sort=True).indices)
        var = self.columns["var"].to_numpy()
        return {
            (key if isinstance(key, tuple) else (key,)): var[index[key]].tolist()
            for key in sorted(index)
        }

    def define(self, name: str, terms: dict, sense: int = EQ) -> None:
        """A structural row (aggregate definitions, selection link): never relaxed."""
        if self.sketch is not None:
            self.sketch[name] = (terms, 0.0)
            return
        self.problem.addConstraint(pulp.LpConstraint(expression(terms), sense, name, 0.0))

    def add(self, family: str, name: str, terms: dict, sense: int, rhs: float) -> None:
        """Add one named row to a family; in elastic mode with a slack that relaxes it."""
        if self.sketch is not None:  # never elastic (``changes.set_inputs``)
            self.sketch[name] = (terms, -rhs)
            self.families[family].append(name)
            return
        expr = expression(terms)
        if self.elastic:
            if sense in (LE, EQ):
                s = self.new_var(f"slack_{name}_down")
                expr -= s  # expr - s <= rhs: the row may be exceeded by s
                self.slacks[f"{name}_down"] = s
            if sense in (GE, EQ):
                s = self.new_var(f"slack_{name}_up")
                expr += s
                self.slacks[f"{name}_up"] = s
        self.problem.addConstraint(pulp.LpConstraint(expr, sense, name, rhs))
        self.families[family].append(name)


def link_name(var: pulp.LpVariable) -> str:
    """The name of a spend column's selection link (``define_selection_link``)."""
    return f"link_{var.name}"


def country_of(name: str, countries: set[str]) -> str:
    """The country a row or column is named after (``x_THA_shelter_2016_s3``: THA), "" if none."""
    return next((part for part in name.split("_") if part in countries), "")


def _ones(variables: list[pulp.LpVariable], coef: float = 1.0) -> dict:
    return dict.fromkeys(variables, coef)


def expression(terms: dict) -> pulp.LpAffineExpression:
    """``pulp.LpAffineExpression(terms)`` without hashing each variable again: PuLP's variables
    hash in Python, and a dict's update copies the hashes ``terms`` holds (a draw's objective:
    20,000 terms, 12 ms)."""
    expr = pulp.LpAffineExpression()
    expr.update(terms)
    return expr


# ---------------------------------------------------------------------------- the families
# Aggregates (defined once in ``define_aggregates``) keep the rule rows short:
#   year_{c}_{t} = spend in country c, year t      total_{c} = spend in country c over the horizon
#   pillar_{c}_{p}, government_{c}, me_{c}, tag_{g} = spend on those components


def define_aggregates(m: AllocationModel) -> None:
    """Definition rows (structural: never relaxed) for the aggregate spend variables."""
    m.total = {c: m.new_var(f"total_{c}") for c in m.countries}
    groups = m.groups(["iso3", "year"])  # a country may have no columns (sector gating)
    for iso in sorted(m.countries):
        for year in m.inputs.years:
            m.year_spend[(iso, year)] = v = m.new_var(f"year_{iso}_{year}")
            m.define(f"def_year_{iso}_{year}", {**_ones(groups.get((iso, year), [])), v: -1.0})
    by_country: dict[str, list] = defaultdict(list)
    for (iso, _year), v in m.year_spend.items():
        by_country[iso].append(v)
    for iso in m.countries:
        m.define(f"def_total_{iso}", {**_ones(by_country[iso]), m.total[iso]: -1.0})


def _aggregate(m: AllocationModel, name: str, variables: list) -> pulp.LpVariable:
    v = m.new_var(name)
    m.define(f"def_{name}", {**_ones(variables), v: -1.0})
    return v


def define_selection_link(m: AllocationModel) -> None:
    """x_ckts <= width * y_c: no spend without a compact.

    Implied by compact_max, but it makes the LP relaxation much tighter (each segment needs a whole
    compact). Measured on the stress scenario: 5 s to optimal with it, 34 s with the link on the
    first segment only, 37 s with one link per (country, component, segment) summed over years."""
    cols = m.columns
    columns = (cols[c].tolist() for c in ("var", "iso3", "width_usd"))
    for var, iso, width in zip(*columns, strict=True):
        m.define(link_name(var), {var: 1.0, m.select[iso]: -width / UNIT}, LE)


def define_budget(m: AllocationModel) -> None:
    """US money: all of the spend, or with host co-financing its US share (optimizer/compact.py)."""
    b = m.inputs.budget
    cofinanced = any(h > 0 for h in m.inputs.host_share.values())
    terms = compact.budget_terms(m) if cofinanced else _ones(list(m.total.values()))
    m.add("budget", "budget_total", terms, LE, b.total_usd / UNIT)
    if b.annual_cap_usd is not None:
        for year in m.inputs.years:
            ys = [m.year_spend[(c, year)] for c in m.countries]
            terms = compact.budget_terms(m, year) if cofinanced else _ones(ys)
            m.add("annual_cap", f"annual_cap_{year}", terms, LE, b.annual_cap_usd / UNIT)


def define_compact_size(m: AllocationModel) -> None:
    """0 or at least the minimum (the tipping point); at most the absorptive capacity."""
    sel = m.inputs.selection
    for iso in m.countries:
        total, y = m.total[iso], m.select[iso]
        if sel.min_compact_usd > 0:
            m.add(
                "compact_min",
                f"compact_min_{iso}",
                {total: 1.0, y: -sel.min_compact_usd / UNIT},
                GE,
                0,
            )
        m.add(
            "compact_max", f"compact_max_{iso}", {total: 1.0, y: -sel.max_compact_usd / UNIT}, LE, 0
        )


def define_country_count(m: AllocationModel) -> None:
    sel = m.inputs.selection
    ys = list(m.select.values())
    if sel.min_countries > 0:
        m.add("country_count", "countries_min", _ones(ys), GE, sel.min_countries)
    m.add("country_count", "countries_max", _ones(ys), LE, sel.max_countries)


def define_locks(m: AllocationModel) -> None:
    sel = m.inputs.selection
    for iso in sel.lock_in:
        m.add("lock_in", f"lock_in_{iso}", {m.select[iso]: 1.0}, EQ, 1.0)
    for iso in sel.lock_out:
        if iso in m.select:
            m.add("lock_out", f"lock_out_{iso}", {m.select[iso]: 1.0}, EQ, 0.0)


def define_region_limits(m: AllocationModel) -> None:
    for region, limit in sorted(m.inputs.selection.region_max.items()):
        ys = [m.select[c] for c in m.countries if m.regions[c] == region]
        if ys:
            m.add("region_max", f"region_max_{region}", _ones(ys), LE, limit)


def define_pillar_floors(m: AllocationModel) -> None:
    """Comprehensive approach: each pillar gets at least its share of every compact."""
    floors = {p: s for p, s in sorted(m.inputs.policy.pillar_floor_share.items()) if s > 0}
    if not floors:
        return
    by_pillar = m.groups(["iso3", "pillar"])
    for iso in m.countries:
        for pillar, share in floors.items():
            part = _aggregate(m, f"pillar_{iso}_{pillar}", by_pillar.get((iso, pillar), []))
            terms = {part: 1.0, m.total[iso]: -share}
            m.add("pillar_floor", f"pillar_floor_{iso}_{pillar}", terms, GE, 0.0)


def define_earmarks(m: AllocationModel) -> None:
    """At least a share of the whole portfolio on components with a tag (child protection, labor)."""
    totals = list(m.total.values())
    for tag, share in sorted(m.inputs.policy.earmark_share.items()):
        if share > 0:
            tagged = list(m.columns.loc[m.columns["tags"].map(lambda t, tag=tag: tag in t), "var"])
            part = _aggregate(m, f"tag_{tag}", tagged)
            m.add("earmark", f"earmark_{tag}", {part: 1.0, **_ones(totals, -share)}, GE, 0.0)


def define_government_cap(m: AllocationModel) -> None:
    """Where control of corruption is weak, cap the share that goes through the government."""
    cap = m.inputs.policy.government_cap_share
    if cap is None:
        return
    by_channel = m.groups(["iso3", "channel"])
    for iso in m.weak_governance:
        part = _aggregate(m, f"government_{iso}", by_channel.get((iso, GOVERNMENT), []))
        m.add("government_cap", f"government_cap_{iso}", {part: 1.0, m.total[iso]: -cap}, LE, 0.0)


def define_me_floor(m: AllocationModel) -> None:
    """Baseline data, monitoring and evaluation: the compact's benchmarks need them."""
    share = m.inputs.policy.me_floor_share
    if share <= 0:
        return
    me = m.columns[m.columns["tags"].map(lambda t: ME_TAG in t)].groupby("iso3")["var"]
    parts = {iso: list(g) for iso, g in me}
    for iso in m.countries:
        part = _aggregate(m, f"me_{iso}", parts.get(iso, []))
        m.add("me_floor", f"me_floor_{iso}", {part: 1.0, m.total[iso]: -share}, GE, 0.0)


def _year_on_year(m: AllocationModel, family: str, factor: float, sense: int) -> None:
    """spend(c, t) - factor * spend(c, t - 1)  (<= or >=)  0, for every country after year 1."""
    for iso in m.countries:
        for prev, year in itertools.pairwise(m.inputs.years):
            terms = {m.year_spend[(iso, year)]: 1.0, m.year_spend[(iso, prev)]: -factor}
            m.add(family, f"{family}_{iso}_{year}", terms, sense, 0.0)


def define_ramp_up(m: AllocationModel) -> None:
    """spend(c, t) <= (1 + g) * spend(c, t - 1) after year 1: compacts build up capacity."""
    if m.inputs.policy.ramp_up is not None:
        _year_on_year(m, "ramp_up", 1.0 + m.inputs.policy.ramp_up, LE)


def define_ramp_down(m: AllocationModel) -> None:
    """spend(c, t) >= (1 - d) * spend(c, t - 1): a compact is not dropped midway."""
    if m.inputs.policy.ramp_down is not None:
        _year_on_year(m, "ramp_down", 1.0 - m.inputs.policy.ramp_down, GE)


FAMILIES = [
    define_aggregates,
    define_selection_link,
    define_budget,
    define_compact_size,
    define_country_count,
    define_locks,
    define_region_limits,
    define_pillar_floors,
    define_earmarks,
    define_government_cap,
    define_me_floor,
    define_ramp_up,
    define_ramp_down,
    *compact.FAMILIES,  # funding streams and host co-financing (optimizer/compact.py)
]  # then focus.FAMILIES (optimizer/focus.py), added in build_model: the two modules import each other


# ---------------------------------------------------------------------------- building


def build_model(
    inputs: ModelInputs,
    elastic: bool = False,
    links: bool = True,
    reuse: AllocationModel | None = None,
    only: tuple | None = None,
) -> AllocationModel:
    """The PuLP problem for ``inputs`` (``optimizer.inputs.model_inputs``); without ``links``,
    no selection-link rows; with ``reuse``, on that model's variables (same names), their bounds
    set from ``inputs`` (``changes.set_inputs``: a new draw on a model of the same structure);
    with ``only`` (and ``reuse``), the rows of those family functions alone, on ``reuse``'s
    spend columns (their bounds left as they are) and aggregates, and the objective: the rows
    as (terms, constant) in ``sketch``, not PuLP rows (the numbers a draw copies onto the
    model's own rows)."""
    problem = pulp.LpProblem(
        f"tipfocus_{inputs.source.name}", pulp.LpMinimize if elastic else pulp.LpMaximize
    )
    spend = None if only is None else reuse.columns["var"]  # kept as they are (set_inputs)
    reused = [] if reuse is None else reuse.variables[0 if spend is None else len(spend) :]
    reused = {v.name: v for v in reused}
    m = AllocationModel(problem, inputs, inputs.columns.copy(), {}, elastic=elastic, reused=reused)
    cols = m.columns
    cols["var"] = (
        spend.to_numpy()
        if spend is not None
        else [
            m.column(f"x_{i}_{k}_{t}_s{s}", lowBound=0, upBound=w / UNIT)
            for i, k, t, s, w in zip(
                *(cols[c].tolist() for c in ("iso3", "component", "year", "segment", "width_usd")),
                strict=True,
            )
        ]
    )
    m.select = {iso: m.column(f"y_{iso}", 0, 1, cat=pulp.LpBinary) for iso in inputs.countries}
    m.variables = [*cols["var"], *m.select.values()]
    families = [*FAMILIES, *focus.FAMILIES]
    if only is not None:
        m.total, m.year_spend, m.sketch = reuse.total, reuse.year_spend, {}
        m.keyed = reuse.keyed  # the same columns' keys: only their numbers differ
        families = [define for define in families if define in only]
    rows = problem._constraints if m.sketch is None else m.sketch
    made = []
    for define in families:
        if links or define is not define_selection_link:
            define(m)
            made.append((define.__name__, len(rows)))
    names, ends = list(rows), [end for _, end in made]
    starts = [0, *ends][: len(ends)]
    m.rows_of = {name: names[a:b] for (name, b), a in zip(made, starts, strict=True)}
    problem.setObjective(elastic_objective(m) if elastic else impact_objective(m))
    changes.replay(m)
    m.reused = {}
    return m


COUNT_FAMILIES = frozenset({"country_count", "lock_in", "lock_out", "region_max"})
OUTCOME_FAMILIES = frozenset({"aftercare"})  # rows in outcome units (persons), not money


def elastic_objective(m: AllocationModel) -> pulp.LpAffineExpression:
    """Total rule violation: US$ million for money rules; for count rules a country weighs as much
    as the largest compact, so the explanation does not just drop every compact."""
    per_country = max(1.0, m.inputs.selection.max_compact_usd / UNIT)
    family = {name: fam for fam, names in m.families.items() for name in names}
    terms = {}
    for key, var in m.slacks.items():
        row = key.rsplit("_", 1)[0]
        terms[var] = per_country if family.get(row) in COUNT_FAMILIES else 1.0
    return pulp.LpAffineExpression(terms)


def impact_objective(m: AllocationModel) -> pulp.LpAffineExpression:
    """Discounted weighted outcomes (per model money unit), once-counted coverage, durable
    outcomes of tipped compacts, plus the tipping bonus."""
    cols = m.columns
    delta = 1.0 / (1.0 + m.inputs.budget.discount_rate)
    t = cols["year"] - m.inputs.budget.first_year
    pair = m.once("pairs", lambda: cols.groupby(["iso3", "component", "year"], sort=True).ngroup())
    tie = 1.0 - TIE_BREAK * pair / max(1, pair.max())
    per_year = ~cols["metric"].isin(focus.once_metrics(m))
    coef = cols["value_slope"] * UNIT * delta**t * tie * per_year
    terms = dict(zip(cols["var"].tolist(), coef.tolist(), strict=True))
    terms.update(focus.objective_terms(m))
    bonus = m.inputs.source.objective.tipping_bonus
    if bonus > 0:
        terms.update(_ones(list(m.select.values()), bonus))
    return expression(terms)
