"""One delay between requests to a site for all the workers of a shared crawl, kept in Redis.

Scrapy spaces the requests of one process to a download slot (a host) by
the slot's delay (DOWNLOAD_DELAY, or AutoThrottle's). N workers doing that
alone would hit the site N times as hard. Before a request goes out, this
middleware reserves the next free time of its slot in Redis (one Lua
script: the later of now and the slot's next free time, which then moves on
by the delay) and waits until then. The workers' requests to a host are
then spaced by the delay across the whole crawl, as one process's are.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.scaleout.link import RedisLink, redis_link

# KEYS: the slot's next-free-time key.  ARGV: delay seconds.  Returns how long to wait, in seconds.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, free)
local delay = tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(at + delay), 'PX', math.ceil((at - now + delay) * 1000) + 60000)
return tostring(at - now)
"""


class SharedPoliteness:
    """A downloader middleware, present when REDIS_URL is set."""

    def __init__(self, crawler: Crawler, link: RedisLink) -> None:
        self.crawler = crawler
        self.link = link
        self.default_delay = crawler.settings.getfloat("DOWNLOAD_DELAY")
        self._reserve = link.client.register_script(_RESERVE)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedPoliteness:
        link = redis_link(crawler)
        if link is None:
            raise NotConfigured("not a shared crawl")
        return cls(crawler, link)

    async def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        downloader = self.crawler.engine.downloader
        slot_key = downloader.get_slot_key(request)
        slot = downloader.slots.get(slot_key)
        # The slot's own delay follows AutoThrottle; before its first request it is the setting's.
        delay = slot.delay if slot is not None else self.default_delay
        if delay <= 0:
            return None
        keys = self.link.keys(self.crawler.spider.site.name)
        with self.link.guard("reserving a time for a request"):
            wait = float(self._reserve(keys=[keys.polite(slot_key)], args=[delay]))
        if wait > 0:
            await asyncio.sleep(wait)
        return None
