"""Writing files so that nothing is lost: a temporary sibling renamed into place.

One way to write every output file (tables, screens, model files): a reader never sees a half
file, an interrupted write leaves the old file as it was, and the new file gets the ordinary
permissions (``mkstemp`` alone would leave it readable by its owner only).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from optimizer.errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def blocked_because(path: Path, error: OSError) -> str:
    """Why a path cannot be written, in words: a parent that is a file, or the OS reason."""
    blocker = next((p for p in Path(path).parents if p.is_file()), None)
    return f"{blocker} is a file, not a folder" if blocker else str(error.strerror or error)


def check_target(path: Path, force: bool, what: str = "--out") -> None:
    """Refuse, before any work is done, an output that exists (without ``force``) or that sits
    under a file."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputError(
            str(path), f"already exists; use --force to replace it, or another {what}"
        )
    blocker = next((p for p in path.parents if p.is_file()), None)
    if blocker:
        raise OutputError(
            str(path),
            f"cannot write here ({blocker} is a file, not a folder); choose another {what}",
        )


@contextlib.contextmanager
def atomic_path(path: Path, force: bool = True, what: str = "--out") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place when the block succeeds.

    Without ``force`` an existing file is an ``OutputError``. On any exception the temporary
    file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(str(path), f"is a folder; give a file name for {what}")
    check_target(path, force, what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        why = blocked_because(path, exc)
        raise OutputError(str(path), f"cannot write here ({why}); choose another {what}") from None
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str, force: bool = True, what: str = "--out") -> None:
    """Write ``text`` (UTF-8, line endings as given) to ``path`` atomically."""
    with atomic_path(path, force, what) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
