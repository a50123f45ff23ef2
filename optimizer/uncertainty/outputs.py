"""Write a study's folder (uncertainty or sensitivity): CSV tables, summary.json and charts.

The folder is written whole in a temporary sibling and renamed into place; ``--force`` replaces
only a folder that such a study wrote (it holds ``MARKER``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from optimizer.errors import OutputError
from optimizer.files import check_target, umask
from optimizer.report.charts import chart_style, new_figure, save
from optimizer.result import write_csv

MARKER = "summary.json"


def _ours(folder: Path) -> str:
    if folder.is_dir() and (folder / MARKER).is_file():
        return ""
    return "is not a folder written by tipfocus uncertainty or sensitivity"


def check_folder(folder: Path, force: bool) -> None:
    """Refuse the output folder before any solve."""
    check_target(folder, force, "--out", replaceable=_ours)


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
    """tables (name.csv), summary.json and figures (name.png) into ``folder``, atomically."""
    folder = Path(folder)
    check_folder(folder, force)
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise OutputError(str(folder), f"cannot create the folder ({exc.strerror})") from None
    try:
        os.chmod(tmp, 0o777 & ~umask())
        for name, frame in tables.items():
            write_csv(frame, tmp / f"{name}.csv")
        (tmp / MARKER).write_text(json.dumps(summary, indent=2) + "\n")
        for name, fig in figures.items():
            save(fig, tmp / f"{name}.png", "png")
        if force and folder.exists():
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
