"""Analysis folders (frontier) written like run folders (``files.write_folder``): all files
appear together or not at all, and ``--force`` replaces only a folder the same analysis wrote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from optimizer import files


def write_folder(folder: Path, written: dict[str, Callable[[Path], None]], force: bool) -> Path:
    """Each ``written[name](path)`` writes one file; the first name marks the folder as ours."""

    def write(tmp: Path) -> None:
        for name, write_one in written.items():
            write_one(tmp / name)

    return files.write_folder(folder, write, force, replaceable(next(iter(written))))


def replaceable(marker: str) -> Callable[..., str]:
    """What ``--force`` may replace: a folder holding ``marker`` and only files tipfocus wrote."""
    return files.folder_written_by((marker,), f"a folder of tipfocus's {Path(marker).stem}")
