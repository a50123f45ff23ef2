"""A solved run as plain data, and its run folder (written atomically, read back without solving)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.compact_tables import cofinancing_table, default_streams, targets_table
from optimizer.errors import OutputError
from optimizer.files import folder_written_by, write_folder
from optimizer.paths import PROJECT_DIR

ALLOCATION_COLUMNS = ["iso3", "country", "component", "pillar", "channel", "year", "amount_usd"]
OUTCOME_COLUMNS = ["iso3", "country", "component", "metric", "year", "outcome", "impact"]
TRADEOFF_FILES = ("tradeoffs.csv", "marginal_values.csv")  # not written with --no-tradeoffs
RUN_FILES = (
    "allocation.csv",
    "outcomes.csv",
    "constraints.csv",
    "screen.csv",
    "streams.csv",
    "cofinancing.csv",
    "targets.csv",
    "summary.json",
    "timings.json",
    "scenario.toml",
    "manifest.json",
    *TRADEOFF_FILES,
)  # what write_run writes (a re-plan adds changes.csv)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Run-folder format, recorded in manifest.json; raise it when a reader of today could misread a
# folder written by the new code. Folders without it are format 1 (written before it was recorded).
RUN_FORMAT = 1
OUTCOME_SIGNIFICANT = 4  # outcomes.csv precision (see claimable_outcomes)


@dataclass(frozen=True)
class Summary:
    scenario: str
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    solver: str
    solver_version: str
    build_seconds: float
    solve_seconds: float
    reference_year: int
    years: list[int]
    budget_usd: float
    budget_used_usd: float
    eligible: list[str]
    selected: list[str]
    binding: dict[str, list[str]] = field(default_factory=dict)  # family -> binding row names
    outcomes_by_metric: dict[str, float] = field(default_factory=dict)
    tipped: list[str] = field(default_factory=list)  # focus countries past the tipping point
    durable_impact: float | None = None  # impact units after the compact (None: tipping off)
    dividend_impact: float | None = None  # systems dividend, impact units (None: off)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the run left out or assumed, and why
    overrides: list[str] = field(default_factory=list)  # --set section.key=value, in order
    tradeoffs: list[str] = field(default_factory=list)  # plain-language trade-offs, ranked
    money_by_stream: dict[str, float] = field(default_factory=dict)  # stream -> US$ (host too)
    us_share_by_year: dict[str, float] = field(default_factory=dict)  # year -> US share of money
    tradeoffs_seconds: float = 0.0  # the trade-off re-solves (0: not run)


@dataclass(frozen=True)
class Result:
    summary: Summary
    allocation: pd.DataFrame  # ALLOCATION_COLUMNS, whole dollars, zero rows dropped
    outcomes: pd.DataFrame  # OUTCOME_COLUMNS: annual outcomes in metric units and impact units
    constraints: pd.DataFrame  # rules.COLUMNS: each rule row in its own units
    screen: pd.DataFrame  # the screening frame the run used
    scenario_toml: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)
    tradeoffs: pd.DataFrame | None = None  # price of each rule (optimizer.analysis.prices)
    margins: pd.DataFrame | None = None  # marginal values (optimizer.analysis.margins)
    streams: pd.DataFrame | None = None  # compact_tables.STREAM_COLUMNS; None: all 'default'
    cofinancing: pd.DataFrame | None = None  # compact_tables.COFINANCING_COLUMNS
    targets: pd.DataFrame | None = None  # compact_tables.TARGET_COLUMNS; None: from outcomes
    changes: pd.DataFrame | None = None  # a re-plan's changes against the plan (replan.py)

    def compact_tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """streams, cofinancing and targets: as solved, or what the allocation implies."""
        streams = self.streams if self.streams is not None else default_streams(self.allocation)
        cofinancing = self.cofinancing
        if cofinancing is None:
            cofinancing = cofinancing_table(streams, self.allocation)
        targets = self.targets if self.targets is not None else targets_table(self.outcomes)
        return streams, cofinancing, targets

    def totals(self, by: str | list[str]) -> pd.Series:
        return self.allocation.groupby(by)["amount_usd"].sum()


# ---------------------------------------------------------------------------- safe cells


def safe_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula, and fold line breaks."""
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Deterministic CSV: neutralised text cells, '\\n' line endings, plain numbers (see
    ``plain_number``)."""
    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(safe_cell)
        elif pd.api.types.is_float_dtype(safe[col]):
            safe[col] = safe[col].map(plain_number)
    safe.to_csv(path, index=False, lineterminator="\n")


def plain_number(value: float) -> str:
    """A float for a CSV cell: never scientific notation, at most 12 significant digits (whole
    dollars stay exact up to $1e12) and 6 decimals (solver noise such as a slack of 3e-8 reads 0);
    blank when missing."""
    if pd.isna(value):
        return ""
    rounded = round(float(value), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    return np.format_float_positional(rounded, precision=12, fractional=False, trim="-")


def claimable_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Outcomes and impact to OUTCOME_SIGNIFICANT significant figures: the unit costs, saturation
    levels and weights behind them are ranges of +-50% or more (docs/model.md), so more digits
    would claim a precision the model does not have."""
    out = outcomes.copy()
    for col in ("outcome", "impact"):
        if col in out and len(out):
            out[col] = out[col].map(lambda v: float(f"{v:.{OUTCOME_SIGNIFICANT}g}"))
    return out


def claimable_targets(targets: pd.DataFrame) -> pd.DataFrame:
    """Benchmarks to OUTCOME_SIGNIFICANT significant figures, like outcomes.csv."""
    out = targets.copy()
    for col in ("projected", "p10", "p90"):
        if col in out and len(out):
            out[col] = out[col].map(
                lambda v: v if pd.isna(v) else float(f"{v:.{OUTCOME_SIGNIFICANT}g}")
            )
    return out


def safe_name(text: str) -> str:
    """A file or folder name from free text: letters, digits, '-', '_' and '.' only, no leading dot."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text).strip(".-")
    return cleaned[:80] or "run"


def run_name(scenario: str, overrides: list[str] | tuple[str, ...], most: int = 48) -> str:
    """A folder name for a run: the scenario, then each ``--set`` as ``key-value`` (the last part
    of the key), safe in file names; shortened past ``most`` characters with a hash of the whole,
    so different overrides never share a name."""
    parts = []
    for text in overrides:
        key, _, value = text.partition("=")
        part = safe_name(f"{key.strip().split('.')[-1]}-{value.strip()}")
        parts.append(re.sub(r"[-.]{2,}", "-", part))
    if not parts:
        return safe_name(scenario)
    tail = "_".join(parts)
    if len(tail) > most:
        digest = hashlib.sha256("\n".join(overrides).encode()).hexdigest()[:8]
        tail = f"{tail[: most - 9].rstrip('-_.')}-{digest}"
    return f"{safe_name(scenario)}_{tail}"


# ---------------------------------------------------------------------------- manifest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    names = ["tipfocus", "pulp", "highspy", "pandas", "numpy", "scipy", "click", "pydantic"]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _input_name(path: Path) -> str:
    """Inside the project, relative to it (the same in every clone); elsewhere, absolute."""
    path = path.resolve()
    try:
        return path.relative_to(PROJECT_DIR).as_posix()
    except ValueError:
        return str(path)


def manifest(inputs: list[Path], solver: str, solver_version: str) -> dict[str, Any]:
    """Input files (project-relative where they can be) with their SHA-256, versions, solver."""
    files = sorted({_input_name(p): p for p in inputs if p.is_file()}.items())
    return {
        "format": RUN_FORMAT,
        "inputs": {name: file_sha256(p) for name, p in files},
        "packages": package_versions(),
        "solver": solver,
        "solver_version": solver_version,
    }


# ---------------------------------------------------------------------------- run folders


RECOGNISED_BY = ("summary.json", "manifest.json")  # an earlier run folder holds both
_RUN_FOLDER = folder_written_by(RECOGNISED_BY, "a tipfocus run folder")
# in timings.json, so summary.json repeats exactly
TIMINGS = ("build_seconds", "solve_seconds", "tradeoffs_seconds")


def not_a_run(folder: Path, written: set[str] | None = None) -> str:
    """Why ``folder`` is not an earlier tipfocus run folder ("" if it is), so that ``--force``
    never deletes anything else: ``files.folder_written_by`` with the run's marks, and its
    summary.json tipfocus's. An empty folder may be replaced too."""
    why = _RUN_FOLDER(folder, written)
    if why or not any(os.scandir(folder)):
        return why
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        ours = isinstance(summary, dict) and {"scenario", "status"} <= set(summary)
    except (OSError, ValueError):
        ours = False
    return "" if ours else "holds a summary.json that tipfocus did not write"


def write_run(result: Result, folder: Path, force: bool = False) -> Path:
    """Write the run folder atomically (``files.write_folder``); with ``force`` only an earlier
    run folder is replaced (``not_a_run``)."""
    return write_folder(folder, lambda tmp: _write_files(result, tmp), force, not_a_run)


def _write_files(result: Result, tmp: Path) -> None:
    write_csv(result.allocation, tmp / "allocation.csv")
    write_csv(claimable_outcomes(result.outcomes), tmp / "outcomes.csv")
    write_csv(result.constraints, tmp / "constraints.csv")
    write_csv(result.screen.reset_index(), tmp / "screen.csv")
    if result.tradeoffs is not None:
        write_csv(result.tradeoffs, tmp / "tradeoffs.csv")
    if result.margins is not None:
        write_csv(result.margins, tmp / "marginal_values.csv")
    streams, cofinancing, targets = result.compact_tables()
    write_csv(streams, tmp / "streams.csv")
    write_csv(cofinancing, tmp / "cofinancing.csv")
    write_csv(claimable_targets(targets), tmp / "targets.csv")
    if result.changes is not None:
        write_csv(result.changes, tmp / "changes.csv")
    summary = asdict(result.summary)
    timings = {key: summary.pop(key) for key in TIMINGS}
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (tmp / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    (tmp / "scenario.toml").write_text(result.scenario_toml)
    (tmp / "manifest.json").write_text(json.dumps(result.manifest, indent=2, sort_keys=True) + "\n")


def check_format(folder: Path, manifest_data: dict[str, Any]) -> None:
    """Refuse a run folder written in a newer format than this version of tipfocus reads."""
    found = manifest_data.get("format", 1)
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise OutputError(
            f"{folder}/manifest.json",
            f"'format' is {found!r}, not a format number; the manifest is damaged, re-run the scenario",
        )
    if found > RUN_FORMAT:
        raise OutputError(
            str(folder),
            f"run folder format {found} is newer than this tipfocus reads (format {RUN_FORMAT}); "
            "upgrade tipfocus to read it",
        )


def _json_object(path: Path) -> dict[str, Any]:
    """A JSON object from a run folder file, or an OutputError saying the file is damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise OutputError(str(path), f"is not valid JSON ({exc}); re-run the scenario") from None
    if not isinstance(data, dict):
        raise OutputError(str(path), "is not a JSON object; re-run the scenario")
    return data


def _summary(path: Path, timings_path: Path) -> Summary:
    """The Summary in ``path`` with the timings beside it (0 where there are none); keys this
    version does not know are ignored (a later version of the same format may add some), a missing
    one is a damaged folder."""
    timings = dict.fromkeys(TIMINGS, 0.0)
    if timings_path.is_file():
        timings |= {k: v for k, v in _json_object(timings_path).items() if k in TIMINGS}
    data = timings | _json_object(path)
    known = {f.name for f in fields(Summary)}
    required = {
        f.name for f in fields(Summary) if f.default is MISSING and f.default_factory is MISSING
    }
    missing = sorted(required - set(data))
    if missing:
        raise OutputError(str(path), f"lacks {', '.join(missing)}; re-run the scenario")
    return Summary(**{k: v for k, v in data.items() if k in known})


def read_run(folder: Path) -> Result:
    """Read a run folder back into a Result (no solving)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise OutputError(str(folder), "no such run folder; check the path (see `tipfocus run`)")
    needed = ["summary.json", "allocation.csv", "outcomes.csv", "constraints.csv", "screen.csv"]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise OutputError(str(folder), f"not a tipfocus run folder (missing {', '.join(missing)})")
    manifest_data: dict[str, Any] = {}
    if (folder / "manifest.json").is_file():
        manifest_data = _json_object(folder / "manifest.json")
    check_format(folder, manifest_data)
    summary = _summary(folder / "summary.json", folder / "timings.json")

    def optional(name: str) -> pd.DataFrame | None:  # absent from folders written before them
        path = folder / name
        return pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.is_file() else None

    return Result(
        summary=summary,
        allocation=pd.read_csv(folder / "allocation.csv", keep_default_na=False),
        outcomes=pd.read_csv(folder / "outcomes.csv", keep_default_na=False),
        constraints=pd.read_csv(folder / "constraints.csv"),
        screen=pd.read_csv(folder / "screen.csv").set_index("iso3"),
        scenario_toml=(folder / "scenario.toml").read_text()
        if (folder / "scenario.toml").exists()
        else "",
        manifest=manifest_data,
        tradeoffs=optional("tradeoffs.csv"),
        margins=optional("marginal_values.csv"),
        streams=optional("streams.csv"),
        cofinancing=optional("cofinancing.csv"),
        targets=optional("targets.csv"),
        changes=optional("changes.csv"),
    )
