"""A solver session: one HiGHS copy of a model that outlives a solve.

The model is handed over once (``solve._highs``). Changes reach the copy through the model's
setters (``optimizer.changes``: row bounds, column bounds, costs, coefficients) or, for an
analysis's temporary change, directly (``optimizer.analysis.resolve``); HiGHS keeps the last
relaxation's basis, so the next solve starts from there. One way to solve (``search``): the best
allocation among a few countries (HiGHS's MIP with the others held out: small once presolved),
then one relaxation that must fund a country outside them; if that bound is no better, the
allocation is proven optimal (the two cover every allocation), else the countries it funds join
the set. The set starts from the allocation in hand or the previous optimum, so a re-solve after a
change usually needs one small MIP and one warm LP. HiGHS's MIP on the whole model, from the
allocation in hand, is the fallback. ``solve`` then ends with ``fixed_lp``: the LP with the
integer columns fixed, solved in full precision, which gives the amounts and the row duals.
"""

from __future__ import annotations

import contextlib
import operator
from dataclasses import dataclass

import numpy as np
import pulp

from optimizer.model import AllocationModel, country_of
from optimizer.scenario import SolverSection
from optimizer.solve import (
    INTEGRALITY_TOLERANCE,
    Solution,
    Status,
    _highs,
    _highs_options,
    _interruptible_run,
    _relative_gap,
    _stdout_silenced,
    solver_version,
)

ROUNDS = 4  # restricted solves (``Session._restricted``) before HiGHS's MIP on the whole model
SUPPORT = 1e-6  # a selection above this in the outside relaxation brings its country into the set
ROUGH = 1e-3  # a round that searched nothing: its split relaxation stops this near (relative)
POLISH_TOLERANCE = 1e-10  # the tie-break (model.TIE_BREAK) must decide between equal allocations
DUAL_TOLERANCE = 1e-7  # HiGHS's default, restored after a polish
BULK_COEFFS = 2000  # coefficients changed at once above which the model is handed over whole
# HiGHS's MIP on a cut-out model (``Session._within_cut``), beyond the session's settings. The
# cut-out has already done what presolve would (the countries held out are gone) and its optimum
# is found by rounding at the root, so presolve, the feasibility jump, RINS, RENS and the root
# reduced-cost heuristic only cost time. Measured (2026-12-01, one thread, the same optima): 24
# Monte Carlo draws' cut-outs 9.8 s -> 5.8 s, none slower by more than 0.08 s; the 9 bundled
# scenarios' 4.5 s -> 3.2 s, none slower.
CUT_OUT_OPTIONS = {
    "presolve": "off",
    "mip_heuristic_run_feasibility_jump": False,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
}


@dataclass(frozen=True)
class Found:
    """One search: status, column values (HiGHS order), objective, best bound."""

    status: Status
    values: np.ndarray | None
    objective: float | None
    bound: float | None = None


@dataclass(frozen=True)
class Numbers:
    """A HiGHS copy's numbers as arrays (its own sense: a minimum): the conversion from a
    ``HighsLp``'s lists costs about 8 ms on the baseline, once a reading (``Session._reading``)."""

    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    offset: float

    @classmethod
    def of(cls, lp) -> Numbers:
        return cls(
            *(np.array(part, dtype=float) for part in (lp.col_cost_, lp.col_lower_, lp.col_upper_)),
            *(np.array(part, dtype=float) for part in (lp.row_lower_, lp.row_upper_)),
            float(lp.offset_),
        )


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

        self.names = [v.name for v in self.variables]  # each column's name, in HiGHS's order
        self.col = {name: i for i, name in enumerate(self.names)}
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
        # each column's type (HiGHS's, as an integer); no lasting change alters it
        self.integrality = np.array([int(k) for k in lp.integrality_], dtype=np.int32)
        kind = int(highspy.HighsVarType.kInteger)
        self.integer_cols = np.flatnonzero(self.integrality == kind).astype(np.int32)
        self.spend_cols = np.array([self.col[v.name] for v in model.columns["var"]], dtype=np.int64)
        self.link_index = None  # (rows, selection columns) of the spend columns' links (``links``)
        self.last: np.ndarray | None = None  # the last optimum: the next search's first set
        self.solves = 0
        self.mip_runs = 0  # searches that needed HiGHS's MIP on the whole model
        self.restricted_runs = 0  # HiGHS's MIP on a set of countries (``_restricted``)
        self.new_costs = False  # objective changed since the last search (a new draw)
        self.root_basis = None  # the last outside relaxation's basis: where the next one starts
        self.cut = None  # the HiGHS instance of a cut-out solve under way (``_within_cut``)
        self.split = None  # the model split by country (``optimizer.decompose``), built on use
        self.block_highs = []  # its countries' HiGHS instances, reused by the next split
        self.splits = True  # bound the outside relaxation by the split (else the LP, warm)
        self.lp_now = None  # the copy's HighsLp, read once for a restricted search (``lp``)
        self.matrix_now = None  # and its matrix (``matrix``)
        self.numbers_now = None  # and its numbers (``numbers``)
        self.cols_last = [], np.array([], dtype=np.int32)  # ``cols_of``'s last answer
        # each country's integer columns (its selection, its tipping point): held at 0 together
        tipped = {iso: self.col[v.name] for iso, v in model.tipped.items()}
        self.country_cols = {
            iso: np.array([i, *([tipped[iso]] if iso in tipped else [])], dtype=np.int32)
            for iso, i in self.select_cols.items()
        }
        # every column's country ("" for none): a country held out is cut out (``_cut_out``)
        countries = set(model.countries)
        self.col_country = np.array([country_of(name, countries) for name in self.names])
        # the outside row (``_outside``): free, with no terms, except during that relaxation
        self.outside_row = self.highs.getNumRow()
        self.highs.addRow(
            -highspy.kHighsInf, highspy.kHighsInf, 0, np.array([], dtype=np.int32), np.array([])
        )
        # the copy's matrix (rows x columns, CSR, each row's columns in order), kept in step by
        # ``set_coeffs``: read from HiGHS it takes 0.02 s, once a search
        self.a = matrix_of(self.highs.getLp())
        self.a.sort_indices()
        self.a_keys: np.ndarray | None = None  # row x num_col + column of each entry of ``a``

    # ------------------------------------------------------------------ lasting changes
    def rows_at(self, names: list[str]) -> np.ndarray:
        return np.array([self.row[n] for n in names], dtype=np.int32)

    def cols_at(self, names: list[str]) -> np.ndarray:
        return np.array([self.col[n] for n in names], dtype=np.int32)

    def cols_of(self, variables: list) -> np.ndarray:
        """``cols_at`` of the variables' names; the last answer is kept for the same variables
        in the same order (a draw's objective lists them so every time: 8 ms a draw)."""
        last, index = self.cols_last
        if len(last) != len(variables) or not all(map(operator.is_, last, variables)):
            index = self.cols_at([var.name for var in variables])
            self.cols_last = variables, index
        return index

    def set_rows(self, names: list[str], lower: np.ndarray, upper: np.ndarray) -> None:
        index = self.rows_at(names)
        self.row_lower[index], self.row_upper[index] = lower, upper
        self.change_rows(index, self.row_lower[index], self.row_upper[index])

    def set_cols(self, names: list[str], lower: np.ndarray, upper: np.ndarray) -> None:
        self.set_cols_at(self.cols_at(names), lower, upper)

    def set_cols_at(self, index: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """``set_cols`` by column index (this session's order)."""
        self.col_lower[index], self.col_upper[index] = lower, upper
        if len(index):
            self.highs.changeColsBounds(
                len(index), index, self.col_lower[index], self.col_upper[index]
            )

    def set_costs(self, names: list[str], costs: np.ndarray) -> None:
        """Objective coefficients in the model's sense (impact units per model unit)."""
        self.set_costs_at(self.cols_at(names), costs)

    def set_costs_at(self, index: np.ndarray, costs: np.ndarray) -> None:
        """``set_costs`` by column index (this session's order)."""
        self.cost[index] = self.sign * np.asarray(costs, dtype=float)
        if len(index):
            self.highs.changeColsCost(len(index), index, self.cost[index])
            self.new_costs = True

    def links(self) -> tuple[np.ndarray, np.ndarray]:
        """Each spend column's selection link (``model.define_selection_link``): its row and
        its country's selection column (found once, on first use)."""
        if self.link_index is None:
            rows = self.rows_at([con.name for con in self.model.links()])
            isos = self.model.columns["iso3"]
            select = np.array([self.select_cols[iso] for iso in isos], dtype=np.int32)
            self.link_index = rows, select
        return self.link_index

    def set_coeffs(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Matrix coefficients (row index, column index in this session's order), in the
        session's matrix and the copy: one HiGHS call a coefficient for a few; for many (a
        draw's selection links), the whole model handed over in one call (``pass_lp``: 5 ms on
        the baseline against 45 ms for 67,000 calls; the copy's basis goes, and a draw's search
        starts from none). A new non-zero or one removed changes the matrix's structure: one
        call a coefficient, and the matrix read back."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        values = np.asarray(values, dtype=float)
        at = self._entries(rows, cols)
        structure = at is None or not values.all()  # a non-zero added or removed
        if not structure:
            data = self.a.data.copy()  # a new matrix: an analysis's copies share the old one
            data[at] = values
            self.a = type(self.a)((data, self.a.indices, self.a.indptr), shape=self.a.shape)
        if structure or len(values) < BULK_COEFFS:
            for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True):
                self.highs.changeCoeff(r, c, v)
            if structure:
                self.a, self.a_keys = matrix_of(self.highs.getLp()), None
                self.a.sort_indices()
            return
        now = self.numbers()  # the copy's other numbers as they stand
        pass_lp(
            self.highs,
            self.a,
            now.cost,
            (now.col_lower, now.col_upper),
            (now.row_lower, now.row_upper),
            self.integrality if self.is_mip else None,
            now.offset,
        )

    def _entries(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
        """Where the entries (rows, cols) sit in ``a.data``; None if one is not a non-zero."""
        a = self.a
        if self.a_keys is None:
            row_of = np.repeat(np.arange(a.shape[0], dtype=np.int64), np.diff(a.indptr))
            self.a_keys = row_of * a.shape[1] + a.indices
        wanted = rows * a.shape[1] + cols
        if len(self.a_keys) == 0:
            return None if len(wanted) else np.array([], dtype=np.int64)
        at = np.minimum(np.searchsorted(self.a_keys, wanted), len(self.a_keys) - 1)
        return at if len(at) == 0 or (self.a_keys[at] == wanted).all() else None

    def change_rows(self, index: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(index):
            self.highs.changeRowsBounds(len(index), index, lower, upper)

    # ------------------------------------------------------------------ solving
    def cancel(self) -> None:
        """Stop the solve under way from another thread (Ctrl-C while a pool solves)."""
        self.highs.cancelSolve()
        cut = self.cut
        if cut is not None:
            cut.cancelSolve()

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
        restrict: bool = True,
        start: np.ndarray | None = None,
    ) -> Found:
        """Solve the current copy: the restricted search (``_restricted``), then HiGHS's MIP on
        the whole model if it did not prove an optimum (at once without ``restrict``).
        ``start``: a feasible allocation in hand (every column; the caller has checked it), the
        incumbent from the first solve and HiGHS's MIP start."""
        self._time_limit(time_limit)
        self.solves += 1
        highs = self.highs
        if not self.is_mip:
            status, _ = run(highs, False)
            return self._found(status)
        best = None
        if start is not None:
            values = np.asarray(start, dtype=float)
            best = Found(Status.FEASIBLE, values, self.objective_of(values))
        if restrict and self.select_cols:
            with self._reading():
                found, best = self._restricted(best)
            if found is not None:
                return found
        if best is not None:  # the allocation in hand as the MIP's start
            self._give(best)
        self.mip_runs += 1
        status, bound = run(highs, True)
        found = self._found(status)
        return Found(found.status, found.values, found.objective, _model_sense(self, bound))

    def _found(self, status: Status) -> Found:
        if not status.has_solution:
            return Found(status, None, None)
        values = np.array(self.highs.getSolution().col_value, dtype=float)
        return Found(status, values, self.sign * self.highs.getInfo().objective_function_value)

    def _give(self, found: Found) -> None:
        import highspy

        given = highspy.HighsSolution()
        given.col_value = list(found.values)
        given.value_valid = True
        self.highs.setSolution(given)

    def _restricted(self, best: Found | None) -> tuple[Found | None, Found | None]:
        """Up to ``ROUNDS`` times: the best allocation among a set of countries (HiGHS's MIP with
        every other country held out: small once presolved), then the relaxation with at least
        one country from outside the set (the ``outside`` row). The two cover every allocation,
        so an outside bound no better than the allocation in hand (within the MIP gap) proves it
        optimal; otherwise the countries that outside relaxation funds join the set. The set
        starts from the allocation in hand, the previous optimum's selection (not after a new
        objective) and the locked-in countries (none on a first solve: the first outside
        relaxation is the model's own, less the empty selection). (None, best so far) hands over
        to HiGHS's MIP on the whole model."""
        cols = self.country_cols
        # the integer columns' bounds as they stand (an analysis may have changed them for a block)
        ycols = self.integer_cols
        now = self.col_lower.copy(), self.col_upper.copy()
        _, _, _, now[0][ycols], now[1][ycols], _ = self.highs.getCols(len(ycols), ycols)
        # After a new objective (a Monte Carlo draw) the previous selection is a poor guess: the
        # outside relaxation comes first, without it, and the countries it funds make the set
        # (measured on the baseline's draws: the first MIP, on the previous set, never settled
        # it; the previous set kept in as well made the MIPs' sets about 11 countries, not 8).
        guess_first = self.new_costs and best is None
        self.new_costs = False
        chosen = {c for c, i in self.select_cols.items() if now[0][i] > 0.5}
        last = None if guess_first else self.last
        if best is None and last is not None and len(last) == len(self.variables):
            # the last optimum's countries and tipping points with their amounts re-solved
            # under the change, as the first MIP's start: HiGHS then only proves it (measured on
            # the baseline's budget changes: 0.12-0.13 s against 0.29-0.34 s, for 0.03 s)
            start = self.fixed_cut(last)
            if start is not None:
                best = Found(Status.FEASIBLE, *start)
        for guess in (best.values if best is not None else None, last):
            if guess is not None and len(guess) == len(self.variables):
                chosen |= {c for c, i in self.select_cols.items() if guess[i] > 0.5}
        score = self._score  # larger is better, whatever the model's sense
        bounds = []  # bounds of the parts searched, in the model's sense

        def enough(found: Found) -> float:  # no score above this beats ``found`` (the MIP gap)
            return score(found.objective) + self.settings.mip_gap * abs(found.objective)

        if guess_first:
            self.root_basis = None
            self.highs.clearSolver()
            if self.split is not None:
                self.split.forget()
        for round_ in range(ROUNDS):
            searched = round_ > 0 or not guess_first  # the set's own allocations, this round
            if searched:
                inner = self._within(chosen, best, now)
                if inner.status not in (Status.OPTIMAL, Status.INFEASIBLE):
                    return None, best
                if inner.status == Status.OPTIMAL:
                    bounds.append(inner.bound)
                    if best is None or score(inner.objective) > score(best.objective):
                        best = inner
            outside = [c for c in cols if c not in chosen]
            limit = None if best is None else enough(best)
            # a round that searched nothing only needs the countries the relaxation funds
            out = (
                self._outside(outside, limit, rough=not searched)
                if outside
                else Found(Status.INFEASIBLE, None, None)
            )
            if out.status not in (Status.OPTIMAL, Status.INFEASIBLE):
                return None, best
            if out.status == Status.OPTIMAL:
                whole = out.values is not None and self._integral(out.values)
                if whole:  # the relaxation's own allocation is whole: an allocation in hand
                    found = Found(Status.OPTIMAL, out.values, self.objective_of(out.values))
                    if best is None or score(found.objective) > score(best.objective):
                        best = found
                proven = best is not None and score(out.objective) <= enough(best)
                if not (searched and proven):  # the countries it funds join the set
                    chosen |= {c for c in outside if out.values[self.select_cols[c]] > SUPPORT}
                    if best is None:  # its selection rounded, as the first MIP's start
                        start = self.fixed_cut(out.values)
                        best = None if start is None else Found(Status.FEASIBLE, *start)
                    continue
                bounds.append(out.objective)
            elif not searched:
                continue  # no allocation funds a country outside the set: search the set
            if best is None:
                return Found(Status.INFEASIBLE, None, None), None
            bound = max([*bounds, best.objective], key=score)
            return Found(Status.OPTIMAL, best.values, best.objective, bound), best
        return None, best

    @contextlib.contextmanager
    def _reading(self):
        """The copy read once (``lp``, ``matrix``, ``numbers``) while nothing lasting changes: a
        restricted search, and a solve's search and final LP (every change they make is undone
        before the next read)."""
        if self.lp_now is not None:  # within a reading already
            yield
            return
        self.lp_now = self.highs.getLp()
        try:
            yield
        finally:
            self.lp_now = self.matrix_now = self.numbers_now = None

    def lp(self):
        """The copy's HighsLp as it stands (read once for a restricted search, which changes
        nothing lasting: every change it makes is undone before the next read)."""
        return self.lp_now if self.lp_now is not None else self.highs.getLp()

    def numbers(self) -> Numbers:
        """``lp()``'s numbers as arrays (converted once a reading: ``_reading``)."""
        if self.lp_now is None:
            return Numbers.of(self.highs.getLp())
        if self.numbers_now is None:
            self.numbers_now = Numbers.of(self.lp_now)
        return self.numbers_now

    def matrix(self):
        """``matrix_of(self.lp())``: the session's own (``a``), unless an analysis has added rows
        or columns to the copy (then read from HiGHS, once for a restricted search)."""
        if (self.highs.getNumRow(), self.highs.getNumCol()) == self.a.shape:
            return self.a
        if self.lp_now is None:
            return matrix_of(self.lp())
        if self.matrix_now is None:
            self.matrix_now = matrix_of(self.lp_now)
        return self.matrix_now

    def _score(self, objective: float) -> float:
        """An objective in the model's sense as a score to maximise."""
        return -self.sign * objective

    def _integral(self, values: np.ndarray) -> bool:
        y = values[self.integer_cols]
        return bool((np.abs(y - np.round(y)) <= INTEGRALITY_TOLERANCE).all())

    def _within(self, chosen: set[str], best: Found | None, now) -> Found:
        """The model with every country outside ``chosen`` held at 0 (its selection and the rest
        of its integer columns), by HiGHS's MIP (an LP if no integer column is left free); ``now``:
        the column bounds (lower, upper) as they stand, restored after. The MIP runs on the
        model with those countries cut out (``_cut_out``) where that is the same problem."""
        held = [i for c, index in self.country_cols.items() if c not in chosen for i in index]
        held = np.array(held, dtype=np.int32)
        free = len(self.integer_cols) - len(held)
        if free > 0:
            cut = self._cut_out(chosen)
            if cut is not None:
                self.restricted_runs += 1
                return self._within_cut(*cut, best)
        highs = self.highs
        highs.changeColsBounds(len(held), held, np.zeros(len(held)), np.zeros(len(held)))
        try:
            if best is not None and not best.values[held].any():
                self._give(best)
            if free == 0:
                self._integrality(self.integer_cols, False)
            else:
                self.restricted_runs += 1
            status, bound = run(highs, free > 0)
            found = self._found(status)
            if free == 0:  # an LP: its optimum is its own bound
                return Found(found.status, found.values, found.objective, found.objective)
            return Found(found.status, found.values, found.objective, _model_sense(self, bound))
        finally:
            if free == 0:
                self._integrality(self.integer_cols, True)
            highs.changeColsBounds(len(held), held, now[0][held], now[1][held])

    def _cut_out(self, chosen: set[str]):
        """The model without the countries outside ``chosen``, as ``pass_lp``'s arguments, and
        the kept columns (a mask). A country held out has every column of its own at 0 (its spend
        through the selection links, the rest through the rows that define them from its
        spend), so its columns go, and so do the rows left with no column: the same problem
        as holding its selection at 0, without the 0.2 s HiGHS's presolve takes to remove
        43,000 rows from the whole model on the baseline. None where cutting would not be the
        same problem: an elastic model (a slack may be used at 0), or a column or row cut out
        whose bounds exclude 0."""

        if self.model.slacks:
            return None
        numbers = self.numbers()  # the copy as it stands: an analysis's changes included
        kept = (self.col_country == "") | np.isin(self.col_country, sorted(chosen))
        lower, upper = numbers.col_lower, numbers.col_upper
        if (lower[~kept] > 0).any() or (upper[~kept] < 0).any():
            return None
        part = self.matrix()[:, kept]
        rows = part.getnnz(axis=1) > 0
        rows[self.outside_row] = False  # free during this solve
        row_lower, row_upper = numbers.row_lower, numbers.row_upper
        if (row_lower[~rows] > 0).any() or (row_upper[~rows] < 0).any():
            return None
        cut = (
            part[rows, :],
            numbers.cost[kept],
            (lower[kept], upper[kept]),
            (row_lower[rows], row_upper[rows]),
            self.integrality[kept],
            numbers.offset,
        )
        return cut, kept

    def _own_highs(self):
        """A HiGHS instance of its own with the session's settings, of the session's class (an
        analysis's copies solve in its thread)."""
        with _stdout_silenced():
            highs = type(self.highs)()
        _highs_options(highs, self.settings)
        return highs

    def _within_cut(self, cut, kept: np.ndarray, best: Found | None) -> Found:
        """HiGHS's MIP on the cut-out model (``_cut_out``), on an instance of its own with the
        session's settings and what is left of its time limit; values mapped back to every
        column (0 for those cut out)."""
        import highspy

        highs = self._own_highs()
        for option, value in CUT_OUT_OPTIONS.items():
            highs.setOptionValue(option, value)
        _, limit = self.highs.getOptionValue("time_limit")
        highs.setOptionValue("time_limit", max(0.0, limit - self.highs.getRunTime()))
        pass_lp(highs, *cut)
        if best is not None and not best.values[~kept].any():
            given = highspy.HighsSolution()
            given.col_value = list(best.values[kept])
            given.value_valid = True
            highs.setSolution(given)
        self.cut = highs
        try:
            status, bound = run(highs, True)
        finally:
            self.cut = None
        if not status.has_solution:
            return Found(status, None, None)
        values = np.zeros(len(self.variables))
        values[kept] = highs.getSolution().col_value
        objective = self.sign * highs.getInfo().objective_function_value
        return Found(status, values, objective, _model_sense(self, bound))

    def _outside(self, outside: list[str], enough: float | None, rough: bool = False) -> Found:
        """The relaxation with the selections of ``outside`` summing to at least 1: bounded by
        the decomposition by country (``optimizer.decompose``) where it can tell, else solved
        whole (``_outside_lp``). ``enough``: the score (``_score``) of the allocation in hand,
        with the MIP gap; a bound that proves the relaxation can do no better stops it (an
        optimal status, no values, that bound as the objective). ``rough``: the allocation may
        be within ``ROUGH`` of the relaxation's optimum (its objective is still a bound)."""
        found = self._outside_split(outside, enough, ROUGH if rough else 0.0)
        return found if found is not None else self._outside_lp(outside, enough)

    def _outside_split(
        self, outside: list[str], enough: float | None, rough: float = 0.0
    ) -> Found | None:
        from optimizer.decompose import Decomposition

        if self.model.slacks or not self.splits:
            return None
        split = self.split
        if split is None or not split.current():
            split = self.split = Decomposition(self, split)
        target = None if enough is None else -enough  # HiGHS's value is minus the score
        got = split.bound(set(outside), target, rough)
        if got is None:
            return None
        reached = -got.bound  # a score: HiGHS minimises minus the score
        if got.values is None:
            return Found(Status.OPTIMAL, None, -self.sign * min(reached, enough))
        return Found(Status.OPTIMAL, got.values, -self.sign * reached)

    def _outside_lp(self, outside: list[str], enough: float | None) -> Found:
        """The relaxation solved whole: the outside row (free otherwise) gets its terms, warm
        from the last such relaxation's basis; HiGHS's dual simplex stops at ``enough``."""
        import highspy

        highs, row = self.highs, self.outside_row
        members = {self.select_cols[c] for c in outside}
        for i in self.select_cols.values():
            highs.changeCoeff(row, i, 1.0 if i in members else 0.0)
        highs.changeRowBounds(row, 1.0, np.inf)
        self._integrality(self.integer_cols, False)
        try:
            if self._valid(self.root_basis):
                highs.setBasis(self.root_basis)
            if enough is not None:  # HiGHS minimises: its objective is minus the score
                highs.setOptionValue("objective_bound", -enough)
            status, _ = run(highs, False)
            if highs.getModelStatus() == highspy.HighsModelStatus.kObjectiveBound:
                self.root_basis = highs.getBasis()
                reached = min(-highs.getInfo().objective_function_value, enough)  # a score
                return Found(Status.OPTIMAL, None, -self.sign * reached)
            if status == Status.OPTIMAL:
                self.root_basis = highs.getBasis()
            return self._found(status)
        finally:
            highs.setOptionValue("objective_bound", np.inf)
            highs.changeRowBounds(row, -np.inf, np.inf)
            for i in self.select_cols.values():  # the row left empty: the split's key holds
                highs.changeCoeff(row, i, 0.0)
            self._integrality(self.integer_cols, True)

    def _valid(self, basis) -> bool:
        size = (self.highs.getNumCol(), self.highs.getNumRow())
        return basis is not None and (len(basis.col_status), len(basis.row_status)) == size

    def fixed_lp(
        self, fixed: np.ndarray, cold: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The LP with every integer column at ``fixed`` (the run's final LP), solved in full
        precision: (column values, row duals, column duals), duals in the objective's sense
        (impact units per model unit); None if it has no optimum. ``cold``: from no basis, so
        that the amounts do not depend on the solves before (a Monte Carlo study gives the same
        bytes whichever worker solved which draw). Leaves the copy's bounds and integrality as
        they were (the next outside relaxation starts from its own basis)."""
        if cold:  # the model handed over anew: HiGHS keeps the scaling it computed from the
            # numbers of its first solve, so a worker whose first solve was another draw gave
            # amounts that differed in the last digits (tests/test_uncertainty.py)
            self.highs.passModel(self.highs.getLp())
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

    def solve(self, settings: SolverSection | None = None, duals: bool = True) -> Solution:
        """The model's solve (``solve.solve`` with HiGHS): ``search``, then the fixed LP, from no
        basis, for the amounts and the row duals. ``settings``: the scenario's solver settings,
        if changed. Without ``duals`` (a Monte Carlo draw) the fixed LP runs on the chosen
        countries alone (``fixed_cut``) and the solution has no duals."""
        import time

        if settings is not None:
            self.settings = settings
            _highs_options(self.highs, settings)
        start = time.perf_counter()
        with self._reading():
            found = self.search()
            values, row_duals = found.values, None
            if found.status.has_solution and self.model.select:
                polished = None if duals else self.fixed_cut(found.values)
                if polished is None:
                    polished = self.fixed_lp(np.round(found.values[self.integer_cols]), cold=True)
                    if polished is not None and duals:
                        row_duals = polished[1]
                if polished is not None:
                    values = polished[0]
            elif found.status == Status.OPTIMAL and not self.is_mip:
                solution = self.highs.getSolution()
                if solution.dual_valid and duals:
                    row_duals = self.sign * np.array(solution.row_dual)
        detail = ""
        if found.status == Status.ERROR:
            status_text = self.highs.modelStatusToString(self.highs.getModelStatus())
            detail = f"HiGHS model status: {status_text}"
        if found.status.has_solution:
            self.last = values
        return self.solution(found, values, row_duals, time.perf_counter() - start, detail)

    def fixed_cut(self, found: np.ndarray) -> tuple[np.ndarray, float] | None:
        """``fixed_lp``'s amounts without its duals: the LP with every integer column at its
        value in ``found`` on the model with the countries ``found`` does not choose cut out
        (``_cut_out``: their columns are 0 in every allocation), on an instance of its own, so
        from no basis. The same LP, about a tenth of the rows: 0.03 s against 0.09 s on the
        baseline. (values, objective in the model's sense, on the copy's costs as they stand);
        None where cutting is not the same problem, an integer value is outside its column's
        bounds as they stand (an analysis holding a country out) or the LP ends otherwise
        than optimal."""
        chosen = {c for c, i in self.select_cols.items() if found[i] > 0.5}
        cut = self._cut_out(chosen)
        if cut is None:
            return None
        (matrix, cost, (lower, upper), rows, integrality, offset), kept = cut
        whole = np.flatnonzero(integrality != 0)  # the integer columns kept: at their values
        at = np.round(found[kept][whole])
        if (at < lower[whole]).any() or (at > upper[whole]).any():
            return None
        lower, upper = lower.copy(), upper.copy()
        lower[whole] = upper[whole] = at
        highs = self._own_highs()
        highs.setOptionValue("dual_feasibility_tolerance", POLISH_TOLERANCE)
        pass_lp(highs, matrix, cost, (lower, upper), rows, offset=offset)
        status, _ = run(highs, False)
        if status != Status.OPTIMAL:
            return None
        values = np.zeros(len(self.variables))
        values[kept] = highs.getSolution().col_value
        return values, self.sign * highs.getInfo().objective_function_value

    def solution(self, found: Found, values, duals, seconds: float, detail: str) -> Solution:
        objective = self.objective_of(values) if found.status.has_solution else None
        bound = found.bound
        if found.status == Status.OPTIMAL and bound is None:
            bound = objective
        return Solution(
            status=found.status,
            objective=objective,
            bound=bound,
            gap=_relative_gap(objective, bound),
            values={} if values is None else dict(zip(self.names, values.tolist(), strict=True)),
            duals=dict(zip(self.row, duals.tolist(), strict=False)) if duals is not None else {},
            solve_seconds=seconds,
            solver="highs",
            solver_version=solver_version("highs"),
            detail=detail,
        )


def pass_lp(highs, matrix, cost, cols: tuple, rows: tuple, integrality=None, offset=0.0) -> None:
    """Hand ``highs`` a model (to minimise) as arrays: a SciPy matrix (rows x columns), its
    costs, its (lower, upper) column and row bounds, for a MIP its integrality (HiGHS's
    variable types as integers) and the objective's offset (HiGHS's array call: a HighsLp's
    fields convert element by element)."""
    import highspy

    csc = matrix.tocsc()
    num_row, num_col = csc.shape
    if integrality is None:
        integrality = np.zeros(num_col, dtype=np.int32)  # every column continuous
    status = highs.passModel(
        num_col,
        num_row,
        csc.nnz,
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        float(offset),
        np.asarray(cost, dtype=float),
        np.asarray(cols[0], dtype=float),
        np.asarray(cols[1], dtype=float),
        np.asarray(rows[0], dtype=float),
        np.asarray(rows[1], dtype=float),
        csc.indptr[:-1].astype(np.int32),  # each column's start
        csc.indices.astype(np.int32),
        csc.data.astype(float),
        np.asarray(integrality, dtype=np.int32),
    )
    if status != highspy.HighsStatus.kOk:
        raise RuntimeError(f"HiGHS refused a model passed as arrays: {status}")


def matrix_of(lp):
    """The constraint matrix of a HighsLp as a SciPy sparse matrix (rows x columns, CSR)."""
    import highspy
    from scipy import sparse

    a = lp.a_matrix_
    data = (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_))
    shape = (lp.num_row_, lp.num_col_)
    if a.format_ == highspy.MatrixFormat.kRowwise:
        return sparse.csr_matrix(data, shape=shape)
    return sparse.csc_matrix(data, shape=shape).tocsr()


def _model_sense(session: Session, bound: float | None) -> float | None:
    return None if bound is None else session.sign * bound
