"""A solved run as plain data, and its run folder (written atomically, read back without solving)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import OutputError
from optimizer.files import blocked_because, check_target
from optimizer.scenario import PROJECT_DIR

ALLOCATION_COLUMNS = ["iso3", "country", "component", "pillar", "channel", "year", "amount_usd"]
OUTCOME_COLUMNS = ["iso3", "country", "component", "metric", "year", "outcome", "impact"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the run left out or assumed, and why
    tradeoffs: list[str] = field(default_factory=list)  # plain-language trade-offs, ranked


@dataclass(frozen=True)
class Result:
    summary: Summary
    allocation: pd.DataFrame  # ALLOCATION_COLUMNS, whole dollars, zero rows dropped
    outcomes: pd.DataFrame  # OUTCOME_COLUMNS: annual outcomes in metric units and impact units
    constraints: pd.DataFrame  # name, family, activity, rhs, slack, binding
    screen: pd.DataFrame  # the screening frame the run used
    scenario_toml: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)
    tradeoffs: pd.DataFrame | None = None  # price of each rule (optimizer.analysis.prices)
    margins: pd.DataFrame | None = None  # marginal values (optimizer.analysis.margins)

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
    """Deterministic CSV: neutralised text cells, '\\n' line endings, fixed float format."""
    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(safe_cell)
    # 12 significant digits: whole dollars stay exact up to $1e12 (6 digits lost up to $50k)
    safe.to_csv(path, index=False, lineterminator="\n", float_format="%.12g")


def safe_name(text: str) -> str:
    """A file or folder name from free text: letters, digits, '-', '_' and '.' only, no leading dot."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text).strip(".-")
    return cleaned[:80] or "run"


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
        "inputs": {name: file_sha256(p) for name, p in files},
        "packages": package_versions(),
        "solver": solver,
        "solver_version": solver_version,
    }


# ---------------------------------------------------------------------------- run folders


_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)(-[^/]*)?$")


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # no cheap, safe liveness test: assume alive, keep the folder
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clean_stale(parent: Path) -> None:
    """Remove the hidden temporary folders of runs that were killed (SIGKILL, power loss).

    ``.<name>.tmp-<pid>-*`` of a dead process is a half-written run: removed. ``.<name>.old-<pid>``
    is an earlier run moved aside while being replaced: put back if ``<name>`` is missing, else
    removed.
    """
    with contextlib.suppress(OSError):
        for entry in os.listdir(parent):
            match = _STALE.match(entry)
            path = parent / entry
            if not match or not path.is_dir() or _pid_alive(int(match["pid"])):
                continue
            target = parent / match["name"]
            if match["kind"] == "old" and not target.exists():
                with contextlib.suppress(OSError):
                    os.rename(path, target)
            else:
                shutil.rmtree(path, ignore_errors=True)


def write_run(result: Result, folder: Path, force: bool = False) -> Path:
    """Write the run folder atomically: a temporary sibling renamed into place.

    An existing folder is replaced only with ``force``; a failure leaves no partial folder and the
    earlier folder untouched.
    """
    folder = Path(folder)
    check_target(folder, force)
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _clean_stale(parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-{os.getpid()}-", dir=parent))
    except OSError as exc:
        why = blocked_because(folder, exc)
        raise OutputError(
            str(folder), f"cannot create the folder ({why}); choose another --out"
        ) from None
    try:
        write_csv(result.allocation, tmp / "allocation.csv")
        write_csv(result.outcomes, tmp / "outcomes.csv")
        write_csv(result.constraints, tmp / "constraints.csv")
        write_csv(result.screen.reset_index(), tmp / "screen.csv")
        if result.tradeoffs is not None:
            write_csv(result.tradeoffs, tmp / "tradeoffs.csv")
        if result.margins is not None:
            write_csv(result.margins, tmp / "marginal_values.csv")
        (tmp / "summary.json").write_text(json.dumps(asdict(result.summary), indent=2) + "\n")
        (tmp / "scenario.toml").write_text(result.scenario_toml)
        (tmp / "manifest.json").write_text(
            json.dumps(result.manifest, indent=2, sort_keys=True) + "\n"
        )
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def read_run(folder: Path) -> Result:
    """Read a run folder back into a Result (no solving)."""
    folder = Path(folder)
    needed = ["summary.json", "allocation.csv", "outcomes.csv", "constraints.csv", "screen.csv"]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise OutputError(str(folder), f"not a tipfocus run folder (missing {', '.join(missing)})")
    summary = Summary(**json.loads((folder / "summary.json").read_text()))
    manifest_data: dict[str, Any] = {}
    with contextlib.suppress(FileNotFoundError):
        manifest_data = json.loads((folder / "manifest.json").read_text())
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
        tradeoffs=_optional_csv(folder / "tradeoffs.csv"),
        margins=_optional_csv(folder / "marginal_values.csv"),
    )


def _optional_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path, keep_default_na=False) if path.is_file() else None
