"""One exception hierarchy for everything a user can get wrong or a run can hit.

The CLI turns these into one clear message and an exit code; tracebacks only with its debug flag.

A library message names the settings it is about by their keys, marked with :func:`setting`: a
scenario key (``solver.name``) or an argument of the library call (``output``, ``force``,
``overrides``). Rendered plainly they read as the keys (``solver.name=cbc``); the CLI renders them
with its flag names instead (``--solver cbc``), so no flag name is written inside the library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_KEY = r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*"
_MARK = re.compile(rf"`({_KEY})(?:=([^`]*))?`")


def setting(key: str, value: object = None) -> str:
    """A setting named in a message: ``setting("solver.name", "cbc")`` reads ``solver.name=cbc``
    in the library and ``--solver cbc`` on the command line. A backtick in the value (it marks
    the setting's end) is shown as a quote."""
    if value is None:
        return f"`{key}`"
    shown = str(value).replace("`", "'")
    return f"`{key}={shown}`"


def name_settings(text: str, flags: Mapping[str, str] | None = None, beside: bool = True) -> str:
    """``text`` with each marked setting in words: its flag where ``flags`` has one, else its key.
    ``beside``: a scenario key keeps its key beside the flag (``solver.time_limit_s
    (--time-limit)``), as it may be set in a file too."""
    return _MARK.sub(lambda m: _in_words(*m.groups(), flags or {}, beside), text)


def _in_words(key: str, value: str | None, flags: Mapping[str, str], beside: bool) -> str:
    flag = flags.get(key)
    if flag is None:
        return key if value is None else f"{key}={value}"
    if value is not None:
        return f"{flag} {value}"
    return f"{key} ({flag})" if beside and "." in key else flag


class TipfocusError(Exception):
    """Base class: ``where`` (a file, folder, section or setting), one line per problem, and
    optionally ``key`` (the setting at fault) and ``hint`` (what to do).

    Each problem names where it is and what to do; ``exit_code`` is what the CLI returns. ``where``
    may be a marked setting itself (``setting("overrides")``): the command line names it by its
    flag alone (``--set: ...``).
    """

    exit_code = 2

    def __init__(
        self,
        where: str,
        problems: str | Iterable[str],
        *,
        key: str | None = None,
        hint: str | None = None,
    ):
        self.where = where
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.key = key
        self.hint = hint
        super().__init__(self.render())

    def render(self, flags: Mapping[str, str] | None = None) -> str:
        """The message; with ``flags`` (key -> flag name), settings are named by their flags."""
        where = name_settings(self.where, flags, beside=False)
        problems = [name_settings(p, flags) for p in self.problems]
        hint = name_settings(self.hint, flags) if self.hint else None
        if len(problems) == 1:
            return f"{where}: {problems[0]}" + (f"; {hint}" if hint else "")
        lines = "\n".join(f"  - {p}" for p in problems)
        return f"{where}: {len(problems)} problems\n{lines}" + (f"\n{hint}" if hint else "")


class InputError(TipfocusError):
    """Bad input: a file, section, key, row or command-line value is wrong (exit code 2)."""


class ScenarioError(InputError):
    """A scenario file or an override (``section.key=value``) is wrong."""


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
