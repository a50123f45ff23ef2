"""Temporary changes and re-solves for the trade-off analyses, on a solver session.

``Resolver`` is a thin layer over ``optimizer.session.Session`` (one warm HiGHS copy of a built
model, the one way to re-solve): an analysis changes row bounds, column bounds or objective
coefficients for a block (undone on exit), solves (``Session.search``: the relaxation first, a
small warm branch and bound, HiGHS's MIP beyond ``NODE_LIMIT`` nodes) and reads a ``Point``.
Nothing is written on the PuLP model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from optimizer.model import UNIT, AllocationModel
from optimizer.scenario import SolverSection
from optimizer.session import NODE_LIMIT, Session
from optimizer.solve import Status

__all__ = ["NODE_LIMIT", "Point", "Resolver"]


@dataclass(frozen=True)
class Point:
    """One re-solve: status, objective (impact units) and the focus countries chosen."""

    status: Status
    objective: float | None
    selected: tuple[str, ...]
    spend_usd: float | None = None  # money allocated, US dollars

    @property
    def ok(self) -> bool:
        return self.status.has_solution


class Resolver:
    """The model on its own session, with the PuLP names mapped to rows and columns."""

    def __init__(self, model: AllocationModel, settings: SolverSection):
        self.model = model
        self.session = Session(model, settings)
        session = self.session
        self.settings, self.highs, self.variables = settings, session.highs, session.variables
        self.is_mip, self.col, self.row = session.is_mip, session.col, session.row
        self.row_lower, self.row_upper = session.row_lower, session.row_upper
        self.col_lower, self.col_upper = session.col_lower, session.col_upper
        self.cost, self.sign = session.cost, session.sign
        # the countries an analysis may choose: a locked-out one is held at 0 by its row
        locked_out = set(model.scenario.selection.lock_out)
        self.select_cols = {c: i for c, i in session.select_cols.items() if c not in locked_out}
        self.integer_cols = session.integer_cols
        self.spend_cols = session.spend_cols
        self.values: np.ndarray | None = None  # the last solve's column values

    @property
    def solves(self) -> int:
        return self.session.solves

    # ------------------------------------------------------------------ changes, undone on exit
    @contextlib.contextmanager
    def rows_bounds(self, names: list[str], lower: float, upper: float) -> Iterator[None]:
        """Rows ``names`` get bounds [lower, upper] (model units) for the block."""
        index = np.array([self.row[n] for n in names], dtype=np.int32)
        self._rows(index, np.full(len(index), lower), np.full(len(index), upper))
        try:
            yield
        finally:
            self._rows(index, self.row_lower[index], self.row_upper[index])

    @contextlib.contextmanager
    def relaxed(self, names: list[str]) -> Iterator[None]:
        """Rows ``names`` dropped (free) for the block."""
        with self.rows_bounds(names, -np.inf, np.inf):
            yield

    @contextlib.contextmanager
    def cols_bounds(self, index: np.ndarray, lower, upper) -> Iterator[None]:
        index = np.asarray(index, dtype=np.int32)
        low = np.broadcast_to(np.asarray(lower, dtype=float), index.shape).copy()
        up = np.broadcast_to(np.asarray(upper, dtype=float), index.shape).copy()
        self.highs.changeColsBounds(len(index), index, low, up)
        try:
            yield
        finally:
            self.highs.changeColsBounds(
                len(index), index, self.col_lower[index], self.col_upper[index]
            )

    @contextlib.contextmanager
    def costs_scaled(self, index: np.ndarray, factor: float) -> Iterator[None]:
        """Objective coefficients of columns ``index`` multiplied by ``factor`` for the block."""
        index = np.asarray(index, dtype=np.int32)
        self.highs.changeColsCost(len(index), index, self.cost[index] * factor)
        try:
            yield
        finally:
            self.highs.changeColsCost(len(index), index, self.cost[index])

    def set_rows_upper(self, names: list[str], upper: float) -> None:
        """A lasting change of right-hand side (frontier sweeps): rows ``names`` get ``upper``."""
        index = np.array([self.row[n] for n in names], dtype=np.int32)
        self._rows(index, self.row_lower[index], np.full(len(index), upper))

    def set_rows_lower(self, names: list[str], lower: float) -> None:
        index = np.array([self.row[n] for n in names], dtype=np.int32)
        self._rows(index, np.full(len(index), lower), self.row_upper[index])

    def _rows(self, index: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(index):
            self.highs.changeRowsBounds(len(index), index, lower, upper)

    def country_cols(self, iso: str) -> np.ndarray:
        """Columns of the spend variables of one country (its objective terms)."""
        cols = self.model.columns
        return np.array([self.col[v.name] for v in cols.loc[cols["iso3"] == iso, "var"]])

    # ------------------------------------------------------------------ solving
    def solve(self, time_limit: float | None = None, branch: bool = True) -> Point:
        """Solve the current copy (``Session.search``); HiGHS's own MIP at once without
        ``branch``. The time limit (default: the scenario's) applies to this solve alone."""
        found = self.session.search(time_limit, NODE_LIMIT if branch else 0)
        self.values = found.values
        return self._point(found.status, found.values, found.objective)

    def _point(self, status: Status, values, objective: float | None) -> Point:
        if not status.has_solution or values is None:
            return Point(status, None, ())
        values = np.asarray(values, dtype=float)
        chosen = tuple(sorted(c for c, i in self.session.select_cols.items() if values[i] > 0.5))
        spend = float(values[self.spend_cols].sum()) * UNIT
        return Point(status, objective, chosen, spend)

    def fixed_lp(self, selected: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        """The LP with the selection fixed (as the run's final LP), and any other binary at its best
        value for that selection: (row duals, column duals) in the objective's sense (impact units
        per model unit), or None if it has no optimum."""
        every = self.session.select_cols  # locked-out countries too, at 0
        index = np.array(list(every.values()), dtype=np.int32)
        fixed = np.array([1.0 if c in selected else 0.0 for c in every])
        others = np.setdiff1d(self.integer_cols, index).astype(np.int32)
        at = {int(i): float(v) for i, v in zip(index, fixed, strict=True)}
        if len(others):  # other binaries (tipping points): their best values for this selection
            with self.cols_bounds(index, fixed, fixed):
                if not self.solve().ok:
                    return None
            at |= {int(i): float(round(self.values[i])) for i in others}
        found = self.session.fixed_lp(np.array([at[int(i)] for i in self.integer_cols]))
        return None if found is None else (found[1], found[2])
