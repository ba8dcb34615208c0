"""The crawl's worker processes: where every CPU-heavy step of a response runs.

Writing a capture (hashing, gzip) and extracting an article are the
crawl's CPU work. Run in threads of the crawl process, they would compete
with Scrapy's reactor for one interpreter lock, and the reactor would wait;
in worker processes (TEXT_WORKERS, one per core by default) they use every
core and the reactor only moves bytes. Arguments go to a worker once, and
only small results come back.

Each worker has a pipe for jobs and one for results, written and read by
the reactor's own event loop. concurrent.futures' process pool would add
two threads to the crawl process (one feeding jobs, one collecting
results) that pass every job and result through the interpreter lock
again: a fifth of the crawl process's CPU (bench/crawl_speed.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import pickle
import signal
import struct
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver, get_context
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

T = TypeVar("T")
# The frame of multiprocessing.Connection.send_bytes, which the workers read: a signed 4-byte
# big-endian length, or -1 and an unsigned 8-byte one for a frame of 2 GiB or more.
_SHORT = struct.Struct("!i")
_LONG = struct.Struct("!Q")
_JOIN_TIMEOUT_S = 30
_PIPE_SIZE = 1 << 20
_WRITEV_MAX = 64  # buffers per write, well under the system's IOV_MAX
# What the jobs need (Scrapy, lxml, trafilatura, warcio; cdxj-indexer, which crawler.cdx imports late):
# imported once, by the forkserver, which forks each worker with them loaded, rather than by every
# worker on its first job.
_PRELOAD = ["crawler.capture.middleware", "crawler.article", "cdxj_indexer.main"]


class WorkerPool:
    """A Scrapy extension holding the worker processes shared by the capture middleware and the spider."""

    def __init__(self, workers: int, stats: StatsCollector | None = None) -> None:
        self.workers = workers
        self.stats = stats
        self._started: list[_Worker] | None = None
        self._broken: str | None = None
        # Bulk work (extraction) waits here rather than in the workers' pipes, which stay
        # short: a capture, which a download waits for, is never far from the front.
        self._bulk = asyncio.Semaphore(2 * workers)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerPool:
        pool = cls(crawler.settings.getint("TEXT_WORKERS") or os.cpu_count() or 1, crawler.stats)
        if crawler.settings.getbool("WARC_ENABLED") or crawler.settings.getbool("TEXT_ENABLED"):
            # The forkserver imports what the jobs need (a third of a second) while Scrapy builds
            # the rest of the crawler; the workers, forked from it with the engine, are then
            # ready when the first response (robots.txt) is.
            _forkserver()
            crawler.signals.connect(pool._workers, signal=signals.engine_started)
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
        workers = self._workers()
        if self._broken is not None:
            raise BrokenProcessPool(self._broken)
        worker = min(workers, key=lambda w: len(w.waiting))
        return await worker.submit(fn, args)

    def _workers(self) -> list[_Worker]:
        if self._started is None:
            self._started = [_Worker.start(_forkserver(), self._lost) for _ in range(self.workers)]
        return self._started

    def _lost(self, worker: _Worker, reason: str) -> None:
        if self._broken is None:
            self._broken = reason
            logger.error("%s; the crawl cannot go on without it", reason)
        for other in self._started or ():
            other.fail(reason)

    async def close(self) -> None:
        if self._started is None:
            return
        for worker in self._started:
            worker.close_jobs()
        # Each worker ends when it has read the end of its jobs; joining blocks, so not on the reactor.
        await asyncio.gather(*(asyncio.to_thread(w.join) for w in self._started))
        self._started = None


def _forkserver() -> BaseContext:
    """The forkserver context, its server started with the jobs' modules imported.

    Workers are forked from that server, never from the crawl process: forking a
    process that runs the reactor and the committer's thread would copy their locks mid-use.
    """
    context = get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    forkserver.ensure_running()
    return context


def worker_pool(crawler: Crawler) -> WorkerPool:
    pool = crawler.get_extension(WorkerPool)
    if pool is None:
        raise RuntimeError("crawler.workers.WorkerPool is missing from EXTENSIONS")
    return pool


class _Worker:
    """One worker process, its two pipes, and the futures of its jobs in the order it answers them."""

    def __init__(self, process: BaseProcess, jobs: int, results: int, on_lost: Callable[[_Worker, str], None]) -> None:
        self.process = process
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self._on_lost = on_lost
        self._closing = False
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._jobs = os.fdopen(jobs, "wb", buffering=0)
        self._results = os.fdopen(results, "rb", buffering=0)
        os.set_blocking(jobs, False)
        os.set_blocking(results, False)
        self._out: deque[memoryview] = deque()  # job bytes the pipe did not take yet
        with contextlib.suppress(OSError, AttributeError):
            # Room for a few jobs (Linux): a job is then written in one call, not in pieces as the worker reads.
            fcntl.fcntl(jobs, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        self._in = bytearray()  # result bytes not yet a whole frame
        loop.add_reader(results, self._readable)

    @classmethod
    def start(cls, context: Any, on_lost: Callable[[_Worker, str], None]) -> _Worker:
        job_reader, job_writer = context.Pipe(duplex=False)
        result_reader, result_writer = context.Pipe(duplex=False)
        process = context.Process(target=_serve, args=(job_reader, result_writer), daemon=True)
        process.start()
        # The worker's ends are the worker's: closed here, its exit is seen as the end of its results.
        job_reader.close()
        result_writer.close()
        return cls(process, _take_fd(job_writer), _take_fd(result_reader), on_lost)

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        data = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)
        header = _SHORT.pack(len(data)) if len(data) < 2**31 else _SHORT.pack(-1) + _LONG.pack(len(data))
        future = self._loop.create_future()
        self.waiting.append(future)
        pending = bool(self._out)
        self._out.extend((memoryview(header), memoryview(data)))
        if not pending:
            self._writable()
        return future

    def _writable(self) -> None:
        try:
            written = os.writev(self._jobs.fileno(), list(itertools.islice(self._out, _WRITEV_MAX)))
        except BlockingIOError:
            written = 0
        except OSError as e:  # the worker is gone: its results' end says so too
            self._out.clear()
            self._loop.remove_writer(self._jobs.fileno())
            self.fail(f"a worker process could not be sent a job ({e})")
            return
        while written:
            head = self._out[0]
            if written < len(head):
                self._out[0] = head[written:]
                break
            written -= len(head)
            self._out.popleft()
        if self._out:
            self._loop.add_writer(self._jobs.fileno(), self._writable)
        else:
            self._loop.remove_writer(self._jobs.fileno())

    def _readable(self) -> None:
        try:
            data = os.read(self._results.fileno(), 1 << 20)
        except BlockingIOError:
            return
        if not data:
            self._loop.remove_reader(self._results.fileno())
            if not self._closing:
                self.process.join(1)
                self._on_lost(self, f"a worker process ended unexpectedly (exit code {self.process.exitcode})")
            return
        self._in += data
        while (frame := self._frame()) is not None:
            ok, value = pickle.loads(frame)
            future = self.waiting.popleft()
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _frame(self) -> bytes | None:
        if len(self._in) < 4:
            return None
        (size,) = _SHORT.unpack_from(self._in)
        start = 4
        if size == -1:
            if len(self._in) < 12:
                return None
            (size,) = _LONG.unpack_from(self._in, 4)
            start = 12
        if len(self._in) < start + size:
            return None
        frame = bytes(self._in[start : start + size])
        del self._in[: start + size]
        return frame

    def fail(self, reason: str) -> None:
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(BrokenProcessPool(reason))

    def close_jobs(self) -> None:
        self._closing = True
        self._loop.remove_writer(self._jobs.fileno())
        self._loop.remove_reader(self._results.fileno())
        self._jobs.close()
        self._results.close()

    def join(self) -> None:
        self.process.join(_JOIN_TIMEOUT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()


def _take_fd(connection: Connection) -> int:
    """The connection's file descriptor, to be read and written by the event loop; the connection is closed."""
    fd = os.dup(connection.fileno())
    connection.close()
    return fd


class WorkerError(Exception):
    """The traceback of an exception raised in a worker process, as the cause of the one re-raised here."""


def _serve(jobs: Connection, results: Connection) -> None:
    """A worker process: jobs in, results out, until the crawl process closes its end of the jobs."""
    # Ctrl-C reaches the whole process group; the crawl process decides how to stop, and says so.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            frame = jobs.recv_bytes()
        except (EOFError, OSError):
            return
        fn, args = pickle.loads(frame)
        try:
            outcome: tuple[bool, Any] = (True, fn(*args))
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the job's caller
            e.__cause__ = WorkerError("".join(traceback.format_exception(e)))
            outcome = (False, e)
        try:
            data = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - a result or exception that does not pickle
            data = pickle.dumps((False, RuntimeError(f"{fn!r}: its result could not be sent back: {e}")))
        try:
            results.send_bytes(data)
        except OSError:
            return
