"""What reports read: run folders as they are, scenario files solved on the fly.

Every argument is checked (exists, is a run folder or a scenario file, a format this version reads,
a name no other argument has) before any scenario is solved, so bad input fails fast and nothing
is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from optimizer.errors import InputError
from optimizer.report.tables import ReportTables, report_tables
from optimizer.result import RUN_FILES as WRITTEN
from optimizer.result import TRADEOFF_FILES, Result, read_run

# Files of a run folder that its own sections show; any other CSV in it is an analysis (the
# trade-offs, a frontier) shown as a table of its own.
RUN_FILES = frozenset(WRITTEN) - frozenset(TRADEOFF_FILES) | {"changes.csv"}


@dataclass(frozen=True)
class Run:
    """One result to report: its label (folder name or scenario name) and where it came from."""

    label: str
    result: Result
    folder: Path | None = None  # None when solved on the fly

    @cached_property
    def tables(self) -> ReportTables:
        """The run's report tables, computed once for every view of it."""
        return report_tables(self.result)

    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """Analyses saved beside the run (e.g. frontier.csv), by file stem, in name order."""
        if self.folder is None:
            return {}
        found = {}
        for path in sorted(self.folder.glob("*.csv")):
            if path.name not in RUN_FILES and path.is_file():
                try:
                    found[path.stem] = pd.read_csv(path, keep_default_na=False)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise InputError(str(path), f"cannot be read as CSV ({exc})") from None
        return found


def load_runs(paths: list[Path], overrides: tuple[str, ...] = ()) -> list[Run]:
    """Run folders read back and scenario files solved, in argument order.

    Raises ``InputError``/``OutputError`` (exit 2) for a missing path, a folder that is not a run,
    a newer run format or two arguments with the same label, before solving anything.
    """
    from optimizer.scenario import load_scenario

    pending: list[tuple[str, Path, object]] = []  # label, path, Result or Scenario
    for path in paths:
        path = Path(path)
        if path.is_dir():
            result = read_run(path)
            pending.append((path.resolve().name, path, result))
        elif path.is_file():
            scenario = load_scenario(path, list(overrides))
            pending.append((scenario.name, path, scenario))
        else:
            raise InputError(
                str(path),
                "no such run folder or scenario file; check the path (see `tipfocus run`)",
            )
    seen: dict[str, Path] = {}
    for label, path, _ in pending:
        if label in seen:
            raise InputError(
                str(path),
                f"has the same name {label!r} as {seen[label]}; each argument needs its own name "
                "(rename a run folder, or give a scenario another `name`)",
            )
        seen[label] = path
    return [_resolved(label, path, item) for label, path, item in pending]


def _resolved(label: str, path: Path, item: object) -> Run:
    if isinstance(item, Result):
        return Run(label=label, result=item, folder=path)
    from optimizer.engine import run as solve_scenario
    from optimizer.errors import ScenarioError

    try:
        return Run(label=label, result=solve_scenario(item))  # type: ignore[arg-type]
    except ScenarioError as exc:  # rules checked after loading name the file, as `run` does
        if not exc.where.startswith("scenario "):
            raise
        raise ScenarioError(str(path), exc.problems, key=exc.key, hint=exc.hint) from None
