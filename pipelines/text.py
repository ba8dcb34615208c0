"""The article pipeline: extraction in a process pool, then the text store and the manifest."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.capture.middleware import CAPTURE_META_KEY
from crawler.capture.records import CaptureRef, warc_date
from crawler.extract.document import NoDocument, extract_document
from crawler.items import ArticleItem
from crawler.store.diskfull import DISK_FULL_STAT, is_disk_full, stop_for_disk_full
from crawler.store.manifest import Manifest
from crawler.store.textstore import Document, manifest_entry, store_text
from crawler.urls import canonical_url

logger = logging.getLogger(__name__)


class ArticlePipeline:
    """Turns each article response into a stored text and a manifest line.

    Extraction is CPU work: it runs in worker processes (TEXT_WORKERS, one
    per core by default), so that a slow page never holds up the reactor
    and both downloads and extraction use every core.
    """

    def __init__(self, crawler: Crawler, archive_dir: Path, workers: int, fsync: bool) -> None:
        self.crawler = crawler
        self.archive_dir = archive_dir
        self.workers = workers
        self.fsync = fsync
        self.pool: ProcessPoolExecutor | None = None
        self.manifest: Manifest | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArticlePipeline:
        settings = crawler.settings
        if not settings.getbool("TEXT_ENABLED"):
            raise NotConfigured("TEXT_ENABLED is off")
        workers = settings.getint("TEXT_WORKERS") or os.cpu_count() or 1
        return cls(crawler, Path(settings.get("ARCHIVE_DIR")), workers, settings.getbool("ARCHIVE_FSYNC"))

    def open_spider(self) -> None:
        # forkserver: forking a process that runs the reactor and a thread
        # pool would copy their locks mid-use.
        self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("forkserver"))
        self.manifest = Manifest(self.archive_dir / "manifest.jsonl", fsync=self.fsync)

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        if self.manifest is not None:
            self.manifest.close()
            self.manifest = None

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        if not isinstance(item, ArticleItem):
            return item
        stats = self.crawler.stats
        response = item.response
        if response.status != 200:
            stats.inc_value("text/no_document/status")
            return item
        capture = response.meta.get(CAPTURE_META_KEY)
        assert self.pool is not None
        site = self.crawler.spider.site
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        future = self.pool.submit(extract_document, response.url, content_type, response.body, site.rules)
        result = await asyncio.wrap_future(future)
        if isinstance(result, NoDocument):
            stats.inc_value(f"text/no_document/{result.reason}")
            # An extraction error is a page we could not read: worth a look, unlike a listing.
            log = logger.warning if result.reason == "error" else logger.info
            log("No document from %s: %s", response.url, result.detail)
            # A listing is fetched again on every run, and a wall (consent, login) may be gone next time.
            if result.reason not in ("not_article", "wall"):
                self._remember(item, capture, None, None)
            return item
        for note in result.notes:
            stats.inc_value(f"text/{note}")
            logger.info("%s on %s: the generic extraction was used", note.replace("_", " "), response.url)
        state = self.crawler.spider.state
        before = state.known(canonical_url(response.url)) if state is not None else None
        if stats.get_value(DISK_FULL_STAT):
            # The crawl is stopping for want of space; this page is fetched again next run.
            return item
        try:
            file_written, line_appended, sha = await maybe_deferred_to_future(
                deferToThread(self._store, item, result, capture)
            )
        except OSError as e:
            if not is_disk_full(e):
                raise
            # Nothing half-written stays: the text file appears whole or not at
            # all, the manifest line too, and the state is not told.
            stop_for_disk_full(self.crawler, e, logger)
            return item
        if file_written:
            stats.inc_value("text/files_written")
        if not line_appended:
            stats.inc_value("text/documents_unchanged")
        elif before is not None and before.sha256 and before.sha256 != sha:
            stats.inc_value("text/documents_updated")
        else:
            stats.inc_value("text/documents_new")
        # Only now, with text and manifest line on disk, does the next run know this article.
        self._remember(item, capture, sha, result.canonical_url)
        return item

    def _remember(self, item: ArticleItem, capture: CaptureRef | None, sha: str | None, canonical: str | None) -> None:
        try:
            self._record_state(item, capture, sha, canonical)
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode != sqlite3.SQLITE_FULL:
                raise
            # The text and manifest line are stored; only the state could not
            # say so, and the next run fetches the page again and stores nothing twice.
            path = self.archive_dir / "state" / f"{self.crawler.spider.site.name}.sqlite"
            stop_for_disk_full(self.crawler, OSError(errno.ENOSPC, str(e), str(path)), logger)

    def _record_state(
        self, item: ArticleItem, capture: CaptureRef | None, sha: str | None, canonical: str | None
    ) -> None:
        state = self.crawler.spider.state
        if state is None:
            return
        response = item.response
        urls = [canonical_url(u) for u in (response.url, *response.meta.get("redirect_urls", []))]
        if canonical:
            urls.append(canonical_url(canonical))
        headers = response.headers
        state.record(
            urls,
            fetched_at=capture.date if capture else warc_date(datetime.now(UTC)),
            etag=(headers.get(b"ETag") or b"").decode("latin-1") or None,
            last_modified=(headers.get(b"Last-Modified") or b"").decode("latin-1") or None,
            sha256=sha,
        )

    def _store(self, item: ArticleItem, doc: Document, capture: CaptureRef | None) -> tuple[bool, bool, str]:
        assert self.manifest is not None
        stored = store_text(self.archive_dir, item.site, doc.text, fsync=self.fsync)
        entry = manifest_entry(doc, url=item.url, site=item.site, stored=stored, capture=capture)
        return stored.written, self.manifest.append(entry), stored.sha256

