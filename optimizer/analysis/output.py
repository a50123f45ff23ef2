"""Analysis folders (frontier, alternatives) written like run folders: a hidden temporary sibling
renamed into place, an existing folder replaced only with ``force``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from optimizer.errors import OutputError
from optimizer.files import blocked_because, check_target


def write_folder(folder: Path, files: dict[str, Callable[[Path], None]], force: bool) -> Path:
    """Each ``files[name](path)`` writes one file; all appear together or not at all."""
    folder = Path(folder)
    check_target(folder, force)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-{os.getpid()}-", dir=folder.parent))
    except OSError as exc:
        why = blocked_because(folder, exc)
        raise OutputError(
            str(folder), f"cannot create the folder ({why}); choose another --out"
        ) from None
    try:
        for name, write in files.items():
            write(tmp / name)
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
