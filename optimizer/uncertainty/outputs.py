"""Write a study's folder (uncertainty or sensitivity): CSV tables, summary.json and charts, and
a Monte Carlo study's draws as solved (``OUTCOMES``), which ``read_study`` reads back to resume it.

The folder is written whole in a temporary sibling and renamed into place; ``--force`` replaces
only a folder that such a study wrote (it holds ``MARKER``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from optimizer import files
from optimizer.errors import InputError, setting
from optimizer.files import check_target
from optimizer.report.charts import chart_style, new_figure, save
from optimizer.result import write_csv
from optimizer.uncertainty.resolve import DrawOutcome

MARKER = "summary.json"
OUTCOMES = "draws.jsonl"  # a Monte Carlo study's draws as solved: what --resume reads back


_written_by = files.folder_written_by(
    (MARKER,), "a folder written by tipfocus uncertainty or sensitivity"
)
OPTIONAL = {"robust_allocation.csv", "robust_vs_mode.csv"}  # a study may have written them


def _ours(folder: Path, written: set[str] | None = None) -> str:
    """Why ``folder`` may not be replaced ("" if it may): ``files.folder_written_by``, where the
    study's optional files count as ones it wrote (a study with --robust replaced by one without)."""
    return _written_by(folder, None if written is None else written | OPTIONAL)


def check_folder(folder: Path, force: bool) -> None:
    """Refuse the output folder before any solve."""
    check_target(folder, force, replaceable=_ours)


def figure(draw: Callable, *data, height: float = 4.2) -> Figure:
    """A new figure with ``draw(ax, *data)`` on it."""
    with chart_style():
        fig, ax = new_figure(height=height)
        draw(ax, *data)
    return fig


def write_folder(
    folder: Path,
    force: bool,
    tables: dict[str, pd.DataFrame],
    summary: dict,
    figures: dict[str, Figure],
    outcomes: list[DrawOutcome] | None = None,
) -> Path:
    """tables (name.csv), summary.json, figures (name.png) and a Monte Carlo study's draws
    (``OUTCOMES``) into ``folder``, atomically (``files.write_folder``)."""

    def write(tmp: Path) -> None:
        for name, frame in tables.items():
            write_csv(frame, tmp / f"{name}.csv")
        (tmp / MARKER).write_text(json.dumps(summary, indent=2) + "\n")
        for name, fig in figures.items():
            save(fig, tmp / f"{name}.png", "png")
        if outcomes is not None:
            lines = (json.dumps(_record(o)) + "\n" for o in outcomes)
            (tmp / OUTCOMES).write_text("".join(lines))

    return files.write_folder(folder, write, force, _ours)


def _record(outcome: DrawOutcome) -> dict:
    record = asdict(outcome)
    record["spend"] = [[iso, pillar, usd] for (iso, pillar), usd in outcome.spend.items()]
    return record


@dataclass(frozen=True)
class Resumed:
    """An earlier Monte Carlo study to continue: where, its seed and fingerprint
    (``study.fingerprint``), and its finished draws exactly as solved."""

    folder: Path
    seed: int
    fingerprint: str
    outcomes: list[DrawOutcome]


def _outcome(record: dict) -> DrawOutcome:
    """A ``DrawOutcome`` from its ``_record``; ValueError or TypeError if it is not one."""

    def number(value, missing_ok: bool) -> float | None:
        if value is None and missing_ok:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a number")
        return float(value)

    index, seed = record["index"], record["seed"]
    if not (isinstance(index, int) and isinstance(seed, int) and index >= 0):
        raise ValueError("index and seed must be whole numbers")
    if not isinstance(record["status"], str) or not all(
        isinstance(c, str) for c in record["selected"]
    ):
        raise ValueError("status and selected must be text")
    spend = {(str(iso), str(pillar)): number(usd, False) for iso, pillar, usd in record["spend"]}
    return DrawOutcome(
        index=index,
        seed=seed,
        status=record["status"],
        objective=number(record["objective"], True),
        impact=number(record["impact"], True),
        mode_impact=number(record["mode_impact"], False),
        selected=tuple(record["selected"]),
        spend=spend,
    )


def read_study(folder: Path) -> Resumed:
    """The Monte Carlo study in ``folder``, to resume it (JSON keeps every digit of a float).
    InputError naming the folder, the file and the line."""
    where = str(folder)
    hint = (
        f"give {setting('output')} the folder of an earlier uncertainty study, or start a new one"
    )
    if not (folder / MARKER).is_file() or not (folder / OUTCOMES).is_file():
        missing = MARKER if not (folder / MARKER).is_file() else OUTCOMES
        raise InputError(where, f"has no {missing}: not a study this version can resume", hint=hint)
    try:
        summary = json.loads((folder / MARKER).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            str(folder / MARKER), f"is not a study's summary ({exc})", hint=hint
        ) from None
    keys = ("seed", "fingerprint", "draws_requested")
    if not isinstance(summary, dict) or any(k not in summary for k in keys):
        problem = f"has no {' or '.join(keys)}: not a study this version can resume"
        raise InputError(str(folder / MARKER), problem, hint=hint)
    if isinstance(summary["seed"], bool) or not isinstance(summary["seed"], int):
        raise InputError(str(folder / MARKER), "its seed is not a whole number", hint=hint)
    try:
        lines = (folder / OUTCOMES).read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(str(folder / OUTCOMES), f"is not text ({exc})", hint=hint) from None
    outcomes, seen = [], set()
    for number, line in enumerate(lines, start=1):
        try:
            outcome = _outcome(json.loads(line))
            if outcome.index in seen:
                raise ValueError(f"draw {outcome.index} is there twice")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            where = f"{folder / OUTCOMES}, line {number}"
            fix = "delete that line (its draw is solved again) and resume, or give a new "
            fix += setting("output")
            raise InputError(where, f"is not a draw ({exc})", hint=fix) from None
        seen.add(outcome.index)
        outcomes.append(outcome)
    return Resumed(folder, int(summary["seed"]), str(summary["fingerprint"]), outcomes)
