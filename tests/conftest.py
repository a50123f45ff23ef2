"""Shared fixtures: each bundled scenario solved once per test session, whichever test asks."""

from __future__ import annotations

import pytest

from optimizer.engine import run
from optimizer.scenario import SCENARIO_DIR, load_scenario


@pytest.fixture(scope="session")
def bundled():
    """``bundled(name)`` -> (scenario, Result) of ``scenarios/<name>.toml``, solved at most once."""
    cache = {}

    def solved(name: str):
        if name not in cache:
            scenario = load_scenario(SCENARIO_DIR / f"{name}.toml")
            cache[name] = (scenario, run(scenario))
        return cache[name]

    return solved
