"""The trade-offs of a solved run: price of each rule, marginal values, the closest countries
left out, and the sentences the run summary shows. One warm HiGHS copy serves every re-solve."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from optimizer.analysis.explain import Explanation, force_in
from optimizer.analysis.margins import (
    closest_left_out,
    fixed_duals,
    marginal_values,
)
from optimizer.analysis.pool import WORKERS, ResolverPool
from optimizer.analysis.prices import (
    by_price,
    price_rules,
    price_stream_restrictions,
    restricted_streams,
)
from optimizer.analysis.resolve import Point, Resolver
from optimizer.analysis.sentences import left_out_sentence, margin_sentences, price_sentences
from optimizer.model import AllocationModel
from optimizer.scenario import Scenario

LEFT_OUT_SHOWN = 3  # eligible countries left out that the summary explains
TOP_RULES = 4  # rule prices ranked before the marginal value and the left-out reasons


@dataclass(frozen=True)
class Tradeoffs:
    prices: pd.DataFrame  # prices.PRICE_COLUMNS, largest first
    margins: pd.DataFrame  # margins.MARGIN_COLUMNS
    left_out: list[Explanation]
    sentences: list[str]


def analyse(
    model: AllocationModel,
    objective: float,
    selected: tuple[str, ...],
    names: pd.Series,
    progress: Callable[[str], None] | None = None,
    rebuild: Callable[[Scenario], AllocationModel] | None = None,
) -> Tradeoffs:
    """Everything on one warm resolver and its clones (``pool``: re-solves at once): the fixed
    LP's duals, one re-solve a rule (from the run's optimum), then one forced-in re-solve for
    each of the closest countries left out. ``names`` maps ISO3 codes to country names. A lock
    (in or out) is a row priced like any rule; what each funding stream may pay for is priced on
    a model built with that stream allowed to pay for everything (``rebuild``: scenario ->
    model), when given."""
    scenario = model.scenario
    resolver = Resolver(model, scenario.solver)
    start = resolver.incumbent()  # the run's optimum: read before any re-solve overwrites it
    duals = fixed_duals(resolver, selected, start)
    with ResolverPool(resolver, WORKERS) as pool:
        prices = price_rules(resolver, objective, progress, start, pool)
        left_out = _force_in_closest(pool, resolver, duals, objective, selected, progress)
    extra = []
    if rebuild is not None and restricted_streams(scenario):
        extra.append(price_stream_restrictions(scenario, objective, rebuild, progress))
    if extra:
        prices = by_price(pd.concat([prices, *extra], ignore_index=True))
    margins = marginal_values(resolver, duals, selected)
    rules, money = price_sentences(prices, scenario), margin_sentences(margins, objective)
    reasons = [left_out_sentence(e, str(names.get(e.iso3, ""))) for e in left_out]
    # The few a planner reads first (the costliest rules, what more money buys, who is left out
    # and why), then the rest.
    sentences = [*rules[:TOP_RULES], *money[:1], *reasons, *rules[TOP_RULES:], *money[1:]]
    return Tradeoffs(prices=prices, margins=margins, left_out=left_out, sentences=sentences)


def _force_in_closest(pool, resolver, duals, objective, selected, progress) -> list[Explanation]:
    """The closest countries left out, each forced in (one re-solve each, at once on the pool),
    by forced-in loss."""
    base = Point(status=_optimal(), objective=objective, selected=tuple(selected))

    def forced(on: Resolver, iso: str) -> Explanation:
        if progress:
            progress(f"force in {iso}")
        point = force_in(on, iso)
        return Explanation(iso3=iso, chosen=False, objective=objective, base=base, forced=point)

    found = pool.map(forced, closest_left_out(resolver, duals, LEFT_OUT_SHOWN))
    return sorted(
        found, key=lambda e: (e.forced_loss_pct is None, e.forced_loss_pct or 0.0, e.iso3)
    )


def _optimal():
    from optimizer.solve import Status

    return Status.OPTIMAL
