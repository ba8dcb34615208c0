"""Where a site without a site file keeps its lists of articles: sitemaps and feeds.

A site names its sitemaps in robots.txt (``Sitemap:`` lines) and announces
its feeds in its pages (``<link rel="alternate" type="application/rss+xml">``,
which trafilatura's feed finder reads too); where it names none, the usual
places of the common systems are asked, once each: ``/sitemap.xml``,
``/sitemap_index.xml`` (Yoast and most plugins), ``/wp-sitemap.xml``
(WordPress itself); ``/feed/`` (WordPress), ``/rss.xml`` (Drupal and many
others). Every answer is captured like any other; what was a valid sitemap
or feed is kept in ``Discovered``, for ``scrapy newsite`` to write down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

from scrapy.http import Response
from trafilatura.feeds import FEED_TYPES

USUAL_SITEMAPS = ("/sitemap.xml", "/sitemap_index.xml", "/wp-sitemap.xml")
USUAL_FEEDS = ("/feed/", "/rss.xml")


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def usual_sitemaps(url: str) -> list[str]:
    return [urljoin(url, path) for path in USUAL_SITEMAPS]


def usual_feeds(url: str) -> list[str]:
    return [urljoin(url, path) for path in USUAL_FEEDS]


def announced_feeds(response: Response) -> list[str]:
    """The feeds a page announces in its head, as absolute URLs, in page order."""
    found = []
    for link in response.xpath('//link[@href][contains(concat(" ", normalize-space(@rel), " "), " alternate ")]'):
        kind = (link.attrib.get("type") or "").split(";")[0].strip().lower()
        if kind in FEED_TYPES:
            found.append(response.urljoin(link.attrib["href"].strip()))
    return list(dict.fromkeys(found))


@dataclass
class Discovered:
    """What a crawl found of a site's sources: how it came to ask for each, and which were valid."""

    asked: dict[str, str] = field(default_factory=dict)  # URL -> how it was found ("named in robots.txt")
    sitemaps: list[str] = field(default_factory=list)  # valid, in the order read
    feeds: list[str] = field(default_factory=list)
    pagination: list[str] = field(default_factory=list)  # "next page" links followed

    def ask(self, url: str, how: str) -> None:
        self.asked.setdefault(url, how)

    def sitemap(self, url: str) -> None:
        if url not in self.sitemaps:
            self.sitemaps.append(url)

    def feed(self, url: str) -> None:
        if url not in self.feeds:
            self.feeds.append(url)

    def page(self, url: str) -> None:
        if url not in self.pagination:
            self.pagination.append(url)

    def found(self, kind: str) -> list[tuple[str, str]]:
        """The valid sitemaps or feeds this crawl went looking for (not those listed by others), with how."""
        valid = self.sitemaps if kind == "sitemaps" else self.feeds
        return [(url, self.asked[url]) for url in valid if url in self.asked]
