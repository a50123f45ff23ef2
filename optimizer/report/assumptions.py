"""The impact catalogue a run used, as tables for the reports: components and metrics with their
ranges, sources and evidence grades (today's copy of the file, marked if it changed since)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimizer.result import Result


@dataclass(frozen=True)
class Assumptions:
    """The impact catalogue a run used: components and metrics with sources and evidence grades."""

    path: str
    name: str
    version: str
    same_as_run: bool  # the file's hash is the one in the run's manifest
    context_note: str
    components: pd.DataFrame
    metrics: pd.DataFrame


def run_catalogue_path(result: Result) -> Path:
    """The catalogue file the run's resolved scenario names, or the bundled one."""
    from optimizer.paths import DEFAULT_CATALOGUE

    try:
        data = tomllib.loads(result.scenario_toml or "").get("data", {})
    except tomllib.TOMLDecodeError:
        data = {}
    return Path(data["catalogue"]) if data.get("catalogue") else DEFAULT_CATALOGUE


def assumptions(result: Result) -> Assumptions:
    """Today's copy of the run's catalogue (``same_as_run`` says whether it changed since).

    Raises ``CatalogueError`` if the file cannot be read or is invalid.
    """
    from optimizer.catalogue import load_catalogue
    from optimizer.result import file_sha256

    path = run_catalogue_path(result)
    catalogue = load_catalogue(path)
    components = pd.DataFrame(
        [
            {
                "component": key,
                "label": c.label,
                "pillar": c.pillar,
                "channel": c.channel,
                "metric": c.metric,
                "cost_low_usd": c.unit_cost_usd.low,
                "cost_mode_usd": c.unit_cost_usd.mode,
                "cost_high_usd": c.unit_cost_usd.high,
                "evidence": c.evidence,
                "cost_source": c.cost_source,
                "saturation_source": c.saturation_source,
                "elasticity_source": c.elasticity_source,
            }
            for key, c in catalogue.components.items()
        ]
    )
    metrics = pd.DataFrame(
        [
            {
                "metric": key,
                "label": m.label,
                "unit": m.unit,
                "weight_low": m.weight.low,
                "weight_mode": m.weight.mode,
                "weight_high": m.weight.high,
                "weight_source": m.weight_source,
            }
            for key, m in catalogue.metrics.items()
        ]
    )
    return Assumptions(
        path=str(path),
        name=catalogue.name,
        version=catalogue.version,
        same_as_run=file_sha256(path) in result.manifest.get("inputs", {}).values(),
        context_note=catalogue.context.note,
        components=components,
        metrics=metrics,
    )
