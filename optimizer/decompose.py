"""The outside relaxation by Dantzig-Wolfe decomposition: the model split by country.

On the allocation model only a few rows tie countries together (the budget, the yearly caps, the
counts, the regions, the earmarks: the *shared* rows); every other row is one country's own. A
country's own rows with its selection at 1 make a small LP (about 580 columns on the baseline);
an allocation has each country either at 0 (its selection at 0 holds every column of its own at
0: ``tests/test_session.py``) or at a point of that LP. So the relaxation the search needs (at
least one country outside the set funded, ``Session._outside``) is bounded by a master LP over
*compacts* proposed country by country: the shared rows, one convexity row a country (its
selection, between its bounds), the outside row; each round prices every country's LP at the
master's row duals and adds the compacts that improve it.

Every round also gives a Lagrangian bound (weak duality: valid for any prices, not only at the
end), so the search stops as soon as that bound proves the allocation in hand, often after a
round or two when the prices of the last solve still hold (a budget change moves only a shared
row). Where it cannot tell (the master needs a broken row at its optimum: the relaxation may be
infeasible; a country's LP ends otherwise than optimal or infeasible; ``ROUNDS`` or the scenario's
time limit pass), ``bound`` returns None and the session solves the relaxation whole.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.session import pass_lp

ROUNDS = 40  # pricing rounds before handing back to the whole relaxation
PENALTY = 1e6  # HiGHS cost of one unit of an artificial column (a shared row broken)
KEEP = 2000  # proposals kept between solves (the newest): the master stays small
REDUCED = 1e-9  # relative: a compact whose reduced cost is below -REDUCED x scale joins
INF = float("inf")


@dataclass
class Block:
    """One country: its columns and own rows, on a HiGHS LP of its own (selection at 1)."""

    iso: str
    cols: np.ndarray  # column indices in the session's order
    highs: object  # the LP with the selection at 1 (None: no compact is feasible)
    low: float  # the convexity row's bounds: the selection's (0 or 1)
    high: float
    coupling: np.ndarray  # the shared rows on its columns (dense: a compact's image in the master)


@dataclass(frozen=True)
class Bound:
    """What the decomposition proves: a bound (HiGHS's sense, a minimum), and where it ended
    the master's allocation (every column) if it converged (or came within ``rough``)."""

    bound: float
    values: np.ndarray | None


@dataclass(frozen=True)
class _Layout:
    """Where each country's rows and columns sit in the session's matrix, which depends on its
    pattern alone (``indices``, ``indptr``): a split of new numbers on the same pattern (a Monte
    Carlo draw) reuses it."""

    indices: np.ndarray
    indptr: np.ndarray
    n_rows: int
    shared: np.ndarray  # rows of two countries or more, or of none
    own: np.ndarray  # every other row
    loose: np.ndarray  # columns of no country
    blocks: list[_CountryLayout]  # per country, in the session's order


@dataclass(frozen=True)
class _CountryLayout:
    """One country in a layout: its own rows and columns, its LP's matrix as a pattern
    (``pattern``: CSR indices, indptr, shape; ``at``: each entry's place in the session's
    matrix data), its rows made bounds (``singles``) and the rows kept, as a CSC pattern and
    places (``kept``)."""

    rows: np.ndarray
    cols: np.ndarray
    pattern: tuple
    at: np.ndarray
    singles: _Singles
    kept: tuple


def _layout(matrix, n_rows: int, session) -> _Layout:
    country, selects = session.col_country, list(session.select_cols)
    rows_matrix = matrix[:n_rows]
    owner = _owners(rows_matrix, country, selects)
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], selects)
    ends = np.searchsorted(owner[order], selects, side="right")
    by_country = np.argsort(country, kind="stable")
    first = np.searchsorted(country[by_country], selects)
    last = np.searchsorted(country[by_country], selects, side="right")
    # rows by owner, columns by country: each country's own rows and columns are one block; the
    # entries' data are their positions (1-based: none is zero) in the matrix's data
    position = type(rows_matrix)(
        (np.arange(1.0, rows_matrix.nnz + 1), rows_matrix.indices, rows_matrix.indptr),
        shape=rows_matrix.shape,
    )
    ordered = position[order][:, by_country].tocsr()
    blocks = []
    spans = zip(session.select_cols.values(), starts, ends, first, last, strict=True)
    for y, ra, rb, a, b in spans:
        own = ordered[ra:rb][:, a:b].tocsr()
        cols = by_country[a:b]
        singles = _singles(own, int(np.flatnonzero(cols == y)[0]))
        kept = own[singles.keep].tocsc()
        blocks.append(
            _CountryLayout(
                order[ra:rb],
                cols,
                (own.indices.copy(), own.indptr.copy(), own.shape),
                own.data.astype(np.int64) - 1,
                singles,
                (kept.indices, kept.indptr, kept.shape, kept.data.astype(np.int64) - 1),
            )
        )
    return _Layout(
        matrix.indices.copy(),
        matrix.indptr.copy(),
        n_rows,
        np.flatnonzero(owner == ""),
        np.flatnonzero(owner != ""),
        np.flatnonzero(country == ""),
        blocks,
    )


class Decomposition:
    """The session's model split by country; proposals and prices kept between solves."""

    def __init__(self, session, last: Decomposition | None = None):
        """``last``: the split this one replaces; its layout is reused where the matrix's
        pattern is the same (new numbers only)."""
        from scipy import sparse

        self.session = session
        numbers, matrix = session.numbers(), session.matrix()
        n_rows = len(numbers.row_lower) - 1  # the last row is the session's outside row
        layout = None if last is None else last.layout
        if layout is None or not (
            layout.n_rows == n_rows
            and np.array_equal(layout.indptr, matrix.indptr)
            and np.array_equal(layout.indices, matrix.indices)
        ):
            layout = _layout(matrix, n_rows, session)
        self.layout = layout
        self.num_col = len(numbers.cost)
        self.cost = numbers.cost
        lower, upper = numbers.col_lower, numbers.col_upper
        row_lower, row_upper = numbers.row_lower[:n_rows], numbers.row_upper[:n_rows]
        self.shared, self.own, self.loose = layout.shared, layout.own, layout.loose
        self.key = _key(numbers, matrix, self.own)
        self.made_from = numbers, matrix
        self.shared_lower, self.shared_upper = row_lower[self.shared], row_upper[self.shared]
        self.coupling = matrix[self.shared].tocsc()  # shared rows x every column
        dense = self.coupling.toarray()
        self.loose_lower, self.loose_upper = lower[self.loose], upper[self.loose]
        self.blocks: list[Block] = []
        pool = session.block_highs  # the last split's HiGHS instances, given new models
        data = matrix.data
        for k, ((iso, y), part) in enumerate(
            zip(session.select_cols.items(), layout.blocks, strict=True)
        ):
            cols = part.cols
            r_lo, r_hi = row_lower[part.rows], row_upper[part.rows]
            c_lo, c_hi = lower[cols].copy(), upper[cols].copy()
            zero_ok = bool((r_lo <= 0).all() and (r_hi >= 0).all())
            zero_ok &= bool((c_lo <= 0).all() and (c_hi >= 0).all())
            low = 0.0 if zero_ok else 1.0
            high = 1.0 if upper[y] >= 1.0 else 0.0
            highs = None
            if high > 0:
                at = part.singles.at
                c_lo[at], c_hi[at] = 1.0, 1.0
                while len(pool) <= k:
                    pool.append(_highs())
                highs = pool[k]
                own_data = data[part.at]
                found = None  # rows made bounds on the layout's pattern (no entry 0)
                if own_data.all():
                    found = _bounds_of(part.singles, own_data, (r_lo, r_hi), (c_lo, c_hi))
                if found is not None:
                    (r_lo, r_hi), (c_lo, c_hi) = found
                    indices, indptr, shape, places = part.kept
                    own = sparse.csc_matrix((data[places], indices, indptr), shape=shape)
                else:  # _as_bounds itself: the LP as it is where its bounds would cross
                    indices, indptr, shape = part.pattern
                    own = sparse.csr_matrix((own_data, indices, indptr), shape=shape)
                    own, (r_lo, r_hi), (c_lo, c_hi) = _as_bounds(
                        own, at, (r_lo, r_hi), (c_lo, c_hi)
                    )
                pass_lp(highs, own, np.zeros(own.shape[1]), (c_lo, c_hi), (r_lo, r_hi))
            self.blocks.append(Block(iso, cols, highs, low, high, dense[:, cols]))
        # proposals: (block index, column values on the block's columns)
        self.proposals: list[tuple[int, np.ndarray]] = []
        self.duals: np.ndarray | None = None  # the shared rows' last prices (HiGHS's sense)

    def forget(self) -> None:
        """Start the next bound from no proposal and no prices (a new objective: the search
        after it does not depend on the solves before)."""
        self.proposals, self.duals = [], None

    def current(self) -> bool:
        """Whether the session's model is still the one split (a change to a country's own
        numbers, a column's bounds or the matrix needs a new split; shared rows' bounds may
        move)."""
        numbers, matrix = self.session.numbers(), self.session.matrix()
        if numbers is self.made_from[0] and matrix is self.made_from[1]:
            return True  # read once for this search: the very numbers split
        return _key(numbers, matrix, self.own) == self.key

    def bound(self, outside: set[str], target: float | None, rough: float = 0.0) -> Bound | None:
        """The relaxation with at least one country of ``outside`` funded, by rounds of pricing:
        stops when the Lagrangian bound reaches ``target`` (HiGHS's sense: the allocation in
        hand's value with the MIP gap), when no compact improves the master, or (``rough`` > 0)
        when the master's allocation is within ``rough`` (relative) of the bound: then the
        bound is the Lagrangian one and the allocation near the relaxation's optimum, not at
        it. None where it cannot tell (see the module's text)."""
        from highspy import _core

        try:
            return self._bound(outside, target, rough)
        finally:  # as ``analysis.resolve``'s thread copies do: this thread's share of HiGHS's
            # scheduler is released, or a later solve in another thread fails at once
            _core._Highs.resetThreadScheduler(False)

    def _bound(self, outside: set[str], target: float | None, rough: float) -> Bound | None:
        numbers = self.session.numbers()
        self.shared_lower = numbers.row_lower[self.shared]
        self.shared_upper = numbers.row_upper[self.shared]
        self.cost = numbers.cost
        self.proposals = self.proposals[-KEEP:]
        master = _Master(self, outside)
        synced = bool(master.columns) and master.solve()  # prices from this master
        if synced:
            self.duals = master.shared_duals()
        elif self.duals is None:
            self.duals = np.zeros(len(self.shared))
        best = -INF
        deadline = time.perf_counter() + self.session.settings.time_limit_s
        for _round in range(ROUNDS):
            if time.perf_counter() > deadline:
                return None  # the whole relaxation, with the session's own time limit
            prices = self._clip(self.duals)
            found = self._price(prices)
            if found is None:
                return None
            values, reduced = found
            mu = master.outside_dual if synced else 0.0  # any mu >= 0 gives a bound
            best = max(best, self._lagrangian(prices, mu, outside, reduced))
            if target is not None and best >= target:
                return Bound(best, None)
            if rough > 0 and synced and master.artificial() <= 1e-7:
                value = master.objective()
                if value - best <= rough * max(1.0, abs(value)):
                    return Bound(best, master.values())
            added = master.add(values, reduced, synced)
            if synced and not added:  # no compact improves the master at its prices: converged
                if master.artificial() > 1e-7:
                    return None  # the master needs a broken row: infeasible, or no proof
                return Bound(master.objective(), master.values())
            if not master.solve():
                return None
            self.duals, synced = master.shared_duals(), True
        return None

    # ------------------------------------------------------------------ parts
    def _clip(self, duals: np.ndarray) -> np.ndarray:
        """Prices the Lagrangian bound can use: a row's price on a side with no bound is 0."""
        prices = duals.copy()
        prices[(prices > 0) & ~np.isfinite(self.shared_lower)] = 0.0
        prices[(prices < 0) & ~np.isfinite(self.shared_upper)] = 0.0
        return prices

    def _price(self, prices: np.ndarray):
        """Each country's best compact at ``prices``: (values, reduced cost) a block, None for a
        block with no compact; None in all if an LP ends otherwise than optimal or infeasible."""
        import highspy

        reduced_costs = self.cost - self.coupling.T @ prices
        values, reduced = [], []
        for block in self.blocks:
            if block.highs is None:
                values.append(None)
                reduced.append(None)
                continue
            highs = block.highs
            costs = reduced_costs[block.cols]
            highs.changeColsCost(len(costs), np.arange(len(costs), dtype=np.int32), costs)
            highs.run()
            status = highs.getModelStatus()
            if status == highspy.HighsModelStatus.kInfeasible:
                block.highs, block.high = None, 0.0  # no compact: the country stays at 0
                values.append(None)
                reduced.append(None)
                continue
            if status != highspy.HighsModelStatus.kOptimal:
                return None
            values.append(np.array(highs.getSolution().col_value))
            reduced.append(highs.getObjectiveValue())
        return values, reduced

    def _lagrangian(self, prices, outside_dual, outside, reduced) -> float:
        """Weak duality: a lower bound (HiGHS's sense) on the relaxation, at any prices."""
        up, down = prices > 0, prices < 0  # a row's price on the side it is held at
        total = float(prices[up] @ self.shared_lower[up] + prices[down] @ self.shared_upper[down])
        mu = max(outside_dual, 0.0) if outside else 0.0
        total += mu  # the outside row: sum >= 1
        for block, value in zip(self.blocks, reduced, strict=True):
            if value is None:
                if block.low > 0:
                    return -INF
                continue
            value -= mu if block.iso in outside else 0.0
            total += min(block.low * value, block.high * value)
        d = self.cost[self.loose] - self.coupling[:, self.loose].T @ prices
        lower, upper = self.loose_lower, self.loose_upper
        per = float(d[d > 0] @ lower[d > 0] + d[d < 0] @ upper[d < 0])  # -inf: no bound
        return total + per + float(self.session.offset)


class _Master:
    """The restricted master LP: shared rows, convexity rows, the outside row; the loose
    columns, an artificial pair on every row, the proposals so far."""

    def __init__(self, dec: Decomposition, outside: set[str]):
        self.dec, self.outside = dec, outside
        self.highs = h = _highs()
        n_shared, n_blocks = len(dec.shared), len(dec.blocks)
        self.conv0 = n_shared
        self.out_row = n_shared + n_blocks
        lower = np.concatenate(
            [dec.shared_lower, [b.low for b in dec.blocks], [1.0 if outside else -INF]]
        )
        upper = np.concatenate([dec.shared_upper, [b.high for b in dec.blocks], [INF]])
        h.addRows(
            len(lower),
            lower,
            upper,
            0,
            np.array([], dtype=np.int32),
            np.array([], dtype=np.int32),
            np.array([]),
        )
        # the loose columns
        sub = dec.coupling[:, dec.loose].tocsc()
        h.addCols(
            len(dec.loose),
            dec.cost[dec.loose],
            dec.loose_lower,
            dec.loose_upper,
            sub.nnz,
            sub.indptr[:-1].astype(np.int32),
            sub.indices.astype(np.int32),
            sub.data,
        )
        # artificial columns: +1 and -1 on every row, at PENALTY
        n = len(lower)
        index = np.arange(n, dtype=np.int32)
        for sign in (1.0, -1.0):
            h.addCols(
                n,
                np.full(n, PENALTY),
                np.zeros(n),
                np.full(n, INF),
                n,
                index,
                index,
                np.full(n, sign),
            )
        self.n_fixed = len(dec.loose) + 2 * n
        self.columns: list[tuple[int, np.ndarray]] = []
        for b, values in dec.proposals:
            self._column(b, values)

    def _column(self, b: int, values: np.ndarray) -> None:
        dec = self.dec
        block = dec.blocks[b]
        cost = float(dec.cost[block.cols] @ values)
        shared = block.coupling @ values
        nz = np.flatnonzero(shared)
        index = [*nz.tolist(), self.conv0 + b]
        value = [*shared[nz].tolist(), 1.0]
        if block.iso in self.outside:
            index.append(self.out_row)
            value.append(1.0)
        self.highs.addCol(
            cost, 0.0, INF, len(index), np.array(index, dtype=np.int32), np.array(value)
        )
        self.columns.append((b, values))

    def add(self, values, reduced, synced: bool) -> bool:
        """The compacts whose reduced cost (at the master's convexity and outside duals, if
        ``values`` were priced at the master's own prices; else every compact) is negative
        join; whether any did."""
        dual = self._row_duals() if synced else None
        added = False
        for b, (v, r) in enumerate(zip(values, reduced, strict=True)):
            if v is None:
                continue
            block = self.dec.blocks[b]
            price = dual[self.conv0 + b] if dual is not None else 0.0
            price += dual[self.out_row] if (dual is not None and block.iso in self.outside) else 0.0
            if r - price < -REDUCED * max(1.0, abs(r)):
                self._column(b, v)
                self.dec.proposals.append((b, v))
                added = True
        return added

    def solve(self) -> bool:
        import highspy

        self.highs.run()
        return self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal

    def _row_duals(self):
        if self.highs.getModelStatus().name != "kOptimal":
            return None
        return np.array(self.highs.getSolution().row_dual)

    @property
    def outside_dual(self) -> float:
        dual = self._row_duals()
        return 0.0 if dual is None else float(dual[self.out_row])

    def shared_duals(self) -> np.ndarray:
        return np.array(self.highs.getSolution().row_dual)[: len(self.dec.shared)]

    def objective(self) -> float:
        """The master's value in HiGHS's sense, the model's offset included."""
        return self.highs.getInfo().objective_function_value + float(self.dec.session.offset)

    def artificial(self) -> float:
        x = np.array(self.highs.getSolution().col_value)
        start = len(self.dec.loose)
        return float(x[start : self.n_fixed].sum())

    def values(self) -> np.ndarray:
        """The master's allocation on every column of the model."""
        x = np.array(self.highs.getSolution().col_value)
        out = np.zeros(self.dec.num_col)
        out[self.dec.loose] = x[: len(self.dec.loose)]
        for theta, (b, values) in zip(x[self.n_fixed :], self.columns, strict=True):
            if theta > 0:
                out[self.dec.blocks[b].cols] += theta * values
        return out


def _highs():
    """A HiGHS instance for the master or one country's LP (a country's model is passed at
    each split: ``pass_lp`` replaces the model and every solver state; costs set at each
    pricing)."""
    import highspy

    from optimizer.solve import _stdout_silenced

    with _stdout_silenced():
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("presolve", "off")
    highs.setOptionValue("random_seed", 0)
    return highs


def _as_bounds(own, at: int, rows: tuple, cols: tuple):
    """A country's LP with its selection (column ``at``) fixed, its rows that are left with one
    column (the selection links, x <= width * y: most of its rows) made that column's bounds:
    the same LP with about a tenth of the rows (measured on the baseline's draws: pricing 37%
    faster, the same compacts). (matrix, (row lower, row upper), (column lower, column upper));
    the LP as it was if the bounds would cross (an infeasible country: HiGHS says so)."""
    own = own.tocsr()
    singles = _singles(own, at)
    found = _bounds_of(singles, own.data, rows, cols)
    if found is None:
        return own, rows, cols
    return own[singles.keep], *found


@dataclass(frozen=True)
class _Singles:
    """Which rows of a country's LP ``_as_bounds`` makes bounds: those with one entry besides
    the selection's (column ``at``). From the pattern alone (no entry is 0), so a layout keeps
    it for every draw."""

    at: int
    rows: np.ndarray  # the rows with one other entry
    column: np.ndarray  # that entry's column
    entry: np.ndarray  # and its place in the LP's data (CSR, row order)
    on_at_rows: np.ndarray  # the rows with an entry on the selection
    on_at_entry: np.ndarray  # and its place
    keep: np.ndarray  # the rows left as rows (a mask)


def _singles(own, at: int) -> _Singles:
    row_of = np.repeat(np.arange(own.shape[0]), np.diff(own.indptr))
    other = (own.indices != at) & (own.data != 0)
    single = np.bincount(row_of[other], minlength=own.shape[0]) == 1
    entry = np.flatnonzero(other & single[row_of])  # the one other entry of each such row
    on_at = np.flatnonzero(~other & (own.indices == at))
    return _Singles(at, row_of[entry], own.indices[entry], entry, row_of[on_at], on_at, ~single)


def _bounds_of(singles: _Singles, data: np.ndarray, rows: tuple, cols: tuple):
    """``_as_bounds``' numbers: ((row lower, row upper) of the rows kept, (column lower, column
    upper)); None if the bounds would cross."""
    (r_lo, r_hi), (c_lo, c_hi) = rows, cols
    at, single, a = singles.at, singles.rows, data[singles.entry]
    fixed = np.zeros(len(r_lo))
    fixed[singles.on_at_rows] = data[singles.on_at_entry] * c_lo[at]  # the selection's share
    low = (r_lo[single] - fixed[single]) / a  # an infinite side stays infinite
    high = (r_hi[single] - fixed[single]) / a
    low, high = np.where(a > 0, low, high), np.where(a > 0, high, low)
    new_lo, new_hi = c_lo.copy(), c_hi.copy()
    np.maximum.at(new_lo, singles.column, low)
    np.minimum.at(new_hi, singles.column, high)
    if (new_lo > new_hi).any():
        return None
    return (r_lo[singles.keep], r_hi[singles.keep]), (new_lo, new_hi)


def _owners(matrix, country: np.ndarray, countries: list[str]) -> np.ndarray:
    """Each row's country: the one all its columns belong to; "" for a shared row (columns of
    two countries or more, or of none) and for an empty row."""
    # each column's country as a code: k + 1 for countries[k], 0 for none
    order = np.argsort(countries)
    ordered = np.asarray(countries)[order]
    at = np.minimum(np.searchsorted(ordered, country), len(ordered) - 1)
    col_code = np.where(ordered[at] == country, order[at] + 1, 0).astype(np.int64)
    owner = np.zeros(matrix.shape[0], dtype=np.int64)
    full = np.flatnonzero(np.diff(matrix.indptr) > 0)
    if len(full):
        codes = col_code[matrix.indices]
        starts = matrix.indptr[full]
        low = np.minimum.reduceat(codes, starts)
        high = np.maximum.reduceat(codes, starts)
        owner[full] = np.where(low == high, low, 0)
    names = np.array(["", *countries], dtype=object)
    return names[owner]


def _key(numbers, matrix, own: np.ndarray):
    """What a split depends on: the matrix (the session's outside row is left empty between its
    solves), the column bounds (integrality aside) and the bounds of every country's own row
    (the shared rows' bounds are read afresh by each ``bound``); ``numbers``: the session's
    (``Session.numbers``)."""
    parts = (
        matrix.data,
        matrix.indices,
        matrix.indptr,
        numbers.col_lower,
        numbers.col_upper,
        numbers.row_lower[own],
        numbers.row_upper[own],
    )
    return tuple(hash(np.asarray(part).tobytes()) for part in parts)
