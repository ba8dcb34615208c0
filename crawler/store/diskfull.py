"""A full disk: the one decision, taken wherever a write to the archive fails for want of space."""

from __future__ import annotations

import errno
import logging

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

logger = logging.getLogger(__name__)

DISK_FULL_REASON = "disk_full"
DISK_FULL_STAT = "archive/disk_full"


def is_disk_full(error: BaseException) -> bool:
    """A write that failed for want of space: ENOSPC, or EDQUOT (the user's quota)."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def stop_for_disk_full(crawler: Crawler, error: OSError, log: logging.Logger = logger) -> None:
    """Stop the crawl, with one message, after a write to the archive failed for want of space.

    Every archive file is published whole or not at all, and a manifest line
    is appended whole or not at all, so what is on disk is consistent; the
    state records a URL only once its text and manifest line are written,
    so the next run fetches whatever this one could not store. Going on
    would only fail page after page; later failures (the downloads and items
    already in flight) are counted but not logged again.
    """
    stats = crawler.stats
    stats.inc_value(f"{DISK_FULL_STAT}_writes_failed")
    if stats.get_value(DISK_FULL_STAT):
        return
    stats.set_value(DISK_FULL_STAT, 1)
    where = error.filename or crawler.settings.get("ARCHIVE_DIR")
    log.critical(
        "disk full while writing %s: stopping the crawl; the archive is consistent, run again when there is space",
        where,
    )
    engine = crawler.engine
    if engine is not None and crawler.spider is not None:
        deferred_from_coro(engine.close_spider_async(reason=DISK_FULL_REASON))


def final_reason(crawler: Crawler, reason: str) -> str:
    """How the crawl finished: disk_full when the disk filled, even while the crawl was already closing.

    The last batch is committed as the spider closes, after Scrapy has
    taken "finished" as the reason: a full disk then still makes the run
    report, the stats and the exit code say so.
    """
    return DISK_FULL_REASON if crawler.stats.get_value(DISK_FULL_STAT) else reason
