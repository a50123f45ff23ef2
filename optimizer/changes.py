"""Changes to a built model without a rebuild: the setters behind ``AllocationModel.set_*``.

Each change is made three times, kept in step: on the PuLP problem (the model of record: LP/MPS
export and CBC see it), on the model's solver session if it has one (``optimizer.session``: the
next solve starts from the last basis) and in ``model.inputs`` (so ``engine.collect`` reports the
numbers solved, and a cold build of the inputs, which ``replay`` finishes, is the same problem).
"""

from __future__ import annotations

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
    read the curves (``focus.CURVE_FAMILIES``)."""
    from optimizer.inputs import CURVE_NUMBERS
    from optimizer.model import UNIT, build_model

    bounds = [(v.lowBound, v.upBound) for v in m.variables]
    only = _curve_families(m, inputs)
    # The selection links (x <= width * y, one row a spend column: half the rows) are left out of
    # the scratch build and set from the widths here (measured on the baseline: 40% of the build).
    try:
        scratch = build_model(inputs, links=False, reuse=m, only=only)
        links = [f"link_{var.name}" for var in m.columns["var"]]
        if only is None:
            skip = set(links)
            old_rows = {n: con for n, con in m.problem._constraints.items() if n not in skip}
            same = len(scratch.variables) == len(m.variables) and all(
                a is b for a, b in zip(scratch.variables, m.variables, strict=True)
            )
        else:
            wanted = {define.__name__ for define in only}
            rows = m.problem._constraints
            old_rows = {n: rows[n] for f, names in m.rows_of.items() if f in wanted for n in names}
            mine = {v.name: v for v in m.variables}
            same = all(mine.get(v.name) is v for v in scratch.variables)
        new_rows = scratch.problem._constraints if scratch.sketch is None else scratch.sketch
        if list(old_rows) != list(new_rows) or not same:
            raise RuntimeError("new inputs of another structure: build a new model instead")
    except BaseException:
        for var, (low, up) in zip(m.variables, bounds, strict=True):
            var.lowBound, var.upBound = low, up
        raise
    changed_rows, coeffs = [], []
    widths, isos = scratch.columns["width_usd"].tolist(), m.columns["iso3"].tolist()
    moved = np.flatnonzero(m.columns["width_usd"].to_numpy() != scratch.columns["width_usd"])
    for j in moved.tolist():
        select = m.select[isos[j]]
        coef = -widths[j] / UNIT
        m.problem._constraints[links[j]].expr[select] = coef
        coeffs.append((links[j], select.name, coef))
    for name, row in new_rows.items():
        terms, constant = (row.expr, row.constant) if scratch.sketch is None else row
        old = old_rows[name]
        if old.constant != constant:
            old.constant = constant
            changed_rows.append(name)
        old_expr = old.expr
        for var, coef in terms.items():  # the same variables: a key of both
            if old_expr.get(var) != coef:
                old_expr[var] = coef
                coeffs.append((name, var.name, coef))
    cols, lows, ups = [], [], []
    for var, (low, up) in zip(m.variables, bounds, strict=True):
        if (low, up) != (var.lowBound, var.upBound):
            cols.append(var.name)
            lows.append(-INF if var.lowBound is None else var.lowBound)
            ups.append(INF if var.upBound is None else var.upBound)
    cost = {v.name: c for v, c in scratch.problem.objective.items()}
    m.problem.setObjective(scratch.problem.objective)
    m.columns[CURVE_NUMBERS] = scratch.columns[CURVE_NUMBERS].to_numpy()
    m.inputs = scratch.inputs
    session = m.session
    if session is None:
        return
    session.set_cols(cols, np.array(lows), np.array(ups))
    session.set_costs(list(session.col), np.array([cost.get(n, 0.0) for n in session.col]))
    if coeffs:
        session.set_coeffs(
            np.array([session.row[r] for r, _, _ in coeffs], dtype=np.int32),
            np.array([session.col[c] for _, c, _ in coeffs], dtype=np.int32),
            np.array([v for _, _, v in coeffs], dtype=float),
        )
    _rows(m, changed_rows)
