"""Write a study's folder (uncertainty or sensitivity): CSV tables, summary.json and charts.

The folder is written whole in a temporary sibling and renamed into place; ``--force`` replaces
only a folder that such a study wrote (it holds ``MARKER``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from optimizer import files
from optimizer.files import check_target
from optimizer.report.charts import chart_style, new_figure, save
from optimizer.result import write_csv

MARKER = "summary.json"


_ours = files.folder_written_by(
    (MARKER,), "a folder written by tipfocus uncertainty or sensitivity"
)


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
) -> Path:
    """tables (name.csv), summary.json and figures (name.png) into ``folder``, atomically
    (``files.write_folder``)."""

    def write(tmp: Path) -> None:
        for name, frame in tables.items():
            write_csv(frame, tmp / f"{name}.csv")
        (tmp / MARKER).write_text(json.dumps(summary, indent=2) + "\n")
        for name, fig in figures.items():
            save(fig, tmp / f"{name}.png", "png")

    return files.write_folder(folder, write, force, _ours)
