"""A worker's connection to the shared Redis: key names, who the worker is, and what losing Redis does.

Every part of a shared crawl (scheduler, politeness, state) talks to Redis
through the one ``RedisLink`` of its crawler, so that a lost connection is
noticed once, said once in the log, and stops the worker the same way
wherever it was noticed: what was fetched is stored, the worker's leases
run out and go back to the queue, and starting it again continues the crawl.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.exceptions import RedisError
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.connection import get_redis_from_settings

from crawler.scaleout import REDIS_LOST_REASON
from crawler.store.state import StateUnavailable

logger = logging.getLogger(__name__)


class RedisUnavailable(RuntimeError):
    pass


class RedisLost(StateUnavailable):
    """Raised where a Redis call failed, after the worker has been told to stop."""


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


_TLS_FILES = {"REDIS_TLS_CA_FILE": "ssl_ca_certs", "REDIS_TLS_CERT_FILE": "ssl_certfile", "REDIS_TLS_KEY_FILE": "ssl_keyfile"}


def exposure_warning(url: str, params: dict[str, object]) -> str | None:
    """What to tell the user of a Redis that others on the network may write to; None for one on this machine or with a password."""
    parts = urlsplit(url)
    if parts.scheme == "unix" or parts.password or params.get("password"):
        return None
    host = parts.hostname or "localhost"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 6379, proto=socket.IPPROTO_TCP)}
    except OSError:
        addresses = set()
    if addresses and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        return None
    return (
        f"Redis at {shown_url(url)} is reached without a password, at an address other machines may reach: anyone "
        "who can connect to it can read the crawl's queue and state and write to them (send the workers to other "
        "pages of the site, make them skip articles, delete the queue). Entries this crawl did not write are "
        "refused, but set requirepass or an ACL user in redis.conf and put the password in REDIS_URL "
        "(redis://user:password@host:6379/0), and bind Redis to the workers' network only (README: "
        '"Running on several machines").'
    )


def connect(settings: BaseSettings) -> redis.Redis:
    """A client for REDIS_URL that has answered a PING; RedisUnavailable with one clear line otherwise."""
    url = settings.get("REDIS_URL")
    params = settings.getdict("REDIS_PARAMS")
    if url.startswith("rediss://"):
        params.update({param: settings[name] for name, param in _TLS_FILES.items() if settings.get(name)})
    try:
        client = get_redis_from_settings(_with_params(settings, params))
        client.ping()
    except (RedisError, ValueError) as e:
        raise RedisUnavailable(
            f"Redis at {shown_url(url)} is unreachable ({e}): start redis-server there, or fix REDIS_URL"
        ) from e
    return client


def _with_params(settings: BaseSettings, params: dict[str, object]) -> BaseSettings:
    copy = settings.copy()
    copy.set("REDIS_PARAMS", params, priority="cmdline")
    return copy


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one site's shared crawl; several sites and projects share a server."""

    prefix: str

    @classmethod
    def for_site(cls, settings: BaseSettings, site: str) -> Keys:
        return cls(f"{settings.get('REDIS_KEY_PREFIX')}:{site}")

    @property
    def queue(self) -> str:
        return f"{self.prefix}:requests"  # sorted set: encoded request -> -priority

    @property
    def dupefilter(self) -> str:
        return f"{self.prefix}:dupefilter"  # set of request fingerprints, this run

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"  # sorted set: worker -> when its lease runs out

    @property
    def leased_prefix(self) -> str:
        return f"{self.prefix}:leased:"  # + worker: hash, encoded request -> its queue score

    def leased(self, worker: str) -> str:
        return self.leased_prefix + worker

    @property
    def run(self) -> str:
        return f"{self.prefix}:run"  # exists while a run is under way: it has been seeded

    @property
    def busy_at(self) -> str:
        return f"{self.prefix}:busy-at"  # when a request was last queued or in flight

    @property
    def state(self) -> str:
        return f"{self.prefix}:state"  # hash: URL -> what the crawl knows of it (crawler.scaleout.state)

    @property
    def robots(self) -> str:
        return f"{self.prefix}:robots"  # hash: host -> its robots.txt as read this run (crawler.scaleout.robots)

    def polite(self, slot: str) -> str:
        return f"{self.prefix}:polite:{slot}"  # when the next request to this download slot may go


class RedisLink:
    """A Scrapy extension, present when REDIS_URL is set: the crawl's Redis client and its worker name."""

    def __init__(self, crawler: Crawler, client: redis.Redis) -> None:
        self.crawler = crawler
        self.client = client
        self.url = shown_url(crawler.settings.get("REDIS_URL"))
        self.lease_timeout = crawler.settings.getfloat("REDIS_LEASE_TIMEOUT")
        # Unique across machines and across restarts of one pid.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lost = False
        self._lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisLink:
        settings = crawler.settings
        if not settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL is not set")
        warning = exposure_warning(settings["REDIS_URL"], settings.getdict("REDIS_PARAMS"))
        if warning:
            logger.warning(warning)
        return cls(crawler, connect(settings))

    def keys(self, site: str) -> Keys:
        return Keys.for_site(self.crawler.settings, site)

    @contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Runs a Redis call; if Redis is gone, stops the worker and raises RedisLost."""
        if self.lost:
            raise RedisLost(f"Redis at {self.url} was lost")
        try:
            yield
        except RedisError as e:
            self.lose(e, doing)
            raise RedisLost(f"Redis at {self.url} was lost while {doing}: {e}") from e

    def refuse(self, key: str, why: str) -> None:
        """An entry read from Redis that no worker of this crawl wrote (crawler.scaleout.entries): said, counted, not used."""
        logger.warning("Refused an entry of Redis key %s, which this crawl did not write: %s. It was not used.", key, why)
        self.crawler.stats.inc_value("redis/refused")

    def lose(self, exc: BaseException, doing: str) -> None:
        """Any thread: say it once, and close the spider on the reactor thread."""
        with self._lock:
            if self.lost:
                return
            self.lost = True
        logger.error(
            "Redis at %s was lost while %s (%s). This worker stops: what it fetched is stored, and the requests it "
            "held go back to the shared queue once its lease runs out (%gs). Start it again when Redis is back "
            "to continue the crawl.",
            self.url,
            doing,
            exc,
            self.lease_timeout,
        )
        self.crawler.stats.set_value("redis/lost", 1)
        if threading.current_thread() is threading.main_thread():
            self._close()
        else:
            from twisted.internet import reactor  # installed by Scrapy by now; importing it earlier would install another

            reactor.callFromThread(self._close)

    def _close(self) -> None:
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=REDIS_LOST_REASON))


def redis_link(crawler: Crawler) -> RedisLink | None:
    """The crawl's link to Redis, or None when the crawl is not shared."""
    return crawler.get_extension(RedisLink)
