"""The article pipeline: what the spider read of each article, to the committer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.capture.middleware import CAPTURE_META_KEY
from crawler.capture.records import CaptureRef, warc_date
from crawler.extract.document import NoDocument
from crawler.health import HealthTally
from crawler.items import ArticleItem
from crawler.store.atomic import discard
from crawler.store.committer import DocumentCommit, committer
from crawler.store.diskfull import DISK_FULL_STAT, is_disk_full, stop_for_disk_full
from crawler.store.state import Visit
from crawler.store.textstore import manifest_entry
from crawler.urls import canonical_url

logger = logging.getLogger(__name__)


class ArticlePipeline:
    """Turns each article the spider read into a stored text, a manifest line and a state row.

    The spider has the page read in a worker process (crawler.article:
    extraction, the text written under a temporary name, the links); this
    pipeline counts what came of it and hands it to the committer
    (crawler.store.committer), which publishes the text, appends the
    manifest line and records the state, in that order, in batches.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.committer = committer(crawler)
        self.health = HealthTally()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArticlePipeline:
        settings = crawler.settings
        if not settings.getbool("TEXT_ENABLED"):
            raise NotConfigured("TEXT_ENABLED is off")
        return cls(crawler)

    async def close_spider(self) -> None:
        # Every text handed over is on disk, with its manifest line, before the run report is written.
        await self.committer.flush()
        self.health.close(self.crawler.stats)

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        if not isinstance(item, ArticleItem):
            return item
        stats = self.crawler.stats
        response = item.response
        read = item.read
        if response.status != 200 or read is None:
            stats.inc_value("text/no_document/status")
            return item
        capture = response.meta.get(CAPTURE_META_KEY)
        result = read.result
        if isinstance(result, NoDocument):
            stats.inc_value(f"text/no_document/{result.reason}")
            # An extraction error is a page we could not read: worth a look, unlike a listing.
            log = logger.warning if result.reason == "error" else logger.info
            log("No document from %s: %s", response.url, result.detail)
            # A listing is fetched again on every run; a wall (consent, login, bot check) may be gone next
            # time, and a body cut short may come whole.
            # A missing article answered with an error page may be put back.
            if result.reason not in ("not_article", "error_page", "wall", "blocked", "truncated"):
                self.committer.add_visit(self._visit(item, capture, None, None))
            return item
        if read.error is not None:
            if not is_disk_full(read.error):
                raise read.error
            # Nothing half-written stays: the text file appears whole or not at
            # all, and the state is not told.
            stop_for_disk_full(self.crawler, read.error, logger)
            return item
        self.health.observe(stats, result, read.text_chars, read.boilerplate_kept)
        for note in result.notes:
            stats.inc_value(f"text/{note}")
            fallback = ": the generic extraction was used" if note.endswith("selector_missed") else ""
            logger.info("%s on %s%s", note.replace("_", " "), response.url, fallback)
        if stats.get_value(DISK_FULL_STAT):
            # The crawl is stopping for want of space; this page is fetched again next run.
            if read.staged is not None:
                discard(read.staged)
            return item
        assert read.stored is not None
        state = self.crawler.spider.site_state
        before = state.known(canonical_url(response.url)) if state is not None else None
        # The state is told only once the text and its manifest line are on disk: the committer's order.
        self.committer.add_document(
            DocumentCommit(
                text=read.staged,
                entry=manifest_entry(result, url=item.url, site=item.site, stored=read.stored, capture=capture),
                visit=self._visit(item, capture, read.stored.sha256, result.canonical_url),
                replaces=before.sha256 if before is not None else None,
            )
        )
        return item

    def _visit(self, item: ArticleItem, capture: CaptureRef | None, sha: str | None, canonical: str | None) -> Visit:
        response = item.response
        urls = [canonical_url(u) for u in (response.url, *response.meta.get("redirect_urls", []))]
        if canonical:
            urls.append(canonical_url(canonical))
        headers = response.headers
        return Visit(
            urls=tuple(urls),
            fetched_at=capture.date if capture else warc_date(datetime.now(UTC)),
            etag=(headers.get(b"ETag") or b"").decode("latin-1") or None,
            last_modified=(headers.get(b"Last-Modified") or b"").decode("latin-1") or None,
            sha256=sha,
        )
