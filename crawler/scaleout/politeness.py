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

# KEYS: the slot's next-free-time key.  ARGV: delay seconds, longest wait a worker of this crawl reserves.
# Returns {how long to wait, in seconds; 1 if the key held what no worker writes, and was reset}.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local raw = redis.call('GET', KEYS[1])
local free = tonumber(raw or '0')
local refused = 0
if raw and (free == nil or free ~= free or free > now + tonumber(ARGV[2])) then
    free = 0
    refused = 1
end
local at = math.max(now, free)
local delay = tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(at + delay), 'PX', math.ceil((at - now + delay) * 1000) + 60000)
return {tostring(at - now), refused}
"""
# Longer than any queue of workers behind one host's delay; a time further off was not written by a worker.
MAX_WAIT = 3600.0


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
            wait, refused = self._reserve(keys=[keys.polite(slot_key)], args=[delay, MAX_WAIT])
        if refused:
            self.link.refuse(keys.polite(slot_key), f"not a time within {MAX_WAIT:g}s; reset")
        wait = float(wait)
        if wait > 0:
            await asyncio.sleep(wait)
        return None
