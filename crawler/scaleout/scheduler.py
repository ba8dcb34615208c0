"""scrapy-redis's scheduler, for a crawl that must not lose a request and must end by itself.

On top of scrapy-redis's shared queue and duplicate filter (kept, with
per-site keys and ``SCHEDULER_PERSIST`` on, since workers come and go):

- requests are leased, not popped (``LeasedQueue``), and acknowledged only
  when Scrapy is done with them (response processed, items stored) and the
  committer has put what they wrote on disk. A worker that dies unacked
  loses nothing: its leases run out and any other worker requeues them;
- a worker renews its lease from a thread, so a busy reactor does not make
  it look dead; a worker closing cleanly gives back what it still holds;
- one worker per run seeds the queue (``claim_seed``), and every worker
  stays until the whole crawl has had nothing queued and nothing in flight
  for REDIS_IDLE_CLOSE seconds, so a scheduled run ends by itself.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.scaleout.entries import RequestCodec, Unqueueable
from crawler.scaleout.link import RedisLink, RedisLost, redis_link
from crawler.scaleout.queue import LeasedQueue
from crawler.store.committer import committer

logger = logging.getLogger(__name__)


class LeasedScheduler(Scheduler):
    def __init__(self, crawler: Crawler, link: RedisLink) -> None:
        super().__init__(server=link.client, persist=True)
        self.crawler = crawler
        self.link = link
        self.stats = crawler.stats
        settings = crawler.settings
        self.idle_close = settings.getfloat("REDIS_IDLE_CLOSE")
        self.tick_interval = settings.getfloat("REDIS_TICK_INTERVAL")
        self.queue: LeasedQueue
        self._acking: set[Request] = set()
        self._tick_loop: task.LoopingCall | None = None
        self._stop_heartbeat = threading.Event()
        self._heartbeat: threading.Thread | None = None
        crawler.signals.connect(self._spider_idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeasedScheduler:
        link = redis_link(crawler)
        if link is None:
            raise RuntimeError("crawler.scaleout.link.RedisLink is missing from EXTENSIONS")
        return cls(crawler, link)

    # --- opening and closing ----------------------------------------------------------

    def open(self, spider: Spider) -> None:
        self.spider = spider
        keys = self.link.keys(spider.site.name)
        codec = RequestCodec(spider, self.crawler.settings.getint("REDIS_ENTRY_MAX_BYTES"))
        self.queue = LeasedQueue(self.server, spider, keys, self.link.worker, self.link.lease_timeout, codec, self.link.refuse)
        self.df = RFPDupeFilter(self.server, key=keys.dupefilter, debug=self.crawler.settings.getbool("DUPEFILTER_DEBUG"))
        with self._guard("joining the crawl"):
            self.queue.heartbeat()
            pending = len(self.queue)
        logger.info(
            "Shared crawl of site %s on Redis %s: this is worker %s; %d requests queued",
            spider.site.name,
            self.link.url,
            self.link.worker,
            pending,
        )
        self._heartbeat = threading.Thread(target=self._beat, name="redis-heartbeat", daemon=True)
        self._heartbeat.start()
        self._tick_loop = task.LoopingCall(self._tick)
        self._tick_loop.start(self.tick_interval, now=False)

    def close(self, reason: str) -> Any:
        return deferred_from_coro(self._close(reason))

    async def _close(self, reason: str) -> None:
        if self._tick_loop is not None and self._tick_loop.running:
            self._tick_loop.stop()
        # Scrapy is done with every request by now: acknowledge what is on disk, give back the rest.
        if not self.link.lost and self.queue.held:
            self._ack_when_committed([r for r in self.queue.held if r not in self._acking])
            await committer(self.crawler).flush()
        self._stop_heartbeat.set()
        if self.link.lost:
            return
        try:
            with self._guard("leaving the crawl"):
                returned = self.queue.release()
        except RedisLost:
            return
        if returned:
            logger.warning("Gave %d unfinished requests back to the shared queue", returned)

    # --- what the engine asks -----------------------------------------------------------

    # scrapy-redis's own two, with seen-and-queued in one step (and without its deprecated per-spider stats calls).
    def enqueue_request(self, request: Request) -> bool:
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        try:
            with self._guard("queueing a request"):
                queued = self.queue.push_new(request, fingerprint)
        except RedisLost:
            return False
        except Unqueueable as e:
            logger.warning("Not queued: the shared queue takes no such request (%s)", e)
            self.stats.inc_value("redis/unqueueable")
            return False
        if not queued:
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        try:
            with self._guard("taking a request from the queue"):
                request = self.queue.pop()
        except RedisLost:
            return None
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        try:
            with self._guard("reading the queue"):
                return super().has_pending_requests()
        except RedisLost:
            return False

    # --- what the spider asks -------------------------------------------------------------

    def claim_seed(self) -> bool:
        """Whether this worker is the one that queues the site file's start requests for this run."""
        try:
            with self._guard("seeding the queue"):
                return self.queue.claim_seed()
        except RedisLost:
            return False

    # --- leases --------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.link.lost:
            return
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        if slot is None:
            return
        # A request stays in the engine's slot until its response, callbacks and items are
        # all processed; Scrapy has no signal for that moment, so it is read here.
        done = [r for r in self.queue.held if r not in slot.inprogress and r not in self._acking]
        if done:
            self._ack_when_committed(done)
        try:
            with self._guard("requeueing the requests of stopped workers"):
                returned = self.queue.reap()
        except RedisLost:
            return
        if returned:
            logger.warning("A worker stopped without finishing: %d of its requests are back in the queue", returned)
            self.stats.inc_value("redis/requeued_from_stopped_workers", returned)
        # Without this, an idle engine looks at the queue only every 5 seconds.
        slot.nextcall.schedule()

    def _ack_when_committed(self, requests: list[Request]) -> None:
        self._acking.update(requests)
        committer(self.crawler).when_committed(lambda committed: self._ack(requests, committed))

    def _ack(self, requests: list[Request], committed: bool) -> None:
        self._acking.difference_update(requests)
        try:
            with self._guard("acknowledging requests"):
                if committed:
                    self.queue.ack(requests)
                else:
                    # What they fetched is not on disk (said in the log): fetched again, by any worker.
                    returned = self.queue.give_back(requests)
        except RedisLost:
            return
        if committed:
            self.stats.inc_value("redis/acknowledged", len(requests))
        else:
            self.stats.inc_value("redis/given_back", returned)

    def _beat(self) -> None:
        interval = max(self.link.lease_timeout / 4, 0.05)
        while not self._stop_heartbeat.wait(interval):
            if self.link.lost:
                return
            try:
                with self._guard("renewing this worker's lease"):
                    self.queue.heartbeat()
            except RedisLost:
                return

    # --- the end of a run ---------------------------------------------------------------------

    def _spider_idle(self, spider: Spider) -> None:
        if self.link.lost:
            return
        try:
            with self._guard("checking whether the crawl is over"):
                over = not self.queue.held and self.queue.run_is_over(self.idle_close)
        except RedisLost:
            return
        if not over:
            raise DontCloseSpider
        logger.info(
            "Shared crawl of site %s is over: nothing queued and nothing in flight in any worker for %gs",
            spider.site.name,
            self.idle_close,
        )

    def _guard(self, doing: str) -> Any:
        return self.link.guard(doing)
