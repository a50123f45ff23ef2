"""Reading input files safely, and writing output files so that nothing is lost.

One way to read every input file (scenarios, ``extends`` targets, catalogues, data tables,
publisher files): :func:`read_input` opens without blocking, accepts only a regular file (never a
FIFO, device or folder; a symlink loop is named as one) and stops at a size cap instead of reading
without bound.

One way to write every output file (tables, screens, model files): a reader never sees a half
file, an interrupted write leaves the old file as it was, and the new file gets the ordinary
permissions (``mkstemp`` alone would leave it readable by its owner only).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from optimizer.errors import OutputError, TipfocusError

MAX_TOML_BYTES = 4 * 1024 * 1024  # scenarios and catalogues are a few kB; 4 MB is generous
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def read_input(
    path: Path,
    error: type[TipfocusError],
    max_bytes: int,
    missing: str = "file not found; check the path",
    what: str = "file",
) -> bytes:
    """The bytes of an input file, or ``error(path, message)`` saying why not.

    Opened with ``O_NONBLOCK`` (a FIFO cannot hang the open) and checked with ``fstat`` on the
    open descriptor (no window between the check and the read): only a regular file of at most
    ``max_bytes`` is read, and at most ``max_bytes + 1`` bytes are ever read (a file that grows
    while being read is refused too).
    """
    where = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        dangling = os.path.islink(path)
        raise error(
            where, "is a symbolic link to a missing file" if dangling else missing
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(
                where, "is a symbolic link that loops back on itself; point it at a real file"
            ) from None
        raise error(where, f"cannot read the {what} ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(
                where, f"is {file_kind(info.st_mode)}, not a regular file; give a {what} on disk"
            )
        too_big = (
            f"is larger than {_size(max_bytes)}, the limit for a {what}; is this the right file?"
        )
        if info.st_size > max_bytes:
            raise error(where, too_big)
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise error(where, too_big)
        return b"".join(chunks)
    except OSError as exc:
        raise error(where, f"cannot read the {what} ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n} bytes"


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
