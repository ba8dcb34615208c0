"""The `news` spider: one site file in, every article of the site out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from lxml import etree
from scrapy import Request, Spider
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.items import ArticleItem
from crawler.sites import Site, load_site
from crawler.urls import canonical_url

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
        self._scheduled: set[str] = set()
        self._limit_logged = False

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
                yield from self._follow(loc, self.parse)

    def parse_feed(self, response: Response) -> Iterable[Request]:
        root = etree.fromstring(response.body, _FEED_PARSER) if response.body.strip() else None
        if root is None:
            self.crawler.stats.inc_value("news/feed_invalid")
            logger.warning("Not an RSS or Atom feed, ignored: %s", response.url)
            return
        links = [(e.text or "").strip() for e in root.iter("link") if e.text]
        links += [
            e.get("href", "")
            for e in root.iter(f"{_ATOM}link")
            if e.get("rel", "alternate") == "alternate"
        ]
        for link in links:
            url = response.urljoin(link)
            if self.site.is_article(canonical_url(url)):
                yield from self._follow(url, self.parse)

    def _follow(self, url: str, callback: Callable[..., Any]) -> Iterable[Request]:
        """The one gate every request passes: canonical, on-site, once, within max_pages."""
        canon = canonical_url(url)
        if canon in self._scheduled:
            return
        if not self.site.owns(canon):
            self.crawler.stats.inc_value("news/offsite_link_skipped")
            return
        limit = self.site.max_pages
        if limit and len(self._scheduled) >= limit:
            if not self._limit_logged:
                logger.info("max_pages = %d reached for site %s: no new requests", limit, self.site.name)
                self._limit_logged = True
            self.crawler.stats.inc_value("news/max_pages_skipped")
            return
        self._scheduled.add(canon)
        yield Request(canon, callback=callback)

    def _sitemap_body(self, response: Response) -> bytes | None:
        if gzip_magic_number(response):
            return gunzip(response.body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
        if isinstance(response, TextResponse) or response.url.endswith((".xml", ".xml.gz")):
            return response.body
        return None


# deny_extensions=[]: a PDF or other file that matches the article pattern is
# still an article response to capture; only the patterns decide.
_LINKS = LinkExtractor(deny_extensions=[], canonicalize=False, unique=True)
