"""Solver adapter: HiGHS (highspy, default) or CBC through PuLP, normalised into ``SolveInfo``."""

from __future__ import annotations

import contextlib
import enum
import math
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from operator import attrgetter
from pathlib import Path

import pulp

from optimizer.errors import SolverError
from optimizer.files import atomic_path
from optimizer.model import AllocationModel
from optimizer.scenario import SolverSection

SOLVERS = ("highs", "cbc")
INTEGRALITY_TOLERANCE = 1e-9


class Status(enum.StrEnum):
    OPTIMAL = "optimal"  # proven optimal within the MIP gap
    FEASIBLE = "feasible"  # stopped early (time limit) with an allocation; see the gap
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NO_SOLUTION = "no_solution"  # stopped before any allocation was found
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


@dataclass(frozen=True)
class SolveInfo:
    status: Status
    objective: float | None  # impact units (model objective)
    bound: float | None  # best proven bound on the objective
    gap: float | None  # relative gap between objective and bound
    solve_seconds: float
    solver: str
    solver_version: str
    detail: str = ""  # the solver's own status words, for an error


def solver_version(name: str) -> str:
    package = {"highs": "highspy", "cbc": "pulp"}[name]
    try:
        tag = version(package)
    except PackageNotFoundError:
        return "unknown"
    return f"highspy {tag}" if name == "highs" else f"CBC bundled with PuLP {tag}"


@contextlib.contextmanager
def _stdout_silenced():
    """Silence file descriptor 1 (C-level output) for the duration."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (embedded, captured): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _highs_options(highs, settings: SolverSection) -> None:
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(settings.time_limit_s))
    highs.setOptionValue("mip_rel_gap", float(settings.mip_gap))
    highs.setOptionValue("threads", int(settings.threads))
    highs.setOptionValue("random_seed", 0)


def _highs_lp(model: AllocationModel, relax: bool = False):
    """The model as one HighsLp in row-wise arrays (one bulk hand-over, not a call per row);
    ``relax`` drops integrality (an LP, with row duals)."""
    import highspy
    import numpy as np

    problem = model.problem
    variables = sorted(model.variables, key=attrgetter("name"))  # a stable column order
    column = {id(v): i for i, v in enumerate(variables)}  # PuLP's variable hash is id(v)
    inf = highspy.kHighsInf
    sign = -1.0 if problem.sense == pulp.LpMaximize else 1.0
    objective = problem.objective
    lp = highspy.HighsLp()
    lp.num_col_ = len(variables)
    lp.col_cost_ = np.array([sign * objective.get(v, 0.0) for v in variables], dtype=float)
    lp.col_lower_ = np.array(
        [-inf if v.lowBound is None else v.lowBound for v in variables], dtype=float
    )
    lp.col_upper_ = np.array(
        [inf if v.upBound is None else v.upBound for v in variables], dtype=float
    )
    constraints = problem.constraints()
    index: list[int] = []
    value: list[float] = []
    lengths = []
    for con in constraints:
        expr = con.expr
        try:
            index.extend(map(column.__getitem__, map(id, expr)))
        except KeyError:  # a programming error, not bad input
            raise RuntimeError(
                f"row {con.name} uses a variable not made with AllocationModel.new_var"
            ) from None
        value.extend(expr.values())
        lengths.append(len(expr))
    rhs = -np.array([con.constant for con in constraints], dtype=float)
    sense = np.array([con.sense for con in constraints])
    lp.num_row_ = len(constraints)
    lp.row_lower_ = np.where(sense == pulp.LpConstraintLE, -inf, rhs)
    lp.row_upper_ = np.where(sense == pulp.LpConstraintGE, inf, rhs)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    lp.a_matrix_.start_ = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=float)
    is_int = [v.cat == pulp.LpInteger and not relax for v in variables]
    if any(is_int):
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in is_int
        ]
    lp.offset_ = sign * objective.constant
    return lp, variables, any(is_int)


def _highs(model: AllocationModel, settings: SolverSection, relax: bool = False):
    """A configured Highs holding the problem; with the PuLP variables in column order."""
    try:
        import highspy
    except ImportError:
        raise SolverError(
            "solver", "HiGHS (highspy) is not installed; pip install highspy, or use --solver cbc"
        ) from None
    lp, variables, is_mip = _highs_lp(model, relax)
    with _stdout_silenced():  # HiGHS prints a banner from C++ when constructed
        highs = highspy.Highs()
    _highs_options(highs, settings)
    highs.passModel(lp)
    return highs, variables, is_mip


def _interruptible_run(highs) -> None:
    """``highs.run()`` in highspy's worker thread, so that Ctrl-C (and SIGTERM, which the CLI
    turns into Ctrl-C) stops a long solve within one solver iteration instead of when it ends."""
    highs.HandleKeyboardInterrupt = True  # the solver polls a stop flag that cancelSolve sets
    highs.startSolve()
    try:
        while not highs.wait(0.1)[0]:
            pass
    except BaseException:
        highs.cancelSolve()
        highs.wait()
        raise


def _run_highs(highs, problem: pulp.LpProblem, variables: list, is_mip: bool):
    """Run, then set PuLP variable values (and, for an LP, row duals as each constraint's ``pi``,
    in the objective's sense). Returns status and best bound."""
    import highspy

    _interruptible_run(highs)
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    solution = highs.getSolution()
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
    sign = -1.0 if problem.sense == pulp.LpMaximize else 1.0
    if status.has_solution:
        for var, value in zip(variables, solution.col_value, strict=True):
            var.varValue = value
        if not is_mip and status == Status.OPTIMAL and solution.dual_valid:
            for con, dual in zip(problem.constraints(), solution.row_dual, strict=True):
                con.pi = sign * dual
    bound = sign * float(info.mip_dual_bound) if is_mip else None
    return status, bound


def _solve_cbc(problem: pulp.LpProblem, settings: SolverSection) -> tuple[Status, float | None]:
    with tempfile.TemporaryDirectory(prefix="tipfocus-cbc-") as tmp, warnings.catch_warnings():
        # PULP_CBC_CMD (the CBC binary bundled with PuLP 3) is deprecated for PuLP 4; pyproject
        # pins pulp<4, so the bundled binary is the dependable CBC here.
        warnings.simplefilter("ignore", DeprecationWarning)
        log_path = str(Path(tmp) / "cbc.log")
        solver = pulp.PULP_CBC_CMD(
            msg=False,
            timeLimit=settings.time_limit_s,
            gapRel=settings.mip_gap,
            threads=settings.threads,
            logPath=log_path,
        )
        if not solver.available():
            raise SolverError(
                "solver", "CBC is not available in this PuLP install; use --solver highs"
            )
        try:
            problem.solve(solver)
        except pulp.PulpSolverError as exc:
            raise SolverError("cbc", f"the solver failed: {exc}") from None
        log_text = ""
        with contextlib.suppress(OSError):
            log_text = Path(log_path).read_text(errors="replace")
    status_code, solution = problem.status, problem.sol_status
    if status_code == pulp.LpStatusInfeasible or solution == pulp.LpSolutionInfeasible:
        return Status.INFEASIBLE, None
    if status_code == pulp.LpStatusUnbounded:
        return Status.UNBOUNDED, None
    if solution == pulp.LpSolutionOptimal:
        return Status.OPTIMAL, None
    if solution == pulp.LpSolutionIntegerFeasible:
        match = re.search(r"(?:Lower bound|Best possible):\s*(-?[\d.eE+-]+)", log_text)
        sign = -1.0 if problem.sense == pulp.LpMaximize else 1.0
        return Status.FEASIBLE, (sign * float(match.group(1)) if match else None)
    if status_code == pulp.LpStatusNotSolved:
        return Status.NO_SOLUTION, None
    return Status.ERROR, None


def _relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(bound - objective) / max(1e-9, abs(objective))


def _set_integrality(highs, variables: list, chosen: set[int], kind) -> None:
    import numpy as np

    index = np.array([i for i, v in enumerate(variables) if v.hash in chosen], dtype=np.int32)
    highs.changeColsIntegrality(len(index), index, np.array([kind] * len(index)))


def _integral_relaxation(highs, model: AllocationModel, variables: list):
    """Solve the linear relaxation first: with the selection links it is usually integral, and an
    integral relaxation is a proven MIP optimum (bound = objective) at half the cost of HiGHS's
    MIP machinery. Returns (OPTIMAL, bound), or (None, None) with integrality restored."""
    import highspy

    chosen = {v.hash for v in model.binaries}
    _set_integrality(highs, variables, chosen, highspy.HighsVarType.kContinuous)
    status, _ = _run_highs(highs, model.problem, variables, is_mip=False)
    integral = status == Status.OPTIMAL and all(
        abs(y.varValue - round(y.varValue)) <= INTEGRALITY_TOLERANCE for y in model.binaries
    )
    if integral:
        return Status.OPTIMAL, float(pulp.value(model.problem.objective))
    _set_integrality(highs, variables, chosen, highspy.HighsVarType.kInteger)
    for var in variables:
        var.varValue = None
    return None, None


def polish(model: AllocationModel, settings: SolverSection, loaded=None) -> bool:
    """Fix the focus-country selection and re-solve the LP with HiGHS in full precision.

    Whatever solver chose the countries, the amounts then come from one LP, solved one way: CBC
    reports values to 8 significant digits ($10 on $100M), and two solvers that choose the same
    countries give byte-identical allocations. The LP's row duals (``constraint.pi``) are the
    prices of the rules for that selection. ``loaded`` is the (highs, variables) of the MIP just
    solved, changed in place rather than handed over again. Returns False (values untouched) if
    HiGHS is missing or the LP fails.
    """
    try:
        import highspy
        import numpy as np
    except ImportError:
        return False
    values = {v: v.varValue for v in model.variables}
    if loaded is None:
        saved = {v: (v.lowBound, v.upBound) for v in model.binaries}
        for var in saved:
            var.lowBound = var.upBound = float(round(var.varValue or 0.0))
        try:
            highs, variables, _ = _highs(model, settings, relax=True)
        finally:
            for var, (low, up) in saved.items():
                var.lowBound, var.upBound = low, up
    else:
        highs, variables = loaded
        chosen = {v.hash for v in model.binaries}
        index = np.array([i for i, v in enumerate(variables) if v.hash in chosen], dtype=np.int32)
        fixed = np.array([round(variables[i].varValue or 0.0) for i in index], dtype=float)
        _set_integrality(highs, variables, chosen, highspy.HighsVarType.kContinuous)
        highs.changeColsBounds(len(index), index, fixed, fixed)
    # Tight optimality tolerance: the tie-break perturbation (model.TIE_BREAK) must decide
    # between otherwise equal allocations, however the LP was started.
    highs.setOptionValue("dual_feasibility_tolerance", 1e-10)
    status, _ = _run_highs(highs, model.problem, variables, is_mip=False)
    if status != Status.OPTIMAL:
        for var, value in values.items():
            var.varValue = value
        return False
    return True


def solve(model: AllocationModel, settings: SolverSection, name: str | None = None) -> SolveInfo:
    """Solve ``model`` in place (variable values are set) and say how good the answer is."""
    name = name or settings.name
    if name not in SOLVERS:
        raise SolverError(
            "--solver", f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}"
        )
    for var in model.variables:
        var.varValue = None
    start = time.perf_counter()
    loaded = None
    detail = ""
    if name == "highs":
        highs, variables, is_mip = _highs(model, settings)
        status, bound = _integral_relaxation(highs, model, variables) if is_mip else (None, None)
        if status is None:
            status, bound = _run_highs(highs, model.problem, variables, is_mip)
        loaded = (highs, variables)
        if status == Status.ERROR:
            detail = f"HiGHS model status: {highs.modelStatusToString(highs.getModelStatus())}"
    else:
        status, bound = _solve_cbc(model.problem, settings)
    if status.has_solution and model.select:
        polish(model, settings, loaded)
    seconds = time.perf_counter() - start
    objective = float(pulp.value(model.problem.objective)) if status.has_solution else None
    if status == Status.OPTIMAL and bound is None:
        bound = objective
    return SolveInfo(
        status=status,
        objective=objective,
        bound=bound,
        gap=_relative_gap(objective, bound),
        solve_seconds=seconds,
        solver=name,
        solver_version=solver_version(name),
        detail=detail,
    )


def write_model(model: AllocationModel, path: Path, fmt: str, force: bool = True) -> None:
    """Write the model as LP or MPS for audit or another solver (no solve), atomically."""
    option = "--write-lp" if fmt == "lp" else "--write-mps"
    with atomic_path(Path(path), force, option) as tmp:
        if fmt == "lp":
            model.problem.writeLP(str(tmp))
        else:
            model.problem.writeMPS(str(tmp), with_objsense=True)  # keep "maximise" in the file
            tmp.write_text(name_first(tmp.read_text()))


def name_first(mps: str) -> str:
    """The MPS text with the ``NAME`` line first: PuLP writes ``OBJSENSE`` before it, which HiGHS
    accepts but fixed-layout readers (the CBC executable among them) reject."""
    lines = mps.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.startswith("NAME")), None)
    if at is None or at == 0:
        return mps
    return "".join([lines[at], *lines[:at], *lines[at + 1 :]])
