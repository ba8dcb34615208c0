"""The crawl's worker processes: where every CPU-heavy step of a response runs.

Writing a capture (hashing, gzip) and extracting an article are the
crawl's CPU work. Run in threads of the crawl process, they would compete
with Scrapy's reactor for one interpreter lock, and the reactor would wait;
in worker processes (TEXT_WORKERS, one per core by default) they use every
core and the reactor only moves bytes. Arguments go to a worker once, and
only small results come back.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

T = TypeVar("T")
_SWITCH_INTERVAL = 0.0005


class WorkerPool:
    """A Scrapy extension holding the process pool shared by the capture middleware and the article pipeline."""

    def __init__(self, workers: int, stats: StatsCollector | None = None) -> None:
        self.workers = workers
        self.stats = stats
        self._pool: ProcessPoolExecutor | None = None
        # Bulk work (extraction) waits here rather than in the pool's queue, which stays
        # short: a capture, which a download waits for, is never far from the front.
        self._bulk = asyncio.Semaphore(2 * workers)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerPool:
        pool = cls(crawler.settings.getint("TEXT_WORKERS") or os.cpu_count() or 1, crawler.stats)
        crawler.signals.connect(pool.close, signal=signals.engine_stopped)
        return pool

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker process, awaited without blocking the reactor."""
        return await self._submit(fn, *args)

    async def run_bulk(self, fn: Callable[..., T], *args: Any) -> T:
        """``run``, for work that nothing else waits for: at most two such jobs per worker are queued at once."""
        async with self._bulk:
            return await self._submit(fn, *args)

    async def _submit(self, fn: Callable[..., T], *args: Any) -> T:
        if self.stats is not None:
            # Each job is a copy of its arguments (a response body) sent to a worker: worth counting.
            self.stats.inc_value("workers/jobs")
        if self._pool is None:
            # The pool's threads (feeding jobs, collecting results) share the interpreter
            # lock with the reactor; every time the reactor lets go of it (a socket
            # write, an lxml parse) it waits for them to hand it back. A shorter switch
            # interval than the default 5 ms keeps that wait short.
            sys.setswitchinterval(_SWITCH_INTERVAL)
            # forkserver: forking a process that runs the reactor and a thread
            # pool would copy their locks mid-use.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("forkserver"))
        return await asyncio.wrap_future(self._pool.submit(fn, *args))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def worker_pool(crawler: Crawler) -> WorkerPool:
    pool = crawler.get_extension(WorkerPool)
    if pool is None:
        raise RuntimeError("crawler.workers.WorkerPool is missing from EXTENSIONS")
    return pool
