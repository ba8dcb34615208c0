"""The `news` spider: one site file in, every article of the site out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from lxml import etree
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.capture.middleware import CAPTURE_META_KEY
from crawler.capture.records import warc_date
from crawler.items import ArticleItem
from crawler.sites import Site, load_site
from crawler.store.state import CrawlState
from crawler.urls import canonical_url, useless_reason

logger = logging.getLogger(__name__)

_ATOM = "{http://www.w3.org/2005/Atom}"
_FEED_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)


class NewsSpider(Spider):
    """Finds articles through listings, sitemaps and feeds; yields one item per article page.

    ``scrapy crawl news -a site=NAME_OR_PATH``. The shortcut spiders of the
    bundled sites subclass it with ``site_ref`` set.
    """

    name = "news"
    site_ref: str | None = None

    def __init__(self, site: str | None = None, *args: Any, **kwargs: Any) -> None:
        ref = site or self.site_ref
        if not ref:
            raise ValueError("no site given: run `scrapy crawl news -a site=NAME_OR_PATH`")
        self.site: Site = load_site(ref)
        self.allowed_domains = list(self.site.allowed_domains)
        super().__init__(*args, **kwargs)
        # This run's URLs only: the state of earlier runs lives in CrawlState, on disk.
        self._scheduled: set[str] = set()
        self._requested = 0
        self._limit_logged = False
        # The site file's own URLs are fetched whatever they look like (a /feed/ it names).
        self._given = {canonical_url(u) for u in (*self.site.start_urls, *self.site.sitemap_urls, *self.site.feed_urls)}
        self.state: CrawlState | None = None
        self.recrawl_after = timedelta(0)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.state = CrawlState(Path(settings.get("ARCHIVE_DIR")), spider.site.name)
        spider.recrawl_after = timedelta(seconds=settings.getfloat("RECRAWL_AFTER"))
        crawler.signals.connect(spider.state.close, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        for url in self.site.sitemap_urls:
            for request in self._follow(url, self.parse_sitemap):
                yield request
        for url in self.site.feed_urls:
            for request in self._follow(url, self.parse_feed):
                yield request
        for url in self.site.start_urls:
            for request in self._follow(url, self.parse):
                yield request

    def parse(self, response: Response, **kwargs: Any) -> Iterable[Any]:
        """Every page: an article becomes an item; links lead to more pages."""
        if response.status == 304:
            # Asked with the last capture's validators: unchanged, and this capture says so.
            self.crawler.stats.inc_value("news/not_modified")
            capture = response.meta.get(CAPTURE_META_KEY)
            if self.state is not None:
                self.state.touch(response.url, capture.date if capture else warc_date(datetime.now(UTC)))
            return
        if self.site.is_article(response.url):
            self.crawler.stats.inc_value("news/article_response")
            yield ArticleItem(url=response.url, site=self.site.name, response=response)
        if not isinstance(response, HtmlResponse):
            return
        for link in _LINKS.extract_links(response):
            canon = canonical_url(link.url)
            if self.site.is_article(canon) or self.site.should_follow(canon):
                yield from self._follow(canon, self.parse)
        # Pagination is followed even where follow_pattern does not name it.
        for href in response.css("a[rel~=next]::attr(href), link[rel~=next]::attr(href)").getall():
            yield from self._follow(response.urljoin(href), self.parse)

    def parse_sitemap(self, response: Response) -> Iterable[Request]:
        if response.url.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.body, base_url=response.url):
                yield from self._follow(url, self.parse_sitemap)
            return
        body = self._sitemap_body(response)
        sitemap = Sitemap(body) if body else None
        if sitemap is None or sitemap.type not in ("sitemapindex", "urlset"):
            self.crawler.stats.inc_value("news/sitemap_invalid")
            logger.warning("Not a sitemap, ignored: %s", response.url)
            return
        for entry in sitemap:
            loc = entry.get("loc")
            if not loc:
                continue
            if sitemap.type == "sitemapindex":
                yield from self._follow(loc, self.parse_sitemap)
            elif self.site.is_article(canonical_url(loc)):
                yield from self._follow(loc, self.parse, changed=_date(entry.get("lastmod")))

    def parse_feed(self, response: Response) -> Iterable[Request]:
        root = etree.fromstring(response.body, _FEED_PARSER) if response.body.strip() else None
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
        for link, date in links:
            url = response.urljoin(link)
            if self.site.is_article(canonical_url(url)):
                yield from self._follow(url, self.parse, changed=date)

    def _follow(self, url: str, callback: Callable[..., Any], changed: datetime | None = None) -> Iterable[Request]:
        """The one gate every request passes: canonical, on-site, useful, new or maybe changed, once, within max_pages.

        `changed` is when a sitemap or feed says the page last changed.
        """
        canon = canonical_url(url)
        if canon in self._scheduled:
            return
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
        meta: dict[str, Any] = {}
        known = self.state.known(canon) if self.state is not None and self.site.is_article(canon) else None
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
        yield Request(canon, callback=callback, headers=headers, meta=meta)

    def _sitemap_body(self, response: Response) -> bytes | None:
        if gzip_magic_number(response):
            return gunzip(response.body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
        if isinstance(response, TextResponse) or response.url.endswith((".xml", ".xml.gz")):
            return response.body
        return None


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


# deny_extensions=[]: a PDF or other file that matches the article pattern is
# still an article response to capture; only the patterns decide.
_LINKS = LinkExtractor(deny_extensions=[], canonicalize=False, unique=True)
