"""Changes to a built model without a rebuild: the setters behind ``AllocationModel.set_*``.

Each change is made three times, kept in step: on the PuLP problem (the model of record: LP/MPS
export and CBC see it), on the model's solver session if it has one (``optimizer.session``: the
next solve starts from the last basis) and in ``model.inputs`` (so ``engine.collect`` reports the
numbers solved, and a cold build of the inputs, which ``replay`` finishes, is the same problem).
"""

from __future__ import annotations

import operator
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pulp

if TYPE_CHECKING:
    from optimizer.inputs import ModelInputs
    from optimizer.model import AllocationModel

INF = float("inf")


def _bounds(con: pulp.LpConstraint, rhs: float) -> tuple[float, float]:
    if con.sense == pulp.LpConstraintLE:
        return -INF, rhs
    if con.sense == pulp.LpConstraintGE:
        return rhs, INF
    return rhs, rhs


def _rows(m: AllocationModel, names: list[str]) -> None:
    """Tell the session the rows' bounds as the PuLP problem has them (a dropped row: free)."""
    if m.session is None or not names:
        return
    bounds = [
        (-INF, INF) if name in m.dropped else _bounds(con := _row(m, name), -con.constant)
        for name in names
    ]
    lower, upper = (np.array(side, dtype=float) for side in zip(*bounds, strict=True))
    m.session.set_rows(names, lower, upper)


def _row(m: AllocationModel, name: str) -> pulp.LpConstraint:
    con = m.problem.get_constraint_by_name(name) or m.dropped.get(name)
    if con is None:
        raise KeyError(f"no row {name!r} in the model")
    return con


def _columns(m: AllocationModel) -> dict[str, pulp.LpVariable]:
    return {v.name: v for v in m.variables}


def set_rhs(m: AllocationModel, name: str, value: float) -> None:
    con = _row(m, name)
    con.constant = -float(value)
    m.inputs = m.inputs.with_rhs(name, value)
    _rows(m, [name])


def set_family(m: AllocationModel, family: str, on: bool) -> None:
    names = list(m.families.get(family, []))
    if on:
        for name in names:
            con = m.dropped.pop(name, None)
            if con is not None:
                m.problem.addConstraint(con, name)
        m.inputs = replace(m.inputs, off=m.inputs.off - {family})
    else:
        for name in names:
            if name not in m.dropped:
                m.dropped[name] = m.problem._constraints.pop(name)  # PuLP has no public remove
        m.inputs = replace(m.inputs, off=m.inputs.off | {family})
    _rows(m, names)


def set_col_bounds(m: AllocationModel, names: list[str], lower: float, upper: float) -> None:
    variables = _columns(m)
    for name in names:
        variables[name].lowBound, variables[name].upBound = lower, upper
    bounds = {**m.inputs.col_bounds, **dict.fromkeys(names, (lower, upper))}
    m.inputs = replace(m.inputs, col_bounds=bounds)
    if m.session is not None:
        m.session.set_cols(names, np.full(len(names), lower), np.full(len(names), upper))


def set_costs(m: AllocationModel, costs: dict[str, float]) -> None:
    variables = _columns(m)
    objective = m.problem.objective
    for name, cost in costs.items():
        objective[variables[name]] = cost
    m.inputs = replace(m.inputs, costs={**m.inputs.costs, **costs})
    if m.session is not None:
        m.session.set_costs(list(costs), np.array(list(costs.values()), dtype=float))


def _curve_families(m: AllocationModel, inputs: ModelInputs) -> tuple | None:
    """The families to rebuild for ``inputs``: those that read the curves where the inputs
    differ from the model's only in their curves and neither records a change (``replay``);
    else None, every family."""
    from optimizer.focus import CURVE_FAMILIES

    recorded = [(i.row_rhs, i.off, i.col_bounds, i.costs) for i in (m.inputs, inputs)]
    if m.elastic or any(any(parts) for parts in recorded):
        return None
    return CURVE_FAMILIES if m.inputs.differs_only_in_curves(inputs) else None


def replay(m: AllocationModel) -> None:
    """After a cold build: the changes ``m.inputs`` records (its session is not made yet)."""
    inputs = m.inputs
    for name, value in inputs.row_rhs.items():
        _row(m, name).constant = -float(value)
    for family in sorted(inputs.off):
        for name in m.families.get(family, []):
            m.dropped[name] = m.problem._constraints.pop(name)
    if inputs.col_bounds or inputs.costs:
        variables = _columns(m)
        for name, (low, up) in inputs.col_bounds.items():
            variables[name].lowBound, variables[name].upBound = low, up
        for name, cost in inputs.costs.items():
            m.problem.objective[variables[name]] = cost


def set_inputs(m: AllocationModel, inputs: ModelInputs) -> None:
    """New inputs of the same structure, applied in place: a scratch build of ``inputs`` on the
    model's own variables (which sets their bounds), then every number that differs (column
    bounds, objective coefficients, matrix coefficients, right-hand sides) copied onto the PuLP
    problem and told to the session. The curves, rules and countries change; the rows and
    columns do not (a different structure is a programming error). Inputs that differ only in
    their curves (a draw, on a model with no change recorded) rebuild only the families that
    read the curves (``focus.CURVE_FAMILIES``: ``_set_curves``)."""
    from optimizer.model import build_model

    only = _curve_families(m, inputs)
    if only is not None:
        _set_curves(m, inputs, only)
        return
    bounds = [(v.lowBound, v.upBound) for v in m.variables]
    # The selection links (x <= width * y, one row a spend column: half the rows) are left out of
    # the scratch build and set from the widths (``_Changes.widths``; measured on the baseline:
    # 40% of the build).
    try:
        scratch = build_model(inputs, links=False, reuse=m)
        skip = {con.name for con in m.links()}
        old_rows = {n: con for n, con in m.problem._constraints.items() if n not in skip}
        new_rows = scratch.problem._constraints
        same = len(scratch.variables) == len(m.variables) and all(
            a is b for a, b in zip(scratch.variables, m.variables, strict=True)
        )
        if list(old_rows) != list(new_rows) or not same:
            raise RuntimeError("new inputs of another structure: build a new model instead")
    except BaseException:
        _restore(m.variables, bounds)
        raise
    changes = _Changes(m)
    changes.widths(scratch, set_bounds=False)
    changes.rows({name: (row.expr, row.constant) for name, row in new_rows.items()}, old_rows)
    changes.bounds(m.variables, bounds)
    changes.apply(scratch)


def _set_curves(m: AllocationModel, inputs: ModelInputs, only: tuple) -> None:
    """``set_inputs`` for inputs that differ only in their curves: the families ``only`` rebuilt
    as numbers (``build_model``'s sketch) on the model's own variables; the spend columns keep
    their variables and get their widths here (``_Changes.widths``)."""
    from optimizer.model import build_model

    spend = m.columns["var"].tolist()
    rest = m.variables[len(spend) :]  # every other column (build_model makes the spend first)
    bounds = [(v.lowBound, v.upBound) for v in rest]
    try:
        scratch = build_model(inputs, links=False, reuse=m, only=only)
        wanted = {define.__name__ for define in only}
        rows = m.problem._constraints
        old_rows = {n: rows[n] for f, names in m.rows_of.items() if f in wanted for n in names}
        mine = {v.name: v for v in rest}
        made = scratch.variables[len(spend) :]
        same = all(a is b for a, b in zip(scratch.variables, spend, strict=False))
        same = same and all(mine.get(v.name) is v for v in made)
        if list(old_rows) != list(scratch.sketch) or not same:
            raise RuntimeError("new inputs of another structure: build a new model instead")
    except BaseException:
        _restore(rest, bounds)
        raise
    changes = _Changes(m)
    changes.widths(scratch, set_bounds=True)
    changes.rows(scratch.sketch, old_rows)
    changes.bounds(rest, bounds)
    changes.apply(scratch)


def _restore(variables: list, bounds: list[tuple]) -> None:
    for var, (low, up) in zip(variables, bounds, strict=True):
        var.lowBound, var.upBound = low, up


class _Changes:
    """The numbers ``set_inputs`` changes, copied onto the PuLP problem as they are found and
    told to the session together (``apply``)."""

    def __init__(self, m: AllocationModel):
        self.m = m
        self.spend_moved = np.array([], dtype=np.int64)  # spend columns whose width moved
        self.spend_upper = np.array([])  # and their new upper bounds (model units)
        self.spend_bounds = False  # whether those bounds are set here (else found by ``bounds``)
        self.coeff_rows: list[str] = []  # a row's name for each changed coefficient
        self.coeff_cols: list[str] = []
        self.coeff_values: list[float] = []
        self.changed_rows: list[str] = []  # rows whose right-hand side changed
        self.cols: list[str] = []  # other columns whose bounds changed
        self.lows: list[float] = []
        self.ups: list[float] = []

    def widths(self, scratch: AllocationModel, set_bounds: bool) -> None:
        """The spend columns' widths: each column's upper bound (``set_bounds``: else the
        scratch build set it) and its link's coefficient on the selection (-width)."""
        from optimizer.model import UNIT

        m = self.m
        old, new = m.columns["width_usd"].to_numpy(), scratch.columns["width_usd"].to_numpy()
        moved = np.flatnonzero(old != new)
        upper = new[moved] / UNIT
        every = m.links()
        links = [every[j] for j in moved.tolist()]
        spend = m.columns["var"].to_numpy()[moved].tolist()
        select = [m.select[iso] for iso in m.columns["iso3"].to_numpy()[moved].tolist()]
        for var, link, y, up in zip(spend, links, select, upper.tolist(), strict=True):
            if set_bounds:
                var.upBound = up
            link.expr[y] = -up
        self.spend_moved, self.spend_upper = moved, upper
        self.spend_bounds = set_bounds

    def rows(self, new_rows: dict, old_rows: dict) -> None:
        """Rows as (terms, constant) onto the model's rows of those names. Terms in the order
        of the model's own (a draw: the same build) are compared value by value and copied in
        one update (PuLP's variables hash in Python: a lookup a term cost a draw 40 ms)."""
        for name, (terms, constant) in new_rows.items():
            old = old_rows[name]
            if old.constant != constant:
                old.constant = constant
                self.changed_rows.append(name)
            old_expr = old.expr
            if len(old_expr) == len(terms) and all(map(operator.is_, old_expr, terms)):
                new_values = list(terms.values())
                changed = [
                    i
                    for i, (a, b) in enumerate(zip(old_expr.values(), new_values, strict=True))
                    if a != b
                ]
                if changed:
                    variables = list(terms)
                    old_expr.update(terms)  # a dict's own hashes: no variable hashed again
                    self.coeff_rows += [name] * len(changed)
                    self.coeff_cols += [variables[i].name for i in changed]
                    self.coeff_values += [new_values[i] for i in changed]
                continue
            for var, coef in terms.items():  # the same variables: a key of both
                if old_expr.get(var) != coef:
                    old_expr[var] = coef
                    self.coeff_rows.append(name)
                    self.coeff_cols.append(var.name)
                    self.coeff_values.append(coef)

    def bounds(self, variables: list, before: list[tuple]) -> None:
        for var, (low, up) in zip(variables, before, strict=True):
            if (low, up) != (var.lowBound, var.upBound):
                self.cols.append(var.name)
                self.lows.append(-INF if var.lowBound is None else var.lowBound)
                self.ups.append(INF if var.upBound is None else var.upBound)

    def apply(self, scratch: AllocationModel) -> None:
        """The scratch build's objective and inputs become the model's; the session is told."""
        from optimizer.inputs import CURVE_NUMBERS

        m = self.m
        m.problem.setObjective(scratch.problem.objective)
        m.columns[CURVE_NUMBERS] = scratch.columns[CURVE_NUMBERS].to_numpy()
        m.inputs = scratch.inputs
        session = m.session
        if session is None:
            return
        if self.spend_bounds:
            spend = session.spend_cols[self.spend_moved].astype(np.int32)
            session.set_cols_at(spend, session.col_lower[spend], self.spend_upper)
        session.set_cols(self.cols, np.array(self.lows), np.array(self.ups))
        objective = scratch.problem.objective
        costs = np.zeros(len(session.names))  # a column not in the objective costs 0
        costs[session.cols_of(list(objective))] = list(objective.values())
        session.set_costs_at(np.arange(len(costs), dtype=np.int32), costs)
        link_rows, link_selects = session.links()
        moved = self.spend_moved
        session.set_coeffs(  # the links' and the rest together: one hand-over (Session.set_coeffs)
            np.concatenate([link_rows[moved], session.rows_at(self.coeff_rows)]),
            np.concatenate([link_selects[moved], session.cols_at(self.coeff_cols)]),
            np.concatenate([-self.spend_upper, np.array(self.coeff_values, dtype=float)]),
        )
        _rows(m, self.changed_rows)
