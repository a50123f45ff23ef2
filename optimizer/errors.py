"""One exception hierarchy for everything a user can get wrong or a run can hit.

The CLI turns these into one clear message and an exit code; tracebacks only with ``--debug``.
"""

from __future__ import annotations

from collections.abc import Iterable


class TipfocusError(Exception):
    """Base class: ``where`` (a file, key, solver or folder) and one line per problem.

    Each problem names where it is and what to do; ``exit_code`` is what the CLI returns.
    """

    exit_code = 2

    def __init__(self, where: str, problems: str | Iterable[str]):
        self.where = where
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            return f"{self.where}: {self.problems[0]}"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"{self.where}: {len(self.problems)} problems\n{lines}"


class InputError(TipfocusError):
    """Bad input: a file, section, key, row or command-line value is wrong (exit code 2)."""


class ScenarioError(InputError):
    """A scenario file or --set override is wrong."""


class DataError(InputError):
    """A data table or publisher file is wrong."""


class CatalogueError(InputError):
    """An impact-model catalogue file is wrong."""


class InfeasibleError(TipfocusError):
    """The rules cannot all hold at once (exit code 1); the problems say which and by how much."""

    exit_code = 1


class SolverError(TipfocusError):
    """The solver is missing or failed (exit code 1)."""

    exit_code = 1


class OutputError(TipfocusError):
    """An output path exists or cannot be written (exit code 2)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM that arrived while an output was being put in place: the output
    ``written`` is whole (the CLI says so instead of "nothing was written")."""

    def __init__(self, written):
        self.written = written
        super().__init__(f"interrupted after writing {written}")
