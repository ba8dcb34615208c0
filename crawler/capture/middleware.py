"""The downloader middleware that turns every HTTP exchange into a WARC capture.

It sits next to the download handler (order 950, above HttpCompression at 590
and Redirect at 600), so it sees each response before anything rewrites it:
compressed bodies stay compressed, redirects and errors are seen before the
middlewares that consume them, robots.txt and sitemaps pass through it like
any page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.utils.httpobj import urlparse_cached

from crawler.capture.records import (
    CaptureRef,
    Exchange,
    new_record_id,
    stage_capture,
    warcinfo_fields,
)
from crawler.capture.indexer import indexing
from crawler.capture.reading import READ_META_KEY, BodyReader
from crawler.capture.wire import WIRE_META_KEY
from crawler.store.atomic import Staged
from crawler.store.committer import committer
from crawler.store.diskfull import is_disk_full, stop_for_disk_full
from crawler.workers import worker_pool

logger = logging.getLogger(__name__)

CAPTURE_META_KEY = "warc_capture"
# The finish reason of a crawl stopped because the archive's disk is full.

# Settings recorded in each crawl's warcinfo: the ones that change what was captured.
_WARCINFO_SETTINGS = (
    "USER_AGENT",
    "ROBOTSTXT_OBEY",
    "DOWNLOAD_MAXSIZE",
    "DOWNLOAD_TIMEOUT",
    "DOWNLOAD_FAIL_ON_DATALOSS",
    "RETRY_TIMES",
    "AUTOTHROTTLE_ENABLED",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "COOKIES_ENABLED",
)


class WarcCaptureMiddleware:
    def __init__(self, crawler: Crawler, archive_dir: Path) -> None:
        self.crawler = crawler
        self.archive_dir = archive_dir
        self.workers = worker_pool(crawler)
        self.committer = committer(crawler)
        self.index = indexing(crawler)
        self.crawl_start = datetime.now(UTC)
        self.warcinfo_id = new_record_id()
        self._warcinfo_written = False
        self._warcinfo_lock = asyncio.Lock()
        self._decompresses: bool | None = None
        crawler.signals.connect(self._log_summary, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED"):
            raise NotConfigured("WARC_ENABLED is off")
        return cls(crawler, Path(settings.get("ARCHIVE_DIR")))

    def process_request(self, request: Request) -> None:
        # A redirected request inherits its parent's meta; the parent's
        # capture must not be mistaken for this one's.
        request.meta.pop(CAPTURE_META_KEY, None)
        request.meta.pop(WIRE_META_KEY, None)
        request.meta.pop(READ_META_KEY, None)

    async def process_response(self, request: Request, response: Response) -> Response:
        stats = self.crawler.stats
        if "cached" in response.flags:
            stats.inc_value("warc/skipped_cached")
            return response
        exchange = exchange_from_scrapy(request, response)
        if "dataloss" in response.flags:
            # The connection ended before the promised length (DOWNLOAD_FAIL_ON_DATALOSS off): kept as
            # sent, marked as cut, so that nobody takes it for the whole page; it is read as no document.
            exchange = replace(exchange, truncated="disconnect")
            stats.inc_value("warc/captures_truncated")
            logger.warning("Captured as truncated, the body ended early (data loss): %s", response.url)
        try:
            ref, written, read = await self._store(exchange, self._reader(request, response))
        except OSError as e:
            # A page that could not be archived is not passed on as if it
            # were: the next run fetches it again.
            if is_disk_full(e):
                stop_for_disk_full(self.crawler, e)
                raise IgnoreRequest(f"WARC capture failed: {e}") from e
            stats.inc_value("warc/capture_errors")
            logger.error("Could not write the WARC capture of %s: %s", response.url, e)
            raise IgnoreRequest(f"WARC capture failed: {e}") from e
        request.meta[CAPTURE_META_KEY] = ref
        if read is not None:
            # A response dropped before the spider (a meta refresh) leaves what was read, a
            # text under a temporary name at most, to the next crawl's sweep of .tmp-* files.
            request.meta[READ_META_KEY] = read
        stats.inc_value("warc/captures_written" if written else "warc/captures_existing")
        if written:
            stats.inc_value("warc/payload_bytes", len(exchange.payload))
        return response

    def _reader(self, request: Request, response: Response) -> BodyReader | None:
        """What the spider asks to have read of this response in its capture's job (crawler.capture.reading)."""
        reader_for = getattr(self.crawler.spider, "reader_for", None)
        read = reader_for(request, response) if reader_for is not None and request.method != "HEAD" else None
        if read is None:
            return None
        if self._decompresses is None:
            middlewares = self.crawler.engine.downloader.middleware.middlewares
            self._decompresses = any(isinstance(m, HttpCompressionMiddleware) for m in middlewares)
        encodings = tuple(response.headers.getlist("Content-Encoding")) if self._decompresses else ()
        max_size = request.meta.get("download_maxsize", self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        return BodyReader(read, encodings, max_size, cut="dataloss" in response.flags)

    async def _store(self, exchange: Exchange, reader: BodyReader | None) -> tuple[CaptureRef, bool, Any]:
        if self._warcinfo_written:
            return await self._write(exchange, None, reader)
        # The first file this crawl writes carries the warcinfo; the others
        # wait for it, so that no capture points to a warcinfo that is not
        # in the same commit or an earlier one.
        async with self._warcinfo_lock:
            info = None if self._warcinfo_written else self._warcinfo()
            ref, written, read = await self._write(exchange, info, reader)
            if written and info is not None:
                self._warcinfo_written = True
            return ref, written, read

    async def _write(
        self, exchange: Exchange, warcinfo: dict[str, str] | None, reader: BodyReader | None
    ) -> tuple[CaptureRef, bool, Any]:
        capture = partial(
            stage_capture,
            self.archive_dir,
            self._site_name(),
            warcinfo_id=self.warcinfo_id,
            warcinfo=warcinfo,
            fsync=self.committer.stage_fsync,
            index=self.index,
        )
        ref, staged, read = await self.workers.run(capture_and_read, capture, exchange, reader)
        return (*self.committer.add_capture(ref, staged), read)

    def _site_name(self) -> str:
        spider = self.crawler.spider
        site = getattr(spider, "site", None)
        return site.name if site is not None else spider.name

    def _warcinfo(self) -> dict[str, str]:
        settings = self.crawler.settings
        recorded: dict[str, Any] = {f"scrapy-{k}": settings.get(k) for k in _WARCINFO_SETTINGS}
        site = getattr(self.crawler.spider, "site", None)
        if site is not None and site.path:
            recorded["site-file"] = site.path
            recorded["site-file-sha256"] = site.sha256
        return warcinfo_fields(self._site_name(), self.crawl_start, recorded)

    def _log_summary(self) -> None:
        stats = self.crawler.stats
        logger.info(
            "WARC captures: %d written, %d already in the archive",
            stats.get_value("warc/captures_written", 0),
            stats.get_value("warc/captures_existing", 0),
        )


def capture_and_read(
    capture: Callable[[Exchange], tuple[CaptureRef, Staged | None]], exchange: Exchange, reader: BodyReader | None
) -> tuple[CaptureRef, Staged | None, Any]:
    """In a worker process: the exchange's capture, then, if the spider asked, its reading, from one copy of the body."""
    ref, staged = capture(exchange)
    return ref, staged, reader(exchange.payload, fetched=ref.date) if reader is not None else None


def exchange_from_scrapy(request: Request, response: Response) -> Exchange:
    """The exchange as the server saw it, from what Scrapy and the wire handler kept."""
    wire = request.meta.get(WIRE_META_KEY)
    headers = _header_pairs(response.headers)
    if wire is not None:
        # Scrapy re-synthesizes Content-Length from the parsed length; the
        # wire handler kept the connection headers as they were sent.
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers += wire["connection_headers"]
        reason = wire["reason"]
    else:
        reason = _standard_reason(response.status)
    parsed = urlparse_cached(request)
    target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    request_headers = _header_pairs(request.headers)
    if not any(k.lower() == "host" for k, _ in request_headers):
        request_headers.insert(0, ("Host", parsed.netloc))
    latency = float(request.meta.get("download_latency") or 0.0)
    return Exchange(
        uri=response.url,
        status=response.status,
        payload=response.body,
        date=datetime.fromtimestamp(time.time() - latency, UTC),
        protocol=response.protocol or "HTTP/1.1",
        reason=reason,
        response_headers=headers,
        method=request.method,
        request_target=target,
        request_headers=request_headers,
        request_body=request.body,
        ip_address=str(response.ip_address) if response.ip_address else None,
    )


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    # getlist keeps every value of a repeated header (Set-Cookie), which
    # headers[key] would not.
    return [(_text(k), _text(v)) for k in headers for v in headers.getlist(k)]


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _standard_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
