"""Re-solves at once: the warm resolver and clones of it, each used by one thread at a time.

HiGHS solves outside Python's lock, so on two cores two copies of the model solve in the time of
one. A clone is a second HiGHS copy of the built model (``Resolver.clone``), not a rebuild: it
costs a hand-over of the matrix, well under a second on the baseline.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from optimizer.analysis.resolve import Resolver

WORKERS = 2  # HiGHS copies solving at once (the machines this runs on have two cores or more)

Job = TypeVar("Job")
Out = TypeVar("Out")


class ResolverPool:
    """``resolver`` and ``workers - 1`` clones. Leaving the block (Ctrl-C included) cancels the
    solves under way; the resolver passed in is the one left with the last changes undone."""

    def __init__(self, resolver: Resolver, workers: int = WORKERS):
        self.resolvers = [resolver] + [resolver.clone() for _ in range(max(1, workers) - 1)]
        self.free: queue.SimpleQueue[Resolver] = queue.SimpleQueue()
        for r in self.resolvers:
            self.free.put(r)
        many = len(self.resolvers) > 1
        self.executor = ThreadPoolExecutor(len(self.resolvers)) if many else None

    def __enter__(self) -> ResolverPool:
        return self

    def __exit__(self, kind, *_) -> None:
        if self.executor is None:
            return
        if kind is not None:  # Ctrl-C or a failure: stop the other solves now
            for r in self.resolvers:
                r.session.cancel()
        self.executor.shutdown(wait=True, cancel_futures=True)

    def map(self, run: Callable[[Resolver, Job], Out], jobs: Iterable[Job]) -> list[Out]:
        """``run(resolver, job)`` for each job, each on a free resolver; results in job order."""
        if self.executor is None:
            return [run(self.resolvers[0], job) for job in jobs]
        return list(self.executor.map(lambda job: self._on_free(run, job), jobs))

    def _on_free(self, run: Callable[[Resolver, Job], Out], job: Job) -> Out:
        resolver = self.free.get()
        try:
            return run(resolver, job)
        finally:
            self.free.put(resolver)
