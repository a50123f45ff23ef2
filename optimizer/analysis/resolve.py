"""One warm HiGHS copy of a built model, changed and re-solved in place.

The copy is handed over once (``solve._highs``); an analysis changes row bounds, column bounds or
objective coefficients, solves (relaxation first, branch and bound only if a selection is
fractional, as ``solve.solve`` does) and puts them back. HiGHS keeps its basis between solves, so a
small change costs a fraction of a cold solve. Values land on the PuLP variables as with any solve:
read a run's results (``engine.collect``) before analysing it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pulp

from optimizer.model import UNIT, AllocationModel
from optimizer.scenario import SolverSection
from optimizer.solve import INTEGRALITY_TOLERANCE, Status, _highs, _run_highs

NODE_LIMIT = 40  # nodes of the resolver's own branch and bound before HiGHS's MIP takes over
FRACTIONAL_LIMIT = 4  # more fractional integers at the root: HiGHS's MIP at once, for this and
# every later solve of the resolver (the relaxation is weak: on the tipping-point baseline it is 6%
# above the optimum with dozens of fractional tipping points, which HiGHS's presolve and root cuts
# close in one node while 40 warm LPs do not; its MIP does not start from the LP's basis, so the
# relaxation would only add an LP to every solve)
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
    """The model on one HiGHS instance, with the PuLP names mapped to rows and columns."""

    def __init__(self, model: AllocationModel, settings: SolverSection):
        self.model = model
        self.settings = settings
        import highspy

        self.highs, self.variables, self.is_mip = _highs(model, settings)
        self.col = {v.name: i for i, v in enumerate(self.variables)}
        self.row = {con.name: i for i, con in enumerate(model.problem.constraints())}
        lp = self.highs.getLp()
        self.row_lower = np.array(lp.row_lower_, dtype=float)
        self.row_upper = np.array(lp.row_upper_, dtype=float)
        self.col_lower = np.array(lp.col_lower_, dtype=float)
        self.col_upper = np.array(lp.col_upper_, dtype=float)
        self.cost = np.array(lp.col_cost_, dtype=float)  # in HiGHS's sense (minimise)
        self.sign = -1.0 if model.problem.sense == pulp.LpMaximize else 1.0
        self.select_cols = {iso: self.col[y.name] for iso, y in model.select.items()}
        # every integer column (the selections, and any a later model adds): branched on
        integrality = np.array([int(k) for k in lp.integrality_], dtype=int)
        kind = int(highspy.HighsVarType.kInteger)
        self.integer_cols = np.flatnonzero(integrality == kind).astype(np.int32)
        self.spend_cols = np.array([self.col[v.name] for v in model.columns["var"]], dtype=np.int64)
        self.matrix = _matrix(lp)
        self.weak = False  # the relaxation proved weak (FRACTIONAL_LIMIT): HiGHS's MIP directly
        self.solves = 0

    def clone(self) -> Resolver:
        """Another resolver on the same model with its own HiGHS copy (as changed now), for
        re-solves in a second thread: HiGHS runs outside Python's lock, so two copies solve at
        once on two cores. Values it writes on the PuLP variables are as after any re-solve."""
        from optimizer.solve import _highs_options, _stdout_silenced

        twin = copy.copy(self)
        with _stdout_silenced():
            twin.highs = _thread_highs()()
        _highs_options(twin.highs, self.settings)
        twin.highs.passModel(self.highs.getLp())
        twin.solves = 0
        return twin

    def incumbent(self) -> np.ndarray | None:
        """The column values the PuLP variables hold (the run's solution: read before any
        re-solve overwrites them), as a start for re-solves it stays feasible for; None if unset."""
        values = [v.varValue for v in self.variables]
        if any(v is None for v in values):
            return None
        return np.array(values, dtype=float)

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
    def solve(
        self,
        time_limit: float | None = None,
        branch: bool = True,
        start: np.ndarray | None = None,
    ) -> Point:
        """Solve the current copy: the relaxation first, then (if a selection is fractional) a
        small depth-first branch and bound on the selections with warm LP re-solves, and HiGHS's
        own MIP if that needs more than ``NODE_LIMIT`` nodes, or at once when the relaxation has
        more than ``FRACTIONAL_LIMIT`` fractional integers (or without ``branch``). The time limit
        (default: the scenario's) applies to this solve alone.

        ``start`` (every column's value) is an allocation believed feasible for the copy as
        changed, e.g. the optimum before a rule was relaxed: checked, and if feasible it is the
        incumbent from the first node (HiGHS's MIP gets it as its start), so the search only
        has to prove it or beat it. If the relaxation's bound is within the MIP gap of it, the
        start is returned as optimal after one LP: the bound proves it, as the MIP would."""
        import highspy

        highs = self.highs
        seconds = self.settings.time_limit_s if time_limit is None else time_limit
        highs.setOptionValue("time_limit", highs.getRunTime() + seconds)
        self.solves += 1
        if not self.is_mip:
            status, _ = _run_highs(highs, self.model.problem, self.variables, False)
            return self._point(status, highs.getSolution().col_value, self._objective())
        ycols = self.integer_cols
        lp_now = self.highs.getLp()  # the integer columns' bounds as the caller set them
        low0 = np.array(lp_now.col_lower_)[ycols]
        up0 = np.array(lp_now.col_upper_)[ycols]
        incumbent = None
        if start is not None and self.feasible(start, lp_now):
            value = float(np.dot(lp_now.col_cost_, start) + lp_now.offset_)
            incumbent = (self.sign * value, np.asarray(start, dtype=float))
        kinds = np.array([highspy.HighsVarType.kContinuous] * len(ycols))
        highs.changeColsIntegrality(len(ycols), ycols, kinds)
        try:
            found = self._branch(ycols, low0, up0, incumbent) if branch and not self.weak else None
        finally:
            highs.changeColsBounds(len(ycols), ycols, low0, up0)
            kinds = np.array([highspy.HighsVarType.kInteger] * len(ycols))
            highs.changeColsIntegrality(len(ycols), ycols, kinds)
        if found is not None:
            status, values, objective = found
            if status.has_solution:  # the PuLP variables hold the best node, not the last
                for var, value in zip(self.variables, values, strict=True):
                    var.varValue = value
            return self._point(status, values, objective)
        if incumbent is not None:
            solution = highspy.HighsSolution()
            solution.col_value = incumbent[1].tolist()
            solution.value_valid = True
            highs.setSolution(solution)
        status, _ = _run_highs(highs, self.model.problem, self.variables, True)
        return self._point(status, highs.getSolution().col_value, self._objective())

    def _branch(self, ycols: np.ndarray, low0: np.ndarray, up0: np.ndarray, incumbent=None):
        """Depth-first branch and bound over the integer columns (binary), each node a warm LP,
        from ``incumbent`` ((objective, values) or None). Returns (status, values, objective),
        or None to hand over to HiGHS's MIP (too many fractional integers at the root, node
        limit, time limit or a numerical failure)."""
        highs = self.highs
        gap = self.settings.mip_gap
        best: tuple[float, np.ndarray] | None = incumbent
        stack = [(low0, up0)]
        nodes = 0
        while stack:
            low, up = stack.pop()
            nodes += 1
            if nodes > NODE_LIMIT:
                return None
            highs.changeColsBounds(len(ycols), ycols, low, up)
            status, _ = _run_highs(highs, self.model.problem, self.variables, False)
            if status == Status.INFEASIBLE:
                continue
            if status != Status.OPTIMAL:
                return None
            objective = self._objective()
            if best is not None and objective <= best[0] + gap * abs(best[0]):
                continue  # this branch cannot beat the allocation in hand
            values = np.asarray(highs.getSolution().col_value, dtype=float)
            y = values[ycols]
            fractional = np.abs(y - np.round(y)) > INTEGRALITY_TOLERANCE
            if not fractional.any():
                best = (objective, values)
                continue
            if nodes == 1 and fractional.sum() > FRACTIONAL_LIMIT:
                self.weak = True
                return None
            pick = int(np.argmax(np.where(fractional, 0.5 - np.abs(y - 0.5), -1.0)))
            down_up = low.copy(), up.copy()
            down_up[1][pick] = 0.0
            up_low = low.copy(), up.copy()
            up_low[0][pick] = 1.0
            # the side the LP leans to is explored first (pushed last)
            stack += [down_up, up_low] if y[pick] < 0.5 else [up_low, down_up]
        if best is None:
            return Status.INFEASIBLE, None, None
        return Status.OPTIMAL, best[1], best[0]

    def _objective(self) -> float:
        """The last solve's objective in the model's sense (with the costs as changed)."""
        return self.sign * self.highs.getInfo().objective_function_value

    def _point(self, status: Status, values, objective: float | None) -> Point:
        if not status.has_solution or values is None:
            return Point(status, None, ())
        values = np.asarray(values, dtype=float)
        chosen = tuple(sorted(c for c, i in self.select_cols.items() if values[i] > 0.5))
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
        import highspy

        basis = self.highs.getBasis()  # the relaxation's basis: a good start for what follows
        index = np.array(list(self.select_cols.values()), dtype=np.int32)
        fixed = np.array([1.0 if c in selected else 0.0 for c in self.select_cols])
        others = np.setdiff1d(self.integer_cols, index).astype(np.int32)
        if len(others):  # other binaries (tipping points): their best values for this selection
            if optimum is not None and np.array_equal(np.round(optimum[index]), fixed):
                values = np.round(optimum[others])
            else:
                with self.cols_bounds(index, fixed, fixed):
                    if not self.solve(start=optimum).ok:
                        return None
                values = np.array([round(self.variables[i].varValue or 0.0) for i in others])
            index, fixed = np.concatenate([index, others]), np.concatenate([fixed, values])
        kinds = np.array([highspy.HighsVarType.kContinuous] * len(index))
        self.highs.changeColsIntegrality(len(index), index, kinds)
        try:
            with self.cols_bounds(index, fixed, fixed):
                self.highs.setOptionValue(
                    "time_limit", self.highs.getRunTime() + self.settings.time_limit_s
                )
                status, _ = _run_highs(self.highs, self.model.problem, self.variables, False)
                solution = self.highs.getSolution()
                if status != Status.OPTIMAL or not solution.dual_valid:
                    return None
                return (
                    self.sign * np.array(solution.row_dual),
                    self.sign * np.array(solution.col_dual),
                )
        finally:
            if self.is_mip:
                kinds = np.array([highspy.HighsVarType.kInteger] * len(index))
                self.highs.changeColsIntegrality(len(index), index, kinds)
            # From the fixed LP's basis the free relaxation can take a minute (measured on the
            # baseline); from the relaxation's own basis, or a cold start, about a second.
            if basis.valid:
                self.highs.setBasis(basis)
            else:
                self.highs.clearSolver()


def _matrix(lp):
    """The constraint matrix of a HighsLp as a SciPy sparse matrix (rows x columns)."""
    import highspy
    from scipy import sparse

    a = lp.a_matrix_
    data = (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_))
    shape = (lp.num_row_, lp.num_col_)
    if a.format_ == highspy.MatrixFormat.kRowwise:
        return sparse.csr_matrix(data, shape=shape)
    return sparse.csc_matrix(data, shape=shape).tocsr()


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
