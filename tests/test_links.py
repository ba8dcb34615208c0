"""The links a crawl follows: found by the crawl process on listings and by a worker on articles, the same either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import html
from scrapy.http import HtmlResponse, Request
from scrapy.linkextractors import LinkExtractor
from scrapy.utils.response import get_base_url

from crawler.extract.document import read_page
from crawler.urls import canonical_url, page_links
from tests.conftest import REPO, SITE_ROOT, FixtureServer, crawl, write_site

PAGES = sorted(SITE_ROOT.rglob("*.html")) + sorted((REPO / "tests" / "pages").rglob("*.html"))
# Scrapy's own link extraction, as the spider used it: every <a>/<area>, no extension denied.
SCRAPY_LINKS = LinkExtractor(deny_extensions=[], canonicalize=False, unique=True)


def _response(page: Path) -> HtmlResponse:
    # A path below the site's root, so that relative links resolve to somewhere real.
    url = "http://127.0.0.1:8765/" + page.relative_to(page.parents[1]).as_posix()
    return HtmlResponse(url=url, body=page.read_bytes(), request=Request(url))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_links_are_those_scrapys_link_extractor_finds(page: Path) -> None:
    response = _response(page)
    expected = {canonical_url(link.url) for link in SCRAPY_LINKS.extract_links(response)}
    links, next_links = page_links(response.selector.root, get_base_url(response), response.encoding)
    assert set(links) == expected
    assert set(next_links) == {
        canonical_url(response.urljoin(h)) for h in response.css("a[rel~=next]::attr(href), link[rel~=next]::attr(href)").getall()
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_a_worker_reading_an_article_finds_the_same_links(page: Path) -> None:
    response = _response(page)
    read = read_page(response.url, "text/html", page.read_bytes(), with_links=True)
    if not read.links:
        # A page read no further than its bytes (binary, undecodable) has no tree to take links from.
        assert html.fromstring(page.read_bytes()).find(".//a") is None or read.result.reason in ("binary", "bad_charset")
        return
    assert (list(read.links), list(read.next_links)) == page_links(
        response.selector.root, get_base_url(response), response.encoding
    )


def test_a_crawl_requests_the_same_pages_whether_articles_are_read_or_not(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url)
    requested = []
    for text in ("True", "False"):
        before = len(server.requests())
        crawl(site, tmp_path / f"archive-{text}", settings={"TEXT_ENABLED": text})
        requested.append(sorted(r["path"] for r in server.requests()[before:] if r["method"] == "GET"))
    assert requested[0] == requested[1]
