"""The `news` spider: one site file in, every article of the site out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Any

from lxml import etree
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.response import get_base_url
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.internet.error import ConnectionLost, TCPTimedOutError
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed, ResponseNeverReceived

from crawler.article import ArticleRead, read_article
from crawler.capture.middleware import CAPTURE_META_KEY
from crawler.capture.reading import taken_read
from crawler.capture.records import warc_date
from crawler.discovery import Discovered, announced_feeds, robots_url, usual_feeds, usual_sitemaps
from crawler.items import ArticleItem
from crawler.shapes import ShapeLearner
from crawler.sites import Site, load_site, site_from_url
from crawler.store.committer import committer
from crawler.store.state import SiteState, open_state
from crawler.store.textstore import Document
from crawler.urls import canonical_url, page_links, useless_reason
from crawler.workers import worker_pool

logger = logging.getLogger(__name__)

_ATOM = "{http://www.w3.org/2005/Atom}"
# No entity is expanded (billion laughs) or resolved (XXE: local files, URLs),
# no DTD loaded, nothing fetched: a feed is data from a stranger.
_FEED_PARSER = etree.XMLParser(
    recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
# How deep a listing sits below the start pages, in listing hops (see LISTING_DEPTH_LIMIT).
LISTING_DEPTH_KEY = "listing_depth"


class NewsSpider(Spider):
    """Finds articles through listings, sitemaps and feeds; yields one item per article page.

    ``scrapy crawl news -a site=NAME_OR_PATH``. The shortcut spiders of the
    bundled sites subclass it with ``site_ref`` set.
    """

    name = "news"
    site_ref: str | None = None
    # The methods its requests name as callback or errback, and the counters its requests carry in
    # meta: all that a request read back from a shared crawl's queue may name (crawler.scaleout.entries).
    request_callbacks = frozenset({"parse", "parse_sitemap", "parse_feed", "_failed", "_robots_failed"})
    request_meta_counts = frozenset({LISTING_DEPTH_KEY})

    def __init__(self, site: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> None:
        ref = site or self.site_ref
        if not (ref or url):
            raise ValueError("no site given: run `scrapy crawl news -a site=NAME_OR_PATH` or `-a url=URL`")
        self.site: Site = site_from_url(url) if url else load_site(ref)
        self.allowed_domains = list(self.site.allowed_domains)
        super().__init__(*args, **kwargs)
        # No article_pattern: which links are articles is learned from the site's own pages.
        self.learner: ShapeLearner | None = ShapeLearner() if self.site.learns_articles else None
        self.discovered = Discovered()
        # This run's URLs only: the state of earlier runs lives in the site's state (crawler.store.state).
        self._scheduled: set[str] = set()
        self._requested = 0
        self._limit_logged = False
        self._depth_logged = False
        self.listing_depth_limit = 0
        self.read_articles = False
        # The site file's own URLs are fetched whatever they look like (a /feed/ it names).
        self._given = {canonical_url(u) for u in (*self.site.start_urls, *self.site.sitemap_urls, *self.site.feed_urls)}
        self._start_pages = {canonical_url(u) for u in self.site.start_urls}
        self.site_state: SiteState | None = None
        self.recrawl_after = timedelta(0)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.recrawl_after = timedelta(seconds=settings.getfloat("RECRAWL_AFTER"))
        spider.listing_depth_limit = settings.getint("LISTING_DEPTH_LIMIT")
        # Articles are read (document, text, links) in the worker processes when texts are kept.
        spider.read_articles = settings.getbool("TEXT_ENABLED")
        # Opened with the spider: a shared crawl keeps it in Redis, through an extension made after this.
        crawler.signals.connect(spider._open_state, signal=signals.spider_opened)
        crawler.signals.connect(spider._close_state, signal=signals.spider_closed)
        # Redirects are built by Scrapy's middleware, and those that go nowhere are
        # dropped silently (offsite filter, duplicate filter): said here, with the URLs.
        crawler.signals.connect(spider._redirect_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(spider._redirect_dropped, signal=signals.request_dropped)
        return spider

    def _open_state(self) -> None:
        self.site_state = open_state(self.settings, self.crawler, self.site.name)

    def _close_state(self) -> None:
        if self.site_state is not None:
            self.site_state.close()

    async def start(self) -> AsyncIterator[Any]:
        if not self._seeds_queue():
            return
        if self.learner is not None:
            logger.info(
                "Site %s (%s): no article_pattern; the shapes of its article URLs are learned from its pages",
                self.site.name, ", ".join(self.site.allowed_domains),
            )
            if not self.site.sitemap_urls:
                # The site's own list of sitemaps first; the usual places only if it names none.
                for start in self.site.start_urls[:1]:
                    robots = robots_url(start)
                    self._given.add(canonical_url(robots))
                    for request in self._follow(robots, self.parse_sitemap):
                        yield request.replace(errback=self._robots_failed)
        for url in self.site.sitemap_urls:
            for request in self._follow(url, self.parse_sitemap):
                yield request
        for url in self.site.feed_urls:
            for request in self._follow(url, self.parse_feed):
                yield request
        for url in self.site.start_urls:
            for request in self._follow(url, self.parse):
                yield request

    def _seeds_queue(self) -> bool:
        """Whether this process queues the site file's URLs: always, unless another worker of a shared crawl has."""
        claim = getattr(self.crawler.engine.scheduler, "claim_seed", None)
        if claim is None:
            return True
        if not claim():
            logger.info("Site %s: this run is already seeded; taking requests from the shared queue", self.site.name)
            return False
        restore = getattr(self.site_state, "restore_if_lost", None)
        if restore is not None:
            restore(Path(self.settings.get("ARCHIVE_DIR")), self.site.name)
        logger.info("Site %s: this worker seeds the shared queue for a new run", self.site.name)
        return True

    def closed(self, reason: str) -> None:
        # URLs whose pattern search ran out of time (a backtracking pattern): in the stats, for the report.
        for key, count in self.site.match_timeouts.items():
            self.crawler.stats.set_value(f"news/pattern_timeout/{key}", count)
        if self.learner is not None:
            self._say_what_was_learned()

    def _say_what_was_learned(self) -> None:
        assert self.learner is not None
        for shape, state, articles, others, skipped in self.learner.summary():
            logger.info("Site %s: URL shape %s: %s (%d articles, %d other pages, %d links not fetched)",
                        self.site.name, shape, state, articles, others, skipped)
        stats = self.crawler.stats
        if not stats.get_value("health/documents") and not stats.get_value("news/not_new_skipped"):
            failed = sum(v for k, v in stats.get_stats().items() if k.startswith("news/fetch_failed/"))
            logger.error(
                "Site %s: no article found from %s (%d pages read, %d requests failed): the address may not "
                "answer, or its pages carry no article metadata nor publication date; write a site file with an "
                "article_pattern (scrapy newsite URL -o FILE.toml, then edit it)",
                self.site.name, ", ".join(self.site.start_urls), stats.get_value("news/article_response", 0), failed,
            )
            stats.set_value("news/no_article_found", 1)

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Any]:
        """Every page: an article becomes an item; links lead to more pages."""
        if response.status == 304:
            # Asked with the last capture's validators: unchanged, and this capture says so.
            self.crawler.stats.inc_value("news/not_modified")
            capture = response.meta.get(CAPTURE_META_KEY)
            if self.site_state is not None:
                self.site_state.touch(response.url, capture.date if capture else warc_date(datetime.now(UTC)))
            return
        found = None
        if self.site.is_article(response.url):
            self.crawler.stats.inc_value("news/article_response")
            read = None
            if self.read_articles and response.status == 200:
                read = taken_read(response) or await self._read(response)
            if read is not None:
                found = (read.links, read.next_links)
            yield ArticleItem(url=response.url, site=self.site.name, response=response, read=read)
            if self.learner is not None and read is not None:
                # Judged under the URL its link was offered as, before any redirect.
                offered = canonical_url((response.meta.get("redirect_urls") or [response.url])[0])
                for follow in self.learner.judged(offered, isinstance(read.result, Document)):
                    for request in self._follow(*follow):
                        yield request
        if not isinstance(response, HtmlResponse):
            return
        if self.learner is not None and canonical_url(response.url) in self._start_pages:
            for request in self._feeds_of(response):
                yield request
        if found is None:
            found = page_links(response.selector.root, get_base_url(response), response.encoding)
        links, next_links = found
        depth = response.meta.get(LISTING_DEPTH_KEY, 0)
        for canon in links:
            # Most links of a page (menus, "latest news") were scheduled from an earlier one.
            if canon in self._scheduled:
                continue
            if self.learner is not None and not self.site.should_follow(canon):
                for follow in self._offer(canon, depth=depth):
                    for request in self._follow(*follow):
                        yield request
            elif self.site.is_article(canon) or self.site.should_follow(canon):
                for request in self._follow(canon, self.parse, depth=depth):
                    yield request
        # Pagination is followed even where follow_pattern does not name it.
        for canon in next_links:
            self.discovered.page(canon)
            for request in self._follow(canon, self.parse, depth=depth):
                yield request

    def reader_for(self, request: Request, response: Response) -> Callable[..., ArticleRead] | None:
        """An article page is read in the worker job that captures it (crawler.capture.reading), from one copy of its body."""
        if request.callback != self.parse or not self.read_articles or response.status != 200:
            return None
        return self._article_reader(response) if self.site.is_article(response.url) else None

    async def _read(self, response: Response) -> ArticleRead:
        """An article not read with its capture (no WARC capture, a body Scrapy had to decode in part)."""
        capture = response.meta.get(CAPTURE_META_KEY)
        # The capture's WARC-Date, as a rebuild reads it; a page not captured was fetched about now.
        fetched = capture.date if capture is not None else warc_date(datetime.now(UTC))
        reader = partial(self._article_reader(response), fetched=fetched)
        if "dataloss" in response.flags:  # the connection ended before the promised length
            reader = partial(reader, cut=True)
        return await worker_pool(self.crawler).run_bulk(reader, response.body)

    def _article_reader(self, response: Response) -> Callable[[bytes], ArticleRead]:
        """The article's document, text and links from its body, read in a worker process from one parse of the page."""
        return partial(
            read_article,
            response.url,
            response.headers.get(b"Content-Type", b"").decode("latin-1"),
            # The rules of the day it is read, as a rebuild reads its capture by the WARC-Date.
            rules=self.site.rules_at(datetime.now(UTC)),
            archive_dir=self.settings.get("ARCHIVE_DIR"),
            site=self.site.name,
            fsync=committer(self.crawler).stage_fsync,
        )

    def parse_sitemap(self, response: Response) -> Iterable[Request]:
        if response.url.endswith("/robots.txt"):
            listed = list(sitemap_urls_from_robots(response.body, base_url=response.url))
            how = "named in robots.txt"
            if not listed and self.learner is not None:
                listed, how = usual_sitemaps(response.url), "at the usual place (robots.txt names no sitemap)"
            for url in listed:
                self.discovered.ask(url, how)
                yield from self._follow(url, self.parse_sitemap)
            return
        try:
            body = self._sitemap_body(response)
        except (OSError, EOFError, ValueError) as e:
            # A gzip that is corrupt, or inflates past DOWNLOAD_MAXSIZE (a bomb): stop unpacking.
            self.crawler.stats.inc_value("news/sitemap_invalid")
            logger.warning("Not a sitemap, ignored: %s: %s", response.url, _unpack_problem(e))
            return
        # Scrapy's Sitemap parses with lxml, resolve_entities=False: no entity is expanded or fetched.
        try:
            sitemap = Sitemap(body) if body else None
        except (etree.XMLSyntaxError, StopIteration, ValueError):
            sitemap = None  # not XML at all: lxml's recovery found no element
        if sitemap is None or sitemap.type not in ("sitemapindex", "urlset"):
            self.crawler.stats.inc_value("news/sitemap_invalid")
            logger.warning("Not a sitemap, ignored: %s", response.url)
            return
        self.discovered.sitemap(response.url)
        for entry in sitemap:
            loc = entry.get("loc")
            if not loc:
                continue
            if sitemap.type == "sitemapindex":
                yield from self._follow(loc, self.parse_sitemap)
            elif self.learner is not None:
                for follow in self._offer(canonical_url(loc), changed=_date(entry.get("lastmod"))):
                    yield from self._follow(*follow)
            elif self.site.is_article(canonical_url(loc)):
                yield from self._follow(loc, self.parse, changed=_date(entry.get("lastmod")))

    def parse_feed(self, response: Response) -> Iterable[Request]:
        try:
            root = etree.fromstring(response.body, _FEED_PARSER) if response.body.strip() else None
        except (etree.XMLSyntaxError, ValueError):
            root = None  # not XML at all: lxml's recovery found no element
        if root is None:
            self.crawler.stats.inc_value("news/feed_invalid")
            logger.warning("Not an RSS or Atom feed, ignored: %s", response.url)
            return
        links: list[tuple[str, datetime | None]] = []
        for item in root.iter("item"):  # RSS
            link, date = item.findtext("link"), item.findtext("pubDate") or item.findtext("{*}date")
            if link:
                links.append((link.strip(), _date(date)))
        for entry in root.iter(f"{_ATOM}entry"):
            date = _date(entry.findtext(f"{_ATOM}updated") or entry.findtext(f"{_ATOM}published"))
            for e in entry.iter(f"{_ATOM}link"):
                if e.get("rel", "alternate") == "alternate" and e.get("href"):
                    links.append((e.get("href", ""), date))
        self.discovered.feed(response.url)
        for link, date in links:
            url = response.urljoin(link)
            if self.learner is not None:
                # The site calls these articles: their shapes are article shapes without a sample.
                for follow in self._offer(canonical_url(url), changed=date, article=True):
                    yield from self._follow(*follow)
            elif self.site.is_article(canonical_url(url)):
                yield from self._follow(url, self.parse, changed=date)

    def _follow(
        self, url: str, callback: Callable[..., Any], changed: datetime | None = None, depth: int = 0
    ) -> Iterable[Request]:
        """The one gate every request passes: canonical, on-site, useful, new or maybe changed, once, within max_pages.

        `changed` is when a sitemap or feed says the page last changed;
        `depth` the listing depth of the page the link is on.
        """
        canon = canonical_url(url)
        if canon in self._scheduled:
            return
        meta: dict[str, Any] = {}
        if callback == self.parse:
            # A listing reached from a page is one hop deeper; an article stays at its listing's depth.
            depth = depth if self._article_url(canon) or canon in self._given else depth + 1
            limit = self.listing_depth_limit
            if limit and depth > limit and self.site.owns(canon):
                # Not marked as scheduled: a shorter path to the same page may still come.
                self.crawler.stats.inc_value("news/listing_depth_skipped")
                if not self._depth_logged:
                    logger.warning(
                        "Listing depth limit (LISTING_DEPTH_LIMIT = %d) reached on site %s, not followed: %s "
                        "(an endless pager or calendar?)",
                        limit,
                        self.site.name,
                        canon,
                    )
                    self._depth_logged = True
                return
            meta[LISTING_DEPTH_KEY] = depth
        self._scheduled.add(canon)
        stats = self.crawler.stats
        if not self.site.owns(canon):
            stats.inc_value("news/offsite_link_skipped")
            return
        if canon not in self._given and (reason := useless_reason(canon)):
            stats.inc_value("news/useless_link_skipped")
            logger.debug("Not requested (%s): %s", reason, canon)
            return
        headers: dict[str, str] = {}
        known = self.site_state.known(canon) if self.site_state is not None and self._article_url(canon) else None
        if known is not None:
            if changed is not None and changed <= known.fetched_at:
                stats.inc_value("news/not_new_skipped")
                return
            if changed is None and _utcnow() - known.fetched_at < self.recrawl_after:
                stats.inc_value("news/not_new_skipped")
                return
            # Ask with the last capture's validators: an unchanged page answers 304, no body.
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
            meta["handle_httpstatus_list"] = [304]
            stats.inc_value("news/conditional_requests")
        limit = self.site.max_pages
        if limit and self._requested >= limit:
            if not self._limit_logged:
                logger.info("max_pages = %d reached for site %s: no new requests", limit, self.site.name)
                self._limit_logged = True
            stats.inc_value("news/max_pages_skipped")
            return
        self._requested += 1
        yield Request(canon, callback=callback, errback=self._failed, headers=headers, meta=meta)

    def _article_url(self, canon: str) -> bool:
        """An article URL by the site file's pattern, or by a shape learned to be one's."""
        if self.learner is not None:
            return self.learner.is_article_shape(canon)
        return self.site.is_article(canon)

    def _offer(
        self, canon: str, changed: datetime | None = None, depth: int = 0, article: bool = False
    ) -> list[tuple[str, Callable[..., Any], datetime | None, int]]:
        """What to follow of a link on a site whose articles are learned (crawler.shapes): (url, callback, changed, depth)."""
        assert self.learner is not None
        if canon in self._scheduled or not self.site.owns(canon) or useless_reason(canon):
            return [(canon, self.parse, changed, depth)]  # _follow counts and drops it
        return self.learner.offer(canon, (canon, self.parse, changed, depth), article=article)

    def _feeds_of(self, response: Response) -> Iterable[Request]:
        """The feeds a start page announces, or the usual places when it announces none (unless the site file names feeds)."""
        if self.site.feed_urls:
            return
        found, how = announced_feeds(response), f"announced by {response.url}"
        if not found:
            found, how = usual_feeds(response.url), "at the usual place (the home page announces no feed)"
        for url in found:
            if self.site.owns(url):
                self._given.add(canonical_url(url))
                self.discovered.ask(url, how)
                yield from self._follow(url, self.parse_feed)

    def _robots_failed(self, failure: Failure) -> Iterable[Request]:
        """No robots.txt to name the sitemaps: the usual places (unless the host did not answer at all)."""
        request = getattr(failure, "request", None)
        if request is not None and failure.check(HttpError):
            for url in usual_sitemaps(request.url):
                self.discovered.ask(url, "at the usual place (the site has no robots.txt)")
                yield from self._follow(url, self.parse_sitemap)

    def _failed(self, failure: Failure) -> Failure | None:
        """A request that got no response: logged with its URL and reason, counted as news/fetch_failed/<reason>.

        Retries are over by now (RetryMiddleware retried timeouts and resets).
        A robots.txt refusal is a rule obeyed and an HTTP error status a
        response: both go on to Scrapy's own handling, as without an errback.
        """
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        if self.learner is not None and request is not None:
            # A sample that gave no page: another link of its shape is judged in its place.
            for follow in self.learner.failed(request.url):
                for again in self._follow(*follow):
                    self.crawler.engine.crawl(again)
        reason = _failure_reason(failure.value)
        if reason is None:
            return failure
        self._fetch_failed(reason, url, _one_line(failure.value))
        return None

    def _fetch_failed(self, reason: str, url: str, detail: str) -> None:
        self.crawler.stats.inc_value(f"news/fetch_failed/{reason}")
        logger.warning("Fetch failed (%s): %s: %s", reason, url, detail)

    def _redirect_scheduled(self, request: Request) -> None:
        chain = request.meta.get("redirect_urls")
        if chain and not self.site.owns(request.url):
            # OffsiteMiddleware drops it next, at DEBUG level only.
            self._fetch_failed("offsite_redirect", chain[-1], f"redirects off the site to {request.url}, not followed")

    def _redirect_dropped(self, request: Request) -> None:
        chain = request.meta.get("redirect_urls") or []
        if canonical_url(request.url) in {canonical_url(u) for u in chain}:
            # A -> B -> A: the duplicate filter ends it before the redirect limit would.
            self._fetch_failed("redirect_loop", chain[0], "redirect loop: " + " -> ".join([*chain, request.url]))

    def _sitemap_body(self, response: Response) -> bytes | None:
        if gzip_magic_number(response):
            return gunzip(response.body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
        if isinstance(response, TextResponse) or response.url.endswith((".xml", ".xml.gz")):
            return response.body
        return None


def _failure_reason(exc: BaseException) -> str | None:
    """A short reason for a failed request, for stats keys; None for a robots.txt refusal."""
    message = str(exc)
    if isinstance(exc, HttpError):
        return None  # a response with an error status: Scrapy logs it, the run report counts it
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in message:
            return None
        if "DOWNLOAD_MAXSIZE" in message:
            return "too_large"  # a decompression bomb, or a body that inflates past the cap
        if "max redirections" in message:
            return "redirect_loop"
        if "offsite" in message.lower():
            return "offsite_redirect"
        if "WARC capture failed" in message:
            return "capture_error"
        return "ignored"
    if isinstance(exc, DownloadCancelledError) and "max size" in message:
        return "too_large"  # bigger than DOWNLOAD_MAXSIZE on the wire
    if isinstance(exc, (DownloadTimeoutError, TxTimeoutError, TCPTimedOutError)):
        return "timeout"
    if isinstance(exc, ResponseDataLossError):
        return "data_loss"
    if isinstance(exc, (DownloadFailedError, ResponseFailed, ResponseNeverReceived, ConnectionLost)):
        return "connection_lost"
    if isinstance(exc, DownloadConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, CannotResolveHostError):
        return "dns"
    return "other"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def _unpack_problem(exc: BaseException) -> str:
    if type(exc).__name__ == "_DecompressionMaxSizeExceeded":
        return f"inflates past DOWNLOAD_MAXSIZE ({exc})"
    return f"corrupt gzip ({type(exc).__name__}: {exc})"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _date(value: str | None) -> datetime | None:
    """A sitemap <lastmod> (W3C datetime) or a feed date (RFC 822 or ISO 8601), as an aware UTC datetime."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    # A date alone, or a time without a zone: read as UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
