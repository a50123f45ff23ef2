"""Solver adapter: HiGHS (highspy, default; ``optimizer.session``) or CBC through PuLP, normalised
into a ``Solution``."""

from __future__ import annotations

import contextlib
import enum
import functools
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from itertools import repeat
from operator import attrgetter
from pathlib import Path

import numpy as np
import pulp

from optimizer.errors import SolverError, setting
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
class Solution:
    """What a solve found, apart from the model: nothing is written on PuLP objects."""

    status: Status
    objective: float | None  # impact units (model objective)
    bound: float | None  # best proven bound on the objective
    gap: float | None  # relative gap between objective and bound
    values: Mapping[str, float]  # primal value of every column, by name (model units)
    duals: Mapping[str, float]  # row duals of the final LP by row name, in the objective's
    #                             sense: impact units per model unit (empty: none computed)
    solve_seconds: float
    solver: str
    solver_version: str
    detail: str = ""  # the solver's own status words, for an error

    def value(self, var: pulp.LpVariable) -> float:
        """The value of one column (0 without a solution)."""
        return self.values.get(var.name, 0.0)

    def values_of(self, variables) -> np.ndarray:
        """The values of many columns, in their order (0 without a solution): one pass, not a
        call per column (a Monte Carlo draw reads 20,000)."""
        names = map(attrgetter("name"), variables)
        return np.fromiter(map(self.values.get, names, repeat(0.0)), float, len(variables))

    def chosen(self, variables: Mapping[str, pulp.LpVariable]) -> list[str]:
        """The keys whose binary column is on (focus countries, tipped compacts), sorted."""
        return sorted(key for key, var in variables.items() if self.value(var) > 0.5)


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


@functools.cache
def blas_on_one_thread() -> None:
    """numpy's BLAS (OpenBLAS) on one thread in this process and the processes it forks, once.
    This engine's arrays are small, and OpenBLAS's own threads spun between its calls: 13% more
    CPU than wall time on the baseline's Monte Carlo draws, taken from the other worker process
    or HiGHS copy on a two-core machine (500 draws on 2 workers: 209 s to 180 s; a run with
    trade-offs 10.7 s to 9.9 s; the answers the same to the bit)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


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
            "solver",
            f"HiGHS (highspy) is not installed; pip install highspy, or use {setting('solver.name', 'cbc')}",
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
                "solver",
                f"CBC is not available in this PuLP install; use {setting('solver.name', 'highs')}",
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


def solve(
    model: AllocationModel, settings: SolverSection, name: str | None = None, duals: bool = True
) -> Solution:
    """Solve ``model`` and say how good the answer is. With HiGHS the model keeps its solver
    session (``optimizer.session``): the next solve starts from this one's basis; without
    ``duals`` (a Monte Carlo draw) the solution has no row duals, and its final LP is smaller.
    With CBC the selection CBC chose is polished by HiGHS (the LP with the selection fixed, in
    full precision: two solvers that choose the same countries give byte-identical
    allocations)."""
    from optimizer.session import Session

    name = name or settings.name
    if name not in SOLVERS:
        raise SolverError(
            setting("solver.name"), f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}"
        )
    if name == "highs":
        if model.session is None:
            model.session = Session(model, settings)
        return model.session.solve(settings, duals)
    return _solve_with_cbc(model, settings)


def _solve_with_cbc(model: AllocationModel, settings: SolverSection) -> Solution:
    """CBC through PuLP (the cold path); its values are read at once and the PuLP variables
    cleared, then polished by HiGHS where HiGHS is installed."""
    from optimizer.session import Session

    start = time.perf_counter()
    status, bound = _solve_cbc(model.problem, settings)
    values = {v.name: v.varValue or 0.0 for v in model.variables}
    for var in model.variables:
        var.varValue = None
    duals: dict[str, float] = {}
    if status.has_solution and model.select:
        try:
            session = Session(model, settings)
        except SolverError:  # HiGHS missing: CBC's own values stand
            session = None
        if session is not None:
            order = session.names
            fixed = np.array(
                [round(values[session.variables[i].name]) for i in session.integer_cols]
            )
            polished = session.fixed_lp(fixed.astype(float))
            if polished is not None:
                values = dict(zip(order, polished[0].tolist(), strict=True))
                duals = dict(zip(session.row, polished[1].tolist(), strict=False))
    objective = None
    if status.has_solution:
        expr = model.problem.objective
        objective = float(sum(c * values.get(v.name, 0.0) for v, c in expr.items()) + expr.constant)
    if status == Status.OPTIMAL and bound is None:
        bound = objective
    return Solution(
        status=status,
        objective=objective,
        bound=bound,
        gap=_relative_gap(objective, bound),
        values=values if status.has_solution else {},
        duals=duals,
        solve_seconds=time.perf_counter() - start,
        solver="cbc",
        solver_version=solver_version("cbc"),
    )


def write_model(model: AllocationModel, path: Path, fmt: str, force: bool = True) -> None:
    """Write the model as LP or MPS for audit or another solver (no solve), atomically."""
    option = setting("write_lp" if fmt == "lp" else "write_mps")
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
