"""robots.txt read once per host and run for the whole shared crawl, not once per worker.

Scrapy's robots.txt middleware downloads a host's robots.txt the first
time a process sends it a request, outside the scheduler: N workers would
fetch it N times. Here the first worker to need it claims it in Redis
(HSETNX), fetches and parses it as Scrapy does, and leaves its body there;
the others wait for that body and parse it themselves. If the claimant
goes quiet (killed), a worker waiting longer than the download timeout
fetches it itself. The bodies are dropped when the next run is seeded, so
every run reads robots.txt afresh.
"""

from __future__ import annotations

import asyncio
import time

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from crawler.scaleout.link import RedisLink, RedisLost, redis_link

# What the robots hash holds for a host: claimed (being fetched), fetched (then the body), failed
# (obey nothing), or too large to share (each worker fetches it).
_CLAIMED = b""
_FETCHED = b"1"
_FAILED = b"0"
_UNSHARED = b"2"
_POLL = 0.1
# Google reads the first 500 KiB of a robots.txt; a larger body is not shared, and a larger entry is refused.
MAX_BODY = 512 * 1024


class SharedRobotsTxt(RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler, link: RedisLink) -> None:
        super().__init__(crawler)
        self.link = link
        self.wait_limit = crawler.settings.getfloat("DOWNLOAD_TIMEOUT") + 10
        self._bodies: dict[str, bytes] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedRobotsTxt:
        link = redis_link(crawler)
        if link is None:
            raise NotConfigured("not a shared crawl")
        return cls(crawler, link)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        if netloc in self._parsers:
            return await super().robot_parser(request)
        # Requests to this host that come meanwhile wait for this one.
        waiting: Deferred[RobotParser | None] = Deferred()
        self._parsers[netloc] = waiting
        try:
            shared = await self._from_another_worker(netloc)
        except RedisLost:
            shared = None
        if shared is not None:
            parser = None if shared == _FAILED else build_from_crawler(self._parserimpl, self.crawler, shared[1:])
            self._stats.inc_value("robotstxt/shared")
        else:
            del self._parsers[netloc]
            parser = await super().robot_parser(request)
            self._share(netloc, parser)
        self._parsers[netloc] = parser
        waiting.callback(parser)
        return parser

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        self._bodies[netloc] = response.body
        await super()._parse_robots(response, netloc, request)

    async def _from_another_worker(self, netloc: str) -> bytes | None:
        """What another worker read of the host's robots.txt this run; None when this worker is to fetch it."""
        client, key = self.link.client, self._key
        with self.link.guard("sharing robots.txt"):
            if client.hsetnx(key, netloc, _CLAIMED):
                return None
        deadline = time.monotonic() + self.wait_limit
        while time.monotonic() < deadline:
            with self.link.guard("sharing robots.txt"):
                value = client.hget(key, netloc) or _CLAIMED
            if value == _FAILED or (value.startswith(_FETCHED) and len(value) <= MAX_BODY + 1):
                return value
            if value == _UNSHARED:
                return None
            if value:
                # Not what a worker writes: this worker reads robots.txt itself, and shares its own copy.
                self.link.refuse(f"{key} {netloc}", f"not a robots.txt entry ({len(value)} bytes, starts {value[:8]!r})")
                return None
            await asyncio.sleep(_POLL)
        return None

    def _share(self, netloc: str, parser: RobotParser | None) -> None:
        body = self._bodies.pop(netloc, None)
        if parser is None or body is None:
            value = _FAILED
        else:
            value = _FETCHED + body if len(body) <= MAX_BODY else _UNSHARED
        try:
            with self.link.guard("sharing robots.txt"):
                self.link.client.hset(self._key, netloc, value)
        except RedisLost:
            pass

    @property
    def _key(self) -> str:
        return self.link.keys(self.crawler.spider.site.name).robots
