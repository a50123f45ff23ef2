"""The uncertain numbers of the impact model and random draws of them.

``ranges`` lists every low / mode / high of the catalogue (cost per outcome, saturation and context
elasticity per component, weight per metric), with the scenario's ``[uncertainty]`` overrides.
``sample`` turns one seed into a ``Draw``: a parameter lookup for ``impact.build_curves``.

PERT (default): ``low + (high - low) * Beta(a, b)`` with ``a = 1 + 4 (mode - low) / (high - low)``
and ``b = 1 + 4 (high - mode) / (high - low)`` (mean ``(low + 4 mode + high) / 6``); triangular as an
option. Each value comes from one uniform through the inverse CDF, in a fixed order, so a seed gives
the same draw on any machine and in any worker. A zero-width range (low = high) is not drawn: the
nominal value (the scenario's) is used.

A metric whose weight the scenario sets (``objective.weights``) is a value judgment the planner
made: it is held fixed unless ``[uncertainty.weight]`` gives it a range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from optimizer.catalogue import Catalogue
from optimizer.errors import ScenarioError
from optimizer.scenario import Scenario

PER_COUNTRY = ("unit_cost_usd", "saturation", "elasticity")  # drawn per (country, component)
KINDS = (*PER_COUNTRY, "weight")
POSITIVE = ("unit_cost_usd", "saturation")  # a cost or a saturation of 0 has no curve
RANGE_COLUMNS = ["kind", "key", "low", "mode", "high", "source"]


def ranges(catalogue: Catalogue, scenario: Scenario) -> pd.DataFrame:
    """One row per uncertain number: kind, key, low, mode, high, source (where the range is from)."""
    section = scenario.uncertainty
    rows = []
    for key, comp in catalogue.components.items():
        for kind, triangle in (
            ("unit_cost_usd", comp.unit_cost_usd),
            ("saturation", comp.saturation),
            ("elasticity", comp.elasticity),
        ):
            rows.append((kind, key, triangle.low, triangle.mode, triangle.high, "catalogue"))
    for key, metric in catalogue.metrics.items():
        if key in scenario.objective.weights:
            fixed = scenario.objective.weights[key]
            rows.append(("weight", key, fixed, fixed, fixed, "objective.weights (held fixed)"))
        else:
            w = metric.weight
            rows.append(("weight", key, w.low, w.mode, w.high, "catalogue"))
    table = pd.DataFrame(rows, columns=RANGE_COLUMNS).set_index(["kind", "key"])
    problems = []
    for kind in KINDS:
        known = catalogue.metrics if kind == "weight" else catalogue.components
        for key, override in sorted(getattr(section, kind).items()):
            where = f"uncertainty.{kind}.{key}"
            if key not in known:
                what = "metric" if kind == "weight" else "component"
                problems.append(f"{where}: not a {what} of the catalogue ({', '.join(known)})")
                continue
            if kind in POSITIVE and override.low <= 0:
                problems.append(f"{where}: low must be above 0 (got {override.low:g})")
                continue
            table.loc[(kind, key)] = [override.low, override.mode, override.high, "scenario"]
    if problems:
        raise ScenarioError("scenario [uncertainty]", problems)
    return table.reset_index()


@dataclass(frozen=True)
class Draw:
    """Drawn values by (kind, key, iso3); iso3 "" for a value shared by every country."""

    seed: int
    values: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def __call__(self, kind: str, key: str, iso: str, nominal: float) -> float:
        found = self.values.get((kind, key, iso))
        if found is None:
            found = self.values.get((kind, key, ""), nominal)
        return found


def draw_seeds(seed: int, draws: int) -> list[int]:
    """One independent seed per draw (numpy ``SeedSequence.spawn``): draw i is the same whatever
    the number of draws or workers."""
    children = np.random.SeedSequence(seed).spawn(draws)
    return [int(child.generate_state(1, np.uint64)[0]) for child in children]


def quantile(u: np.ndarray, low: np.ndarray, mode: np.ndarray, high: np.ndarray, shape: str):
    """Values at cumulative probabilities ``u`` of PERT or triangular ranges (widths > 0)."""
    width = high - low
    c = (mode - low) / width
    if shape == "triangular":
        return low + width * stats.triang.ppf(u, c)
    return low + width * stats.beta.ppf(u, 1.0 + 4.0 * c, 1.0 + 4.0 * (1.0 - c))


def sample(table: pd.DataFrame, countries: list[str], seed: int, shape: str, shared: bool) -> Draw:
    """One draw of every range with width in ``table`` (``ranges``)."""
    wide = table[table["high"] > table["low"]]
    keys: list[tuple[str, str, str]] = []
    rows: list[int] = []
    for i, (kind, key) in enumerate(zip(wide["kind"], wide["key"], strict=True)):
        places = sorted(countries) if kind in PER_COUNTRY and not shared else [""]
        keys.extend((kind, key, iso) for iso in places)
        rows.extend([i] * len(places))
    if not keys:
        return Draw(seed=seed)
    at = np.array(rows)
    u = np.random.default_rng(seed).random(len(keys))
    values = quantile(
        u,
        wide["low"].to_numpy(float)[at],
        wide["mode"].to_numpy(float)[at],
        wide["high"].to_numpy(float)[at],
        shape,
    )
    return Draw(seed=seed, values=dict(zip(keys, map(float, values), strict=True)))


def at_value(kind: str, key: str, value: float) -> Draw:
    """Every country's ``kind`` of ``key`` set to ``value``, the rest nominal (sensitivity)."""
    return Draw(seed=0, values={(kind, key, ""): float(value)})
