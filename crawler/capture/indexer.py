"""Keeping the CDXJ index (crawler.cdx) up to date as a crawl goes, at the cost of the worker processes.

The worker that writes a capture also reads its index lines from the bytes
it just wrote (``stage_capture(index=True)``). Each time the committer
publishes captures, their lines are appended to a file of this process's
new lines; at the end of the crawl they are merged into the site's index,
and only capture files without lines there (written by a run that was
killed, say) are read again. The crawl's end then costs a merge, not a
pass over every capture of the run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.capture.records import CaptureRef
from crawler.cdx import index_path, new_lines_path, update_index
from crawler.store.committer import committer
from crawler.store.diskfull import DISK_FULL_STAT

logger = logging.getLogger(__name__)


def indexing(crawler: Crawler) -> bool:
    """Whether captures are indexed in this crawl: the one place that decides it."""
    settings = crawler.settings
    return settings.getbool("CDX_INDEX_ENABLED") and settings.getbool("WARC_ENABLED")


class CdxIndexer:
    """A Scrapy extension: after each crawl, the site's index names every capture (CDX_INDEX_ENABLED)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.archive_dir = Path(crawler.settings.get("ARCHIVE_DIR"))
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CdxIndexer:
        if not indexing(crawler):
            raise NotConfigured("no CDXJ index kept")
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.new_lines = new_lines_path(self.archive_dir, spider.site.name)  # type: ignore[attr-defined]
        committer(self.crawler).on_published(self._note)

    def _note(self, captures: list[CaptureRef]) -> None:
        """In the committer's thread, once these captures have their names."""
        lines = [line for ref in captures for line in ref.index_lines]
        if lines:
            self.new_lines.parent.mkdir(parents=True, exist_ok=True)
            with self.new_lines.open("a", encoding="utf-8") as f:
                f.writelines(lines)

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        # The last captures are named by the committer's final commit.
        await committer(self.crawler).flush()
        if self.crawler.stats.get_value(DISK_FULL_STAT):
            # No room to merge; the lines are a shortcut only: the next update reads those captures again.
            self.new_lines.unlink(missing_ok=True)
            return
        site = spider.site.name  # type: ignore[attr-defined]
        fsync = self.crawler.settings.getbool("ARCHIVE_FSYNC")
        try:
            added = await maybe_deferred_to_future(
                deferToThread(update_index, self.archive_dir, site, None, fsync, self.new_lines)
            )
            self.new_lines.unlink(missing_ok=True)
        except OSError as e:
            logger.error("CDXJ index of site %s not updated (scrapy index %s brings it up to date): %s", site, site, e)
            return
        self.crawler.stats.set_value("cdx/files_indexed", added)
        logger.info("CDXJ index %s: %d capture files added", index_path(self.archive_dir, site), added)


