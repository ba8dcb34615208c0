"""The crawl frontier of a single-process crawl: pending requests on disk, not in memory.

A sitemap can list tens of thousands of articles, and Scrapy queues every
request it yields at once: about 3 KB of memory each in Scrapy's memory
queue (bench/memory.py measured 142 MiB for a 10,000-article crawl against
108 MiB for 1,000). Scrapy's scheduler keeps pending requests on disk when
it is given a JOBDIR; this one gives it a directory of its own for the run
when there is none, under ARCHIVE_DIR/state/queue/, and removes it when the
run ends. Requests that do not pickle stay in memory, as with JOBDIR.

With JOBDIR set, it is Scrapy's scheduler unchanged: the queue is kept
there, and a stopped crawl resumes from it. Without, a stopped crawl's
pending requests are dropped with the run, as they would be from memory;
the next run finds them again in the sitemaps and feeds.

Requests are taken first in, first out (SCHEDULER_DISK_QUEUE and
SCHEDULER_MEMORY_QUEUE in crawler.settings): a sitemap's articles in the
sitemap's order, newest first on most news sites, and listings before the
pages found on them. Scrapy's default, last in first out, took each request
back off the end of its file and truncated it, a costlier disk operation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy import Request, Spider
from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler
from scrapy.squeues import PickleFifoDiskQueue
from twisted.internet.defer import Deferred

from crawler.store.atomic import RunFolder


class SpooledScheduler(Scheduler):
    _spool: RunFolder | None = None

    def open(self, spider: Spider) -> Deferred[None] | None:
        if self.dqdir is None:
            assert self.crawler is not None
            # A folder nobody holds was a killed run's queue: removed here.
            self._spool = RunFolder(Path(self.crawler.settings["ARCHIVE_DIR"], "state", "queue"), "run-")
            self.dqdir = str(self._spool.path)
        return super().open(spider)

    def close(self, reason: str) -> Deferred[None] | None:
        try:
            return super().close(reason)
        finally:
            if self._spool is not None:
                self._spool.remove()
                self._spool = None
                self.dqdir = None


class SpooledRequestQueue(PickleFifoDiskQueue):
    """Scrapy's pickled FIFO disk queue, naming a request's callbacks without searching the whole spider.

    Request.to_dict finds the name of a callback with inspect.getmembers, which reads
    every attribute of the spider, twice a request: 40 µs, a tenth of the crawl
    process's work per article. A spider's method is found here by its own name; any
    other callable gets Scrapy's search (and its error, which keeps the request in memory).
    """

    def __init__(self, crawler: Crawler, key: str) -> None:
        super().__init__(crawler, key)
        self._spider = crawler.spider

    def push(self, request: Request) -> None:
        callbacks = (request.callback, request.errback)
        names = [None if f is None else _method_name(self._spider, f) for f in callbacks]
        if any(f is not None and name is None for f, name in zip(callbacks, names, strict=True)):
            data = request.to_dict(spider=self._spider)
        else:
            data = request.replace(callback=None, errback=None).to_dict()
            data["callback"], data["errback"] = names
        # The pickling queue under Scrapy's request queue, which would call to_dict itself.
        super(PickleFifoDiskQueue, self).push(data)


def _method_name(spider: Spider, func: Any) -> str | None:
    """The name under which ``func`` is a method of ``spider``, if it is one."""
    name = getattr(func, "__name__", None)
    own = getattr(spider, name, None) if isinstance(name, str) else None
    if own is None or not hasattr(func, "__func__") or getattr(own, "__func__", None) is not func.__func__:
        return None
    return name
