"""Where the project's bundled files live, computed once from the package's own location."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"  # the curated tables (data/SOURCES.md)
SCENARIO_DIR = PROJECT_DIR / "scenarios"
DEFAULT_SCENARIO = SCENARIO_DIR / "baseline.toml"
DEFAULT_CATALOGUE = PROJECT_DIR / "models" / "components.toml"
