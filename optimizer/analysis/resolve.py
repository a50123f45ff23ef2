"""Temporary changes and re-solves for the trade-off analyses, on a solver session.

``Resolver`` is a thin layer over ``optimizer.session.Session`` (one warm HiGHS copy of a built
model, the one way to re-solve): an analysis changes row bounds, column bounds or objective
coefficients for a block (undone on exit), solves (``Session.search``: the best allocation among
a few countries, proven by one relaxation that must fund another; HiGHS's MIP on the whole model
if that does not settle it) and reads a ``Point``. A re-solve may start from an allocation in hand
(the run's optimum before a rule is relaxed, the previous point of a sweep): checked against the
copy as changed, it is the incumbent from the start and HiGHS's MIP start. ``clone`` gives a second
HiGHS copy that solves in the calling thread (``optimizer.analysis.pool``: two re-solves at once).
Nothing is written on the PuLP model.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from optimizer.model import UNIT, AllocationModel
from optimizer.scenario import SolverSection
from optimizer.session import Session, matrix_of
from optimizer.solve import Status

__all__ = ["Point", "Resolver"]

FEASIBILITY_TOLERANCE = 1e-6  # a start's rows and bounds, relative to max(1, |bound|)


@dataclass(frozen=True)
class Point:
    """One re-solve: status, objective (impact units) and the focus countries chosen."""

    status: Status
    objective: float | None
    selected: tuple[str, ...]
    spend_usd: float | None = None  # money allocated, US dollars
    values: np.ndarray | None = field(default=None, repr=False, compare=False)  # every column

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
        # An analysis changes a country's own rows and bounds one at a time and undoes each:
        # every change would need a new split (optimizer.decompose), so its outside relaxations
        # are LPs, each warm from one basis of the relaxation (the run's, if it solved one;
        # else solved here once): measured on the baseline's trade-offs, 43 s with splits.
        session.splits = False
        run = getattr(model, "session", None)  # the run's own session: its relaxation's basis
        if run is not None and len(run.variables) == len(session.variables):
            session.root_basis = run.root_basis
        if session.root_basis is None and self.is_mip and session.select_cols:
            session._outside_lp(list(session.select_cols), None)  # keeps its basis

    @property
    def solves(self) -> int:
        return self.session.solves

    @functools.cached_property
    def matrix(self):
        """The constraint matrix as built (rows x columns, SciPy CSR): checks a start's rows."""
        return matrix_of(self.highs.getLp())

    def clone(self) -> Resolver:
        """Another resolver on the same model with its own HiGHS copy (as changed now), for
        re-solves in a second thread: HiGHS runs outside Python's lock, so two copies solve at
        once on two cores."""
        from optimizer.solve import _highs_options, _stdout_silenced

        twin = copy.copy(self)
        twin.session = copy.copy(self.session)
        with _stdout_silenced():
            highs = _thread_highs()()
        _highs_options(highs, self.settings)
        highs.passModel(self.highs.getLp())
        twin.session.highs = twin.highs = highs
        twin.session.split = None  # the split's LPs are the first copy's: the twin makes its own
        twin.session.solves = 0
        return twin

    def incumbent(self) -> np.ndarray | None:
        """The run's optimum (every column, from the model's own session: the solve that made
        the run), as a start for re-solves it stays feasible for; None if there is none."""
        last = getattr(self.model.session, "last", None)
        if last is None or len(last) != len(self.variables):
            return None
        return np.array(last, dtype=float)

    def feasible(self, values: np.ndarray, lp=None) -> bool:
        """Whether ``values`` meets every row and column bound of the copy as changed now (``lp``:
        its ``getLp()``, if in hand), and the integer columns are whole."""
        lp = self.highs.getLp() if lp is None else lp
        tolerance = FEASIBILITY_TOLERANCE
        if len(values) != lp.num_col_ or lp.num_row_ != self.matrix.shape[0]:
            return False  # columns or rows added since (alternatives): not checked, not used
        activity = self.matrix @ values

        def within(x, low, up):
            low, up = np.asarray(low, dtype=float), np.asarray(up, dtype=float)
            above = x >= low - tolerance * np.maximum(1.0, np.abs(low))  # -inf: always
            below = x <= up + tolerance * np.maximum(1.0, np.abs(up))
            return bool(np.all(above) and np.all(below))

        y = values[self.integer_cols]
        whole = bool(np.all(np.abs(y - np.round(y)) <= tolerance))
        return (
            whole
            and within(values, lp.col_lower_, lp.col_upper_)
            and within(activity, lp.row_lower_, lp.row_upper_)
        )

    # ------------------------------------------------------------------ changes, undone on exit
    @contextlib.contextmanager
    def _undone(self) -> Iterator[None]:
        """The session's starting basis as it was before the block: the next change starts from
        the model's own optimum, not from the one this change led to (measured on the baseline's
        rule prices: a relaxation warm from another rule's basis took up to 4.7 s)."""
        basis = self.session.root_basis
        try:
            yield
        finally:
            self.session.root_basis = basis

    @contextlib.contextmanager
    def rows_bounds(self, names: list[str], lower: float, upper: float) -> Iterator[None]:
        """Rows ``names`` get bounds [lower, upper] (model units) for the block."""
        index = np.array([self.row[n] for n in names], dtype=np.int32)
        self._rows(index, np.full(len(index), lower), np.full(len(index), upper))
        try:
            with self._undone():
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
            with self._undone():
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
            with self._undone():
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
    def solve(
        self,
        time_limit: float | None = None,
        restrict: bool = True,
        start: np.ndarray | None = None,
    ) -> Point:
        """Solve the current copy (``Session.search``); HiGHS's MIP on the whole model at once
        without ``restrict``. The time limit (default: the scenario's) applies to this solve alone.

        ``start`` (every column's value) is an allocation believed feasible for the copy as
        changed, e.g. the optimum before a rule was relaxed: checked, and if feasible it is the
        incumbent from the start (HiGHS's MIP gets it as its start), so the search only has to
        prove it or beat it."""
        if start is not None and not self.feasible(start):
            start = None
        found = self.session.search(time_limit, restrict, start=start)
        self.values = found.values
        return self._point(found.status, found.values, found.objective)

    def _point(self, status: Status, values, objective: float | None) -> Point:
        if not status.has_solution or values is None:
            return Point(status, None, ())
        values = np.asarray(values, dtype=float)
        chosen = tuple(sorted(c for c, i in self.session.select_cols.items() if values[i] > 0.5))
        spend = float(values[self.spend_cols].sum()) * UNIT
        return Point(status, objective, chosen, spend, values)

    def fixed_lp(
        self, selected: tuple[str, ...], optimum: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The LP with the selection fixed (as the run's final LP), and any other binary at its best
        value for that selection: (row duals, column duals) in the objective's sense (impact units
        per model unit), or None if it has no optimum. ``optimum``: the run's optimum (every
        column); when ``selected`` is its selection, its other binaries are the best for that
        selection (it is the best allocation of all) and are taken without a re-solve."""
        every = self.session.select_cols  # locked-out countries too, at 0
        index = np.array(list(every.values()), dtype=np.int32)
        fixed = np.array([1.0 if c in selected else 0.0 for c in every])
        others = np.setdiff1d(self.integer_cols, index).astype(np.int32)
        at = {int(i): float(v) for i, v in zip(index, fixed, strict=True)}
        if len(others):  # other binaries (tipping points): their best values for this selection
            if optimum is not None and np.array_equal(np.round(optimum[index]), fixed):
                at |= {int(i): float(round(optimum[i])) for i in others}
            else:
                with self.cols_bounds(index, fixed, fixed):
                    if not self.solve(start=optimum).ok:
                        return None
                at |= {int(i): float(round(self.values[i])) for i in others}
        found = self.session.fixed_lp(np.array([at[int(i)] for i in self.integer_cols]))
        return None if found is None else (found[1], found[2])


@functools.cache
def _thread_highs():
    import highspy
    from highspy import _core

    class ThreadHighs(highspy.Highs):
        """A HiGHS copy that solves in the calling thread. highspy's own ``startSolve`` runs the
        solver in a thread of its own behind a lock that every copy shares, so two copies could
        not solve at once; the solver itself releases Python's lock, and ``cancelSolve`` (which
        Ctrl-C in the main thread calls) still stops it through the interrupt callbacks."""

        def startSolve(self):
            self._Highs__solver_should_stop = False
            try:
                self._status = _core._Highs.run(self)
            finally:  # as highspy's own solver thread does: this thread's share of HiGHS's
                # scheduler is released, or a later solve in another thread fails at once
                _core._Highs.resetThreadScheduler(False)

        def wait(self, timeout: float = -1.0):
            return True, getattr(self, "_status", None)

    return ThreadHighs
