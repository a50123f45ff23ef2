"""Plain-language trade-offs: every number comes from the tables the analyses compute."""

from __future__ import annotations

import math

import pandas as pd

from optimizer.analysis.explain import MAX_MULTIPLIER, Explanation
from optimizer.scenario import Scenario, usd

NEGLIGIBLE_PCT = 0.05  # rules costing less than this share of impact are listed, not ranked


def _shares(shares: dict[str, float]) -> str:
    return ", ".join(
        f"{share:.0%} {key.replace('_', ' ')}" for key, share in sorted(shares.items()) if share > 0
    )


def describe_rule(rule: str, family: str, scenario: Scenario) -> str:
    """The rule as a planner would state it (a gerund phrase); a generic phrase for new families."""
    b, s, p = scenario.budget, scenario.selection, scenario.policy
    known = {
        "budget": lambda: f"Spending no more than the budget of {usd(b.total_usd)}",
        "annual_cap": lambda: f"Capping spending at {usd(b.annual_cap_usd or 0)} a year",
        "compact_min": lambda: f"Requiring compacts of at least {usd(s.min_compact_usd)}",
        "compact_max": lambda: f"Capping compacts at {usd(s.max_compact_usd)}",
        "country_count": lambda: (
            f"Keeping exactly {s.max_countries} focus countries"
            if s.min_countries == s.max_countries
            else f"Keeping between {s.min_countries} and {s.max_countries} focus countries"
        ),
        "region_max": lambda: (
            "Limiting focus countries per region ("
            + ", ".join(f"{r} {n}" for r, n in sorted(s.region_max.items()))
            + ")"
        ),
        "pillar_floor": lambda: (
            f"Requiring at least {_shares(p.pillar_floor_share)} in every focus country"
        ),
        "earmark": lambda: f"Earmarking {_shares(p.earmark_share)} of the portfolio",
        "government_cap": lambda: (
            f"Capping the government channel at {p.government_cap_share or 0:.0%} where control "
            f"of corruption is below percentile {p.weak_corruption_pct:g}"
        ),
        "me_floor": lambda: (
            f"Requiring at least {p.me_floor_share:.0%} for monitoring and evaluation in every compact"
        ),
        "ramp_up": lambda: f"Limiting a compact's growth to {p.ramp_up or 0:.0%} a year",
        "ramp_down": lambda: f"Limiting a compact's cuts to {p.ramp_down or 0:.0%} a year",
        "lock_in": lambda: f"Locking in {rule.removeprefix('lock_in_')}",
        "lock_out": lambda: f"Locking out {rule.removeprefix('lock_out_')}",
    }
    _, _, part = rule.partition(":")
    if family == "stream":
        return _describe_stream(rule, scenario)
    if part:
        if family == "pillar_floor" and part in p.pillar_floor_share:
            share = p.pillar_floor_share[part]
            return f"Requiring at least {share:.0%} {part} in every focus country"
        return f"The {family.replace('_', ' ')} rule for {part.replace('_', ' ')}"
    phrase = known.get(family)
    return phrase() if phrase else f"The {family.replace('_', ' ')} rule"


def _words(items: list[str], joint: str = "and") -> str:
    items = [str(i).replace("_", " ") for i in items]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {joint} {items[-1]}"


def _describe_stream(rule: str, scenario: Scenario) -> str:
    """A funding stream's amounts (``stream``, ``stream:NAME``) or what it may pay for
    (``stream_restriction:NAME``)."""
    kind, _, name = rule.partition(":")
    stream = scenario.streams.get(name)
    if not name or stream is None:
        return "Limiting the funding streams to their amounts"
    if kind == "stream_restriction":
        limits = []
        if stream.tags:
            limits.append(f"{_words(stream.tags, 'or')} components")
        if stream.pillars:
            limits.append(f"{_words(stream.pillars, 'or')} components")
        if stream.components:
            noun = "component" if len(stream.components) == 1 else "components"
            limits.append(f"{noun} {_words(stream.components)}")
        if stream.channels:
            limits.append(f"the {_words(stream.channels, 'or')} channel")
        if stream.countries:
            limits.append(f"spending in {_words(stream.countries)}")
        what = _words(limits) if limits else "what it may pay for"
        return f"Limiting the {name} stream to {what}"
    amounts = []
    if stream.per_year_usd is not None:
        amounts.append(f"{usd(stream.per_year_usd)} a year")
    if stream.total_usd is not None:
        amounts.append(f"{usd(stream.total_usd)} in total")
    return f"Limiting the {name} stream to {_words(amounts)}"


def _pct(value: float) -> str:
    return f"{value:.2f}%" if value < 1 else f"{value:.1f}%"


def price_sentences(prices: pd.DataFrame, scenario: Scenario) -> list[str]:
    """One sentence a rule that costs something, largest first; then the rules that cost nothing."""
    lines, free = [], []
    for row in prices.itertuples():
        if row.impact_lost is None or (
            isinstance(row.impact_lost, float) and math.isnan(row.impact_lost)
        ):
            lines.append(
                f"{describe_rule(row.rule, row.family, scenario)}: not priced (re-solve {row.status})."
            )
            continue
        if row.kind == "resource":
            continue  # money limits: see the marginal values
        if row.impact_lost_pct < NEGLIGIBLE_PCT:
            free.append(row.rule)
            continue
        lines.append(
            f"{describe_rule(row.rule, row.family, scenario)} costs {_pct(row.impact_lost_pct)} "
            f"of projected impact ({row.impact_lost:,.0f} impact units)."
        )
    if free:
        lines.append(f"These rules cost less than {NEGLIGIBLE_PCT}% of impact: {', '.join(free)}.")
    return lines


def margin_sentences(margins: pd.DataFrame, objective: float) -> list[str]:
    """The value of more money, with the selection fixed."""
    lines = []
    resources = margins[margins["kind"] == "resource"]
    for row in resources.itertuples():
        value = row.impact_per_1m_usd
        if row.name == "budget_total" and value <= 1e-9:
            lines.append(
                "More total budget would add nothing with the same focus countries: the budget "
                "is not the limit (see the rules above)."
            )
        elif row.name == "budget_total":
            lines.append(
                f"One more $1M of total budget would add {value:,.1f} impact units "
                f"({100 * value / abs(objective or 1):.3f}% of impact) with the same focus countries."
            )
        elif value > 1e-9:
            lines.append(
                f"Raising {row.name.replace('_', ' ')} by $1M would add {value:,.1f} impact units "
                "with the same focus countries."
            )
    return lines


def left_out_sentence(explanation: Explanation, name: str) -> str:
    """One line: what forcing an eligible country in costs, and whom it would replace."""
    loss = explanation.forced_loss_pct
    if loss is None:
        status = explanation.forced.status if explanation.forced else "not solved"
        return f"{explanation.iso3} {name} cannot be forced in under the other rules ({status})."
    leave, _ = explanation.replaced(explanation.forced)
    instead = f"; it would replace {', '.join(leave)}" if leave else ""
    return f"{explanation.iso3} {name} is eligible but left out: forcing it in costs {_pct(loss)} of impact{instead}."


def explain_sentences(explanation: Explanation, name: str) -> list[str]:
    """The answer to `tipfocus explain` for a country in the model."""
    iso = explanation.iso3
    lines = []
    if explanation.chosen:
        lines.append(f"{iso} {name} is a focus country.")
        if explanation.multiplier is None:
            lines.append(
                "It stays in even if its programmes achieved nothing: a lock or the minimum number "
                "of focus countries keeps it."
            )
        else:
            less = 100 * (1 - explanation.multiplier)
            _, come = explanation.replaced(explanation.at_multiplier)
            instead = f"; {', '.join(come)} would take its place" if come else ""
            lines.append(
                f"Its programmes could be about {less:.0f}% less effective before it drops out "
                f"(at {explanation.multiplier:.3f} times today's effectiveness){instead}."
            )
        return lines
    lines.append(left_out_sentence(explanation, name))
    if explanation.multiplier is None:
        lines.append(
            f"Even {MAX_MULTIPLIER:g} times as effective, it would not be chosen under these rules."
        )
    else:
        lines.append(
            f"It would enter if its programmes were {explanation.multiplier:.2f} times as effective "
            "(each dollar buying that many times the weighted outcomes)."
        )
    return lines
