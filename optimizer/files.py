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
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from optimizer.errors import Interrupted, OutputError, TipfocusError, setting

# The settings output messages name: where to write, and whether an existing path is replaced.
OUTPUT = setting("output")
FORCE = setting("force")

MAX_TOML_BYTES = 4 * 1024 * 1024  # scenarios and catalogues are a few kB; 4 MB is generous
_KINDS = (
    (stat.S_ISREG, "a file"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a file system entry is, in words: a file, a folder, a named pipe (FIFO), ..."""
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


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def blocked_because(path: Path, error: OSError) -> str:
    """Why a path cannot be written, in words: a parent that is a file, or the OS reason."""
    blocker = next((p for p in Path(path).parents if p.is_file()), None)
    return f"{blocker} is a file, not a folder" if blocker else str(error.strerror or error)


NAME_MAX_BYTES = 255  # the longest file name ext4, XFS, APFS and NTFS accept


def check_target(
    path: Path, force: bool, what: str = OUTPUT, replaceable: Callable[[Path], str] | None = None
) -> None:
    """Refuse, before any work is done, an output path that cannot or must not be written.

    Refused: the current or a parent folder, a name too long for the file system, a dangling
    symlink, a place under a file or in a folder that cannot be written, and an existing path
    without ``force``. With ``force`` an existing path must pass ``replaceable`` (which returns
    why not, or ""); by default only a regular file may be replaced.
    """
    path = Path(path)
    here = Path.cwd().resolve()
    if path.name in ("", ".", "..") or _resolves_to(path) in (here, *here.parents):
        raise OutputError(
            str(path), f"is the current folder or one above it; give a new name for {what}"
        )
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX_BYTES:
            raise OutputError(
                str(path),
                f"a name in the path is {size} bytes long, above the file system limit of "
                f"{NAME_MAX_BYTES}; choose a shorter {what}",
            )
    if os.path.islink(path) and not path.exists():
        raise OutputError(str(path), f"is {_broken_link(path)}; remove it or choose another {what}")
    if os.path.lexists(path):
        if not force:
            raise OutputError(
                str(path), f"already exists; use {FORCE} to replace it, or another {what}"
            )
        why = (replaceable or _regular_file)(path)
        if why:
            rule = (
                f"{FORCE} replaces only what tipfocus wrote"
                if what.startswith(("`", "--"))  # a setting, not a kind of file
                else f"tipfocus replaces only a regular file as the {what}"
            )
            raise OutputError(str(path), f"{why}; {rule}")
        return
    _check_folder_above(path, what)


def _broken_link(path: Path) -> str:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops back on itself"
    return "a symbolic link to a missing target"


def _check_folder_above(path: Path, what: str) -> None:
    """The nearest existing name above ``path`` must be a folder that can be written in: not a
    file, device or broken symlink, and a probe (a folder made and removed) must succeed, which
    also catches permissions and a read-only file system."""
    parent = next(p for p in (*path.parents, Path(".")) if os.path.lexists(p))
    try:
        info = os.stat(parent)
    except OSError:
        info = None
    if info is None or not stat.S_ISDIR(info.st_mode):
        kind = _broken_link(parent) if info is None else file_kind(info.st_mode)
        raise OutputError(
            str(path),
            f"cannot write here ({parent} is {kind}, not a folder); choose another {what}",
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tipfocus-probe-", dir=parent))
    except OSError as exc:
        raise OutputError(
            str(path), f"cannot write in {parent} ({exc.strerror or exc}); choose another {what}"
        ) from None


def _resolves_to(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def _regular_file(path: Path) -> str:
    """Why ``path`` may not be replaced by a file ("" if it may: a regular file, no symlink)."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return f"is {file_kind(info.st_mode)}"
    return ""


@contextlib.contextmanager
def atomic_path(
    path: Path, force: bool = True, what: str = OUTPUT, replaceable=None
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place when the block succeeds.

    Without ``force`` an existing file is an ``OutputError``. On any exception the temporary
    file is removed and ``path`` is left untouched. The temporary is named
    ``.<name>.tmp-<pid>-*``, so a process killed mid-write leaves one that ``clean_stale``
    removes.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(str(path), f"is a folder; give a file name for {what}")
    check_target(path, force, what, replaceable)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(path.parent)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        why = blocked_because(path, exc)
        raise OutputError(str(path), f"cannot write here ({why}); choose another {what}") from None
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())
        if not force:  # refuse at the rename what appeared meanwhile (another run, a user)
            check_target(path, force, what, replaceable)
        publish(lambda: os.replace(tmp, path), path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def publish(move: Callable[[], None], target: Path) -> None:
    """Run ``move`` (the rename or renames that put ``target`` in place) with Ctrl-C and SIGTERM
    held back, so that a signal cannot split a replace in two; a signal that came meanwhile is
    raised afterwards as ``Interrupted(target)``: the output is whole and the message says so."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        move()
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {
        sig: signal.signal(sig, lambda number, _frame: caught.append(number)) for sig in held
    }
    try:
        move()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise Interrupted(target)


STALE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)(-[^/]*)?$")
STALE_AFTER_S = 24 * 3600  # older than this, a temporary is stale even if its PID was reused


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # no cheap, safe liveness test: assume alive, keep the folder
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_stale(parent: Path, now: float | None = None) -> None:
    """Remove the hidden temporaries of writes that were killed (SIGKILL, power loss).

    ``.<name>.tmp-<pid>-*`` (a run folder or an output file) of a dead process is half written:
    removed. ``.<name>.old-<pid>`` is an earlier run moved aside while being replaced: put back if
    ``<name>`` is missing, else removed. A temporary older than a day is stale whatever its PID
    (PIDs are reused, in containers soon). ``now``: the time to judge age by (default: now).
    """
    now = time.time() if now is None else now
    with contextlib.suppress(OSError):
        for entry in os.listdir(parent):
            match = STALE.match(entry)
            path = parent / entry
            if not match:
                continue
            with contextlib.suppress(OSError):
                info = os.lstat(path)
                # ctime too: a rename (moving an earlier run aside) makes the entry new again
                old = now - max(info.st_mtime, info.st_ctime) > STALE_AFTER_S
                if _pid_alive(int(match["pid"])) and not old:
                    continue
                target = parent / match["name"]
                if (
                    match["kind"] == "old"
                    and stat.S_ISDIR(info.st_mode)
                    and not os.path.lexists(target)
                ):
                    os.rename(path, target)
                elif stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()


def write_text(path: Path, text: str, force: bool = True, what: str = OUTPUT) -> None:
    """Write ``text`` (UTF-8, line endings as given) to ``path`` atomically."""
    with atomic_path(path, force, what) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


# ---------------------------------------------------------------------------- whole folders


def folder_written_by(markers: tuple[str, ...], what: str) -> Callable[..., str]:
    """A ``replaceable`` test for ``write_folder``: why a path is not a folder tipfocus wrote
    ("" if it is): a real folder (not a symlink) that is empty, or holds every one of ``markers``
    and only regular files; given ``written`` (the names the new folder has), none other."""

    def why_not(folder: Path, written: set[str] | None = None) -> str:
        info = os.lstat(folder)
        if stat.S_ISLNK(info.st_mode):
            return f"is a symbolic link, not {what}"
        if not stat.S_ISDIR(info.st_mode):
            return f"is {file_kind(info.st_mode)}, not {what}"
        entries = {entry.name: entry for entry in os.scandir(folder)}
        if not entries:
            return ""  # an empty folder: nothing to lose
        missing = [name for name in markers if name not in entries]
        if missing:
            return f"is not {what} (no {' or '.join(missing)})"
        odd = sorted(n for n, e in entries.items() if not e.is_file(follow_symlinks=False))
        odd += sorted(set(entries) - written - set(odd)) if written is not None else []
        return f"holds {odd[0]}, which tipfocus did not write; move it out first" if odd else ""

    return why_not


def write_folder(
    folder: Path, write: Callable[[Path], None], force: bool, replaceable: Callable[..., str]
) -> Path:
    """Write a folder atomically: ``write(tmp)`` fills a hidden temporary sibling, which is then
    renamed into place.

    Without ``force`` the folder must not exist, also at the rename (one that appeared meanwhile is
    kept, and this one refused). With ``force`` only a folder that ``replaceable(folder, written)``
    accepts ("" = yes) is replaced, checked again at the rename; if the swap fails the earlier
    folder is put back. A failure leaves no partial folder; the folder follows the umask.
    """
    folder = Path(folder)
    check_target(folder, force, replaceable=replaceable)
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_stale(parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-{os.getpid()}-", dir=parent))
    except OSError as exc:
        why = blocked_because(folder, exc)
        raise OutputError(
            str(folder), f"cannot create the folder ({why}); choose another {OUTPUT}"
        ) from None
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it 0700; files already follow the umask
        write(tmp)
        _put_in_place(tmp, folder, force, replaceable)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _put_in_place(tmp: Path, folder: Path, force: bool, replaceable: Callable[..., str]) -> None:
    """Rename ``tmp`` onto ``folder``: onto nothing, or (``force``) in place of an earlier one."""
    if force and os.path.lexists(folder):
        why = replaceable(folder, set(os.listdir(tmp)))  # again: it may have changed meanwhile
        if why:
            raise OutputError(str(folder), f"{why}; {FORCE} replaces only what tipfocus wrote")
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")

        def swap() -> None:
            os.rename(folder, old)
            try:
                os.rename(tmp, folder)
            except OSError:
                os.rename(old, folder)  # the earlier folder goes back
                raise

        try:
            publish(swap, folder)
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return
    try:
        # rename() onto a folder with files fails (ENOTEMPTY/EEXIST), onto a file too (ENOTDIR)
        publish(lambda: os.rename(tmp, folder), folder)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise
        raise OutputError(
            str(folder),
            f"appeared while this run was solving (another run into the same {OUTPUT}?); it was "
            f"kept and this run not written: choose another {OUTPUT}, or use {FORCE}",
        ) from None
