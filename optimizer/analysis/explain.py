"""Why a country is in or out, by re-solving: forcing it in, and searching a multiplier on the
effectiveness of its programmes (its objective coefficients) for the point where it enters or
drops out.

The multiplier scales every spend coefficient of the country: "1.4 times as effective" means each
dollar there buys 1.4 times the weighted outcomes (a cheaper cost per outcome has the same effect at
low spend, not the same ceiling). Searches are bisections with one re-solve a step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimizer.analysis.resolve import Point, Resolver

MAX_MULTIPLIER = 1000.0  # beyond this, "it would never enter" is the honest answer
RATIO_TOLERANCE = 1.01  # entry multiplier known to within 1%
STEP_TOLERANCE = 0.005  # exit multiplier known to within half a percentage point


@dataclass
class Explanation:
    iso3: str
    chosen: bool
    objective: float
    forced: Point | None = None  # eligible, left out: the optimum with it forced in
    multiplier: float | None = None  # entry (> 1) or drop-out (< 1) multiplier; None: none found
    at_multiplier: Point | None = None  # the optimum at that multiplier
    base: Point | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def forced_loss_pct(self) -> float | None:
        if not self.forced or not self.forced.ok:
            return None
        return 100.0 * max(0.0, self.objective - self.forced.objective) / abs(self.objective)

    def replaced(self, point: Point | None) -> tuple[list[str], list[str]]:
        """(countries that leave, countries that come in) between the optimum and ``point``."""
        if point is None or self.base is None:
            return [], []
        before, after = set(self.base.selected), set(point.selected)
        return sorted(before - after), sorted(after - before)


def _country(resolver: Resolver, iso: str) -> tuple[np.ndarray, int]:
    return resolver.country_cols(iso), resolver.select_cols[iso]


def force_in(resolver: Resolver, iso: str) -> Point:
    """The optimum with ``iso`` made a focus country."""
    _, y = _country(resolver, iso)
    with resolver.cols_bounds(np.array([y]), 1.0, 1.0):
        return resolver.solve()


def solve_scaled(resolver: Resolver, iso: str, factor: float) -> Point:
    """The optimum with ``iso``'s programmes ``factor`` times as effective."""
    cols, _ = _country(resolver, iso)
    with resolver.costs_scaled(cols, factor):
        return resolver.solve()


def entry_multiplier(
    resolver: Resolver, iso: str, tick: Callable[[], None] | None = None
) -> tuple[float | None, Point | None]:
    """Smallest tested multiplier (> 1, within 1%) at which ``iso`` enters, and that optimum."""
    low, high, found = 1.0, 2.0, None
    while high <= MAX_MULTIPLIER:
        point = solve_scaled(resolver, iso, high)
        if tick:
            tick()
        if point.ok and iso in point.selected:
            found = point
            break
        low, high = high, high * 2.0
    if found is None:
        return None, None
    while high / low > RATIO_TOLERANCE:
        middle = math.sqrt(low * high)
        point = solve_scaled(resolver, iso, middle)
        if tick:
            tick()
        if point.ok and iso in point.selected:
            high, found = middle, point
        else:
            low = middle
    return high, found


def exit_multiplier(
    resolver: Resolver, iso: str, tick: Callable[[], None] | None = None
) -> tuple[float | None, Point | None]:
    """Largest tested multiplier (< 1, within half a point) at which ``iso`` drops out, and that
    optimum; None if it stays in even when its programmes achieve nothing (a lock or a count)."""
    point = solve_scaled(resolver, iso, 0.0)
    if tick:
        tick()
    if not point.ok or iso in point.selected:
        return None, None
    low, high, found = 0.0, 1.0, point
    while high - low > STEP_TOLERANCE:
        middle = (low + high) / 2.0
        point = solve_scaled(resolver, iso, middle)
        if tick:
            tick()
        if point.ok and iso not in point.selected:
            low, found = middle, point
        else:
            high = middle
    return low, found


def explain_country(
    resolver: Resolver, base: Point, iso: str, tick: Callable[[], None] | None = None
) -> Explanation:
    """For a country in the model: forced-in loss and entry multiplier if it is left out; drop-out
    multiplier and its replacement if it is chosen."""
    chosen = iso in base.selected
    result = Explanation(iso3=iso, chosen=chosen, objective=base.objective, base=base)
    if chosen:
        result.multiplier, result.at_multiplier = exit_multiplier(resolver, iso, tick)
    else:
        result.forced = force_in(resolver, iso)
        if tick:
            tick()
        result.multiplier, result.at_multiplier = entry_multiplier(resolver, iso, tick)
    return result
