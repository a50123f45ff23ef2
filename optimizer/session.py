"""A solver session: one HiGHS copy of a model that outlives a solve.

The model is handed over once (``solve._highs``). Changes reach the copy through the model's
setters (``optimizer.changes``: row bounds, column bounds, costs, coefficients) or, for an
analysis's temporary change, directly (``optimizer.analysis.resolve``); HiGHS keeps the last
relaxation's basis, so the next solve starts from there. One way to solve (``search``): the
previous optimum's selection re-optimised, if there is one (an allocation in hand); the linear
relaxation (with the selection links it is often integral: a proven optimum); a small depth-first
branch and bound over warm LPs if a selection is fractional; HiGHS's MIP, started from the
allocation in hand, beyond the node limit. ``solve`` then ends with ``fixed_lp``: the LP with the
integer columns fixed, solved in full precision, which gives the amounts and the row duals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pulp

from optimizer.model import AllocationModel
from optimizer.scenario import SolverSection
from optimizer.solve import (
    INTEGRALITY_TOLERANCE,
    Solution,
    Status,
    _highs,
    _highs_options,
    _interruptible_run,
    _relative_gap,
    solver_version,
)

NODE_LIMIT = 40  # nodes of the session's own branch and bound before HiGHS's MIP takes over
COLD_NODES = 1  # a first solve: the relaxation, then HiGHS's MIP if it is fractional
# A re-solve of the model (``solve``): the previous selection re-optimised (a warm allocation in
# hand), then HiGHS's MIP started from it. Measured on the baseline after a budget change: the
# session's own branch and bound needs 15 to 40 warm LPs there (its relaxation is fractional) and
# took longer than this.
WARM_NODES = 0
POLISH_TOLERANCE = 1e-10  # the tie-break (model.TIE_BREAK) must decide between equal allocations
FRACTIONAL_LIMIT = 4  # more fractional integers at the root: HiGHS's MIP at once, for this and
# every later search of the session (a weak relaxation: HiGHS's presolve and root cuts close it in
# one node where 40 warm LPs do not; its MIP does not start from the LP's basis)
DUAL_TOLERANCE = 1e-7  # HiGHS's default, restored after a polish


@dataclass(frozen=True)
class Found:
    """One search: status, column values (HiGHS order), objective, best bound."""

    status: Status
    values: np.ndarray | None
    objective: float | None
    bound: float | None = None


def run(highs, is_mip: bool) -> tuple[Status, float | None]:
    """Run HiGHS on what it holds; the status and (for a MIP) the best bound, in HiGHS's sense."""
    import highspy

    _interruptible_run(highs)
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    ok = info.primal_solution_status == 2  # kSolutionStatusFeasible
    ms = highspy.HighsModelStatus
    if model_status == ms.kOptimal:
        status = Status.OPTIMAL
    elif model_status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        status = Status.INFEASIBLE
    elif model_status == ms.kUnbounded:
        status = Status.UNBOUNDED
    elif ok:
        status = Status.FEASIBLE
    elif model_status in (ms.kTimeLimit, ms.kIterationLimit, ms.kInterrupt):
        status = Status.NO_SOLUTION
    else:
        status = Status.ERROR
    return status, (float(info.mip_dual_bound) if is_mip else None)


class Session:
    """``model`` on one HiGHS instance, with the PuLP names mapped to rows and columns."""

    def __init__(self, model: AllocationModel, settings: SolverSection):
        self.model = model
        self.settings = settings
        self.highs, self.variables, self.is_mip = _highs(model, settings)  # SolverError: none
        import highspy

        self.col = {v.name: i for i, v in enumerate(self.variables)}
        self.row = {con.name: i for i, con in enumerate(model.problem.constraints())}
        lp = self.highs.getLp()
        # the model's current numbers (lasting changes update them; temporary ones restore them)
        self.row_lower = np.array(lp.row_lower_, dtype=float)
        self.row_upper = np.array(lp.row_upper_, dtype=float)
        self.col_lower = np.array(lp.col_lower_, dtype=float)
        self.col_upper = np.array(lp.col_upper_, dtype=float)
        self.cost = np.array(lp.col_cost_, dtype=float)  # in HiGHS's sense (minimise)
        self.offset = float(lp.offset_)
        self.sign = -1.0 if model.problem.sense == pulp.LpMaximize else 1.0
        self.select_cols = {iso: self.col[y.name] for iso, y in model.select.items()}
        integrality = np.array([int(k) for k in lp.integrality_], dtype=int)
        kind = int(highspy.HighsVarType.kInteger)
        self.integer_cols = np.flatnonzero(integrality == kind).astype(np.int32)
        self.spend_cols = np.array([self.col[v.name] for v in model.columns["var"]], dtype=np.int64)
        self.last: np.ndarray | None = None  # the last optimum's values: the next MIP's start
        self.solves = 0
        self.mip_runs = 0  # searches that needed HiGHS's own MIP
        self.root_basis = None  # the last relaxation's basis: where the next solve starts
        self.weak = False  # the relaxation proved weak (FRACTIONAL_LIMIT): HiGHS's MIP at once

    # ------------------------------------------------------------------ lasting changes
    def set_rows(self, names: list[str], lower: np.ndarray, upper: np.ndarray) -> None:
        index = np.array([self.row[n] for n in names], dtype=np.int32)
        self.row_lower[index], self.row_upper[index] = lower, upper
        self.change_rows(index, self.row_lower[index], self.row_upper[index])

    def set_cols(self, names: list[str], lower: np.ndarray, upper: np.ndarray) -> None:
        index = np.array([self.col[n] for n in names], dtype=np.int32)
        self.col_lower[index], self.col_upper[index] = lower, upper
        if len(index):
            self.highs.changeColsBounds(
                len(index), index, self.col_lower[index], self.col_upper[index]
            )

    def set_costs(self, names: list[str], costs: np.ndarray) -> None:
        """Objective coefficients in the model's sense (impact units per model unit)."""
        index = np.array([self.col[n] for n in names], dtype=np.int32)
        self.cost[index] = self.sign * np.asarray(costs, dtype=float)
        if len(index):
            self.highs.changeColsCost(len(index), index, self.cost[index])

    def set_coeffs(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Matrix coefficients (row index, column index in this session's order)."""
        for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True):
            self.highs.changeCoeff(r, c, v)

    def change_rows(self, index: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(index):
            self.highs.changeRowsBounds(len(index), index, lower, upper)

    # ------------------------------------------------------------------ solving
    def _integrality(self, index: np.ndarray, integer: bool) -> None:
        import highspy

        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        self.highs.changeColsIntegrality(len(index), index, np.array([kind] * len(index)))

    def _time_limit(self, seconds: float | None) -> None:
        seconds = self.settings.time_limit_s if seconds is None else seconds
        self.highs.setOptionValue("time_limit", self.highs.getRunTime() + seconds)

    def objective_of(self, values: np.ndarray) -> float:
        """The model's objective (its own sense, the costs as they stand) at ``values``."""
        return self.sign * (float(self.cost @ values) + self.offset)

    def search(
        self,
        time_limit: float | None = None,
        nodes: int = NODE_LIMIT,
        start: np.ndarray | None = None,
    ) -> Found:
        """Solve the current copy: the relaxation, then (if a selection is fractional) a small
        depth-first branch and bound with warm LP re-solves, HiGHS's own MIP beyond ``nodes``
        nodes (at once, without a relaxation, with ``nodes`` 0 or a weak relaxation). ``start``:
        a feasible allocation in hand (every column; the caller has checked it), the incumbent
        instead of the previous selection re-optimised."""
        self._time_limit(time_limit)
        self.solves += 1
        highs = self.highs
        if not self.is_mip:
            status, _ = run(highs, False)
            return self._found(status)
        ycols = self.integer_cols
        lp_now = highs.getLp()  # the integer columns' bounds as the caller set them
        low0 = np.array(lp_now.col_lower_)[ycols]
        up0 = np.array(lp_now.col_upper_)[ycols]
        self._integrality(ycols, False)
        try:
            if start is None:
                best = self._incumbent(ycols, low0, up0)
            else:
                values = np.asarray(start, dtype=float)
                best = Found(Status.FEASIBLE, values, self.objective_of(values))
            search = nodes and not self.weak
            found = self._branch(ycols, low0, up0, nodes, best) if search else None
        finally:
            highs.changeColsBounds(len(ycols), ycols, low0, up0)
            self._integrality(ycols, True)
        if found is not None:
            return found
        if best is not None:  # the allocation in hand as the MIP's start
            import highspy

            given = highspy.HighsSolution()
            given.col_value = list(best.values)
            given.value_valid = True
            highs.setSolution(given)
        self.mip_runs += 1
        status, bound = run(highs, True)
        found = self._found(status)
        return Found(found.status, found.values, found.objective, _model_sense(self, bound))

    def _found(self, status: Status) -> Found:
        if not status.has_solution:
            return Found(status, None, None)
        values = np.array(self.highs.getSolution().col_value, dtype=float)
        return Found(status, values, self.sign * self.highs.getInfo().objective_function_value)

    def _incumbent(self, ycols, low0, up0) -> Found | None:
        """The previous optimum's integer values, if the bounds still allow them, with the
        continuous columns re-optimised (a warm LP): an allocation in hand, so the branch and
        bound prunes every node that cannot beat it (often the root: a proof at once)."""
        if self.last is None or len(self.last) != self.highs.getNumCol():
            return None
        fixed = np.round(self.last[ycols])
        if (fixed < low0).any() or (fixed > up0).any():
            return None
        self.highs.changeColsBounds(len(ycols), ycols, fixed, fixed)
        # From no basis: with the selection fixed, presolve removes most of the model (measured
        # on the baseline: 0.5 s cold, 6 s from the relaxation's basis).
        self.highs.clearSolver()
        status, _ = run(self.highs, False)
        found = self._found(status) if status == Status.OPTIMAL else None
        if self._valid(self.root_basis):  # the relaxation starts from the last relaxation's
            self.highs.setBasis(self.root_basis)
        return found

    def _valid(self, basis) -> bool:
        size = (self.highs.getNumCol(), self.highs.getNumRow())
        return basis is not None and (len(basis.col_status), len(basis.row_status)) == size

    def _branch(self, ycols, low0, up0, limit: int, best: Found | None = None) -> Found | None:
        """Depth-first branch and bound over the integer columns (binary), each node a warm LP,
        from the allocation ``best`` in hand if any. None hands over to HiGHS's MIP (node limit,
        time limit or a numerical failure)."""
        highs, gap = self.highs, self.settings.mip_gap
        stack = [(low0, up0)]
        nodes = 0
        while stack:
            low, up = stack.pop()
            nodes += 1
            if nodes > limit:
                return None
            highs.changeColsBounds(len(ycols), ycols, low, up)
            status, _ = run(highs, False)
            if nodes == 1 and status == Status.OPTIMAL:  # the next solve starts from here
                self.root_basis = highs.getBasis()
            if status == Status.INFEASIBLE:
                continue
            if status != Status.OPTIMAL:
                return None
            found = self._found(status)
            if best is not None and found.objective <= best.objective + gap * abs(best.objective):
                continue  # this branch cannot beat the allocation in hand
            y = found.values[ycols]
            fractional = np.abs(y - np.round(y)) > INTEGRALITY_TOLERANCE
            if not fractional.any():
                best = found
                continue
            if nodes == 1 and fractional.sum() > FRACTIONAL_LIMIT:
                self.weak = True
                return None
            pick = int(np.argmax(np.where(fractional, 0.5 - np.abs(y - 0.5), -1.0)))
            down = low.copy(), up.copy()
            down[1][pick] = 0.0
            upper = low.copy(), up.copy()
            upper[0][pick] = 1.0
            # the side the LP leans to is explored first (pushed last)
            stack += [down, upper] if y[pick] < 0.5 else [upper, down]
        if best is None:
            return Found(Status.INFEASIBLE, None, None)
        return Found(Status.OPTIMAL, best.values, best.objective, best.objective)

    def fixed_lp(
        self, fixed: np.ndarray, cold: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The LP with every integer column at ``fixed`` (the run's final LP), solved in full
        precision: (column values, row duals, column duals), duals in the objective's sense
        (impact units per model unit); None if it has no optimum. ``cold``: from no basis, so
        that the amounts do not depend on the solves before (a Monte Carlo study gives the same
        bytes whichever worker solved which draw). Leaves the copy as it was, with the
        relaxation's basis (from the fixed LP's basis the free relaxation can take a minute on
        the baseline; from its own basis, about a second)."""
        basis = self.root_basis if self._valid(self.root_basis) else self.highs.getBasis()
        if cold:
            self.highs.clearSolver()
        index = self.integer_cols
        self._integrality(index, False)
        self.highs.changeColsBounds(len(index), index, fixed, fixed)
        self.highs.setOptionValue("dual_feasibility_tolerance", POLISH_TOLERANCE)
        try:
            self._time_limit(None)
            status, _ = run(self.highs, False)
            solution = self.highs.getSolution()
            if status != Status.OPTIMAL or not solution.dual_valid:
                return None
            return (
                np.array(solution.col_value, dtype=float),
                self.sign * np.array(solution.row_dual),
                self.sign * np.array(solution.col_dual),
            )
        finally:
            self.highs.setOptionValue("dual_feasibility_tolerance", DUAL_TOLERANCE)
            self.highs.changeColsBounds(
                len(index), index, self.col_lower[index], self.col_upper[index]
            )
            if self.is_mip:
                self._integrality(index, True)
            if basis.valid:
                self.highs.setBasis(basis)
            else:
                self.highs.clearSolver()

    def solve(self, settings: SolverSection | None = None) -> Solution:
        """The model's solve (``solve.solve`` with HiGHS): ``search`` (a first solve: the
        relaxation, then HiGHS's MIP if it is fractional; a re-solve: the previous selection
        re-optimised, then HiGHS's MIP from it), then the fixed LP, from no basis, for the
        amounts and the row duals. ``settings``: the scenario's solver settings, if changed."""
        import time

        if settings is not None:
            self.settings = settings
            _highs_options(self.highs, settings)
        start = time.perf_counter()
        found = self.search(nodes=WARM_NODES if self.solves else COLD_NODES)
        values, duals = found.values, None
        if found.status.has_solution and self.model.select:
            fixed = np.round(found.values[self.integer_cols])
            polished = self.fixed_lp(fixed, cold=True)
            if polished is not None:
                values, duals = polished[0], polished[1]
        elif found.status == Status.OPTIMAL and not self.is_mip:
            solution = self.highs.getSolution()
            if solution.dual_valid:
                duals = self.sign * np.array(solution.row_dual)
        detail = ""
        if found.status == Status.ERROR:
            status_text = self.highs.modelStatusToString(self.highs.getModelStatus())
            detail = f"HiGHS model status: {status_text}"
        if found.status.has_solution:
            self.last = values
        return self.solution(found, values, duals, time.perf_counter() - start, detail)

    def solution(self, found: Found, values, duals, seconds: float, detail: str) -> Solution:
        objective = self.objective_of(values) if found.status.has_solution else None
        bound = found.bound
        if found.status == Status.OPTIMAL and bound is None:
            bound = objective
        names = [v.name for v in self.variables]
        rows = list(self.row)
        return Solution(
            status=found.status,
            objective=objective,
            bound=bound,
            gap=_relative_gap(objective, bound),
            values=dict(zip(names, values.tolist(), strict=True)) if values is not None else {},
            duals=dict(zip(rows, duals.tolist(), strict=False)) if duals is not None else {},
            solve_seconds=seconds,
            solver="highs",
            solver_version=solver_version("highs"),
            detail=detail,
        )


def _model_sense(session: Session, bound: float | None) -> float | None:
    return None if bound is None else session.sign * bound
