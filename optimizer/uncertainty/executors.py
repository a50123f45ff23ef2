"""Where draws run: local worker processes, or a Dask distributed cluster (optional extra)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import Executor

from optimizer.errors import InputError, setting
from optimizer.uncertainty.montecarlo import local_executor

CONNECT_SECONDS = 10


@contextlib.contextmanager
def executor(workers: int, scheduler: str | None = None) -> Iterator[Executor]:
    """``workers`` local processes, or the executor of a Dask client connected to ``scheduler``."""
    if scheduler is None:
        pool = local_executor(workers)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    client = connect(scheduler)
    try:
        yield client.get_executor()
    finally:
        client.close()


def connect(address: str):
    """A Dask distributed Client, or one clear InputError (extra missing, scheduler unreachable)."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            setting("scheduler"),
            "needs the optional Dask extra: pip install 'tipfocus[distributed]' "
            f"(or drop {setting('scheduler')} to use local worker processes)",
        ) from None
    try:
        return Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            setting("scheduler"),
            f"cannot reach a Dask scheduler at {address!r} within {CONNECT_SECONDS} s ({exc}); "
            f"check the address (tcp://host:8786) and that the scheduler runs, or drop {setting('scheduler')}",
        ) from None
