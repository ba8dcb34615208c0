"""One crawl across several processes and machines that share a Redis (``-s REDIS_URL=...``).

Built on scrapy-redis, the field's shared scheduler queue and duplicate
filter, with what a crawl that must not lose a request adds to it: leases
(``queue.LeasedQueue``), a scheduler that acknowledges a request only once
what it fetched is on disk and closes when the whole crawl is idle
(``scheduler.LeasedScheduler``), one politeness delay for all workers
(``politeness.SharedPoliteness``) and the crawl's state in Redis
(``state.RedisCrawlState``); nothing read back from Redis is trusted
(``entries``: requests as checked JSON, never pickles). Nothing below this package's
``__init__`` (and so not redis) is imported unless REDIS_URL is set.
"""

from __future__ import annotations

from scrapy.settings import BaseSettings

# The finish reason of a worker that lost Redis; the crawl command exits non-zero on it.
REDIS_LOST_REASON = "redis_unavailable"


def is_shared(settings: BaseSettings) -> bool:
    """Whether this crawl is one of several workers on a Redis: the one place that decides it."""
    return bool(settings.get("REDIS_URL"))
