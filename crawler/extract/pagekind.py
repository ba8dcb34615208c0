"""Article or not: month archives, tag pages, section fronts and search pages often match an
article pattern, and must give no document.

Judged from the page, not the URL: what the page says it is (a JSON-LD
article type or og:type article make it an article), and otherwise its
shape: a listing is headlines linking to other articles, with little prose
of its own. A JSON-LD CollectionPage or ItemList alone proves nothing:
profile and topic pages carry them around real text.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import regex
from lxml import html

from crawler.extract.density import TextDensity
from crawler.extract.metadata import PageMetadata
from crawler.urls import canonical_url, compile_url_pattern, search_url

# Headline links to other articles from which a page with little prose is a listing.
_MIN_TEASERS = 3
# Prose of the main text container below which a page with that many teasers is a listing.
_LISTING_PROSE = 200
# With this many teasers, a page whose main container holds this small a share of the page's prose.
_MANY_TEASERS = 5
_SCATTERED_SHARE = 0.25
_HEADLINE_MIN = 15


def listing_reason(
    tree: html.HtmlElement, url: str, meta: PageMetadata, density: TextDensity, article_pattern: str | None
) -> str | None:
    """Why the page is a listing rather than an article, or None when it may be an article."""
    if meta.typed_as_article:
        return None
    teasers = _teaser_links(tree, url, meta.canonical_url, article_pattern)
    if teasers < _MIN_TEASERS:
        return None
    if density.main_prose < _LISTING_PROSE:
        return f"{teasers} headlines linking to other articles and no prose of its own"
    main = density.main
    if main is None or density.share(main) >= _SCATTERED_SHARE:
        return None
    # Excerpts: the headlines stand right around the main text (its list), not in menus elsewhere.
    around = next((a for a in _up_to_two(main) if a.tag not in ("body", "html")), None)
    nearby = _teaser_links(around, url, meta.canonical_url, article_pattern) if around is not None else 0
    if nearby >= _MANY_TEASERS:
        return f"{nearby} headlines linking to other articles among excerpts"
    return None


def _up_to_two(element: html.HtmlElement) -> list[html.HtmlElement]:
    """The grandparent, then the parent: the widest close surrounding first."""
    parent = element.getparent()
    if parent is None:
        return []
    grand = parent.getparent()
    return [grand, parent] if grand is not None else [parent]


def _teaser_links(tree: html.HtmlElement, url: str, canonical: str, article_pattern: str | None) -> int:
    """Distinct links to other articles that are headlines (inside h1-h4)."""
    pattern = compile_url_pattern(re.compile(article_pattern)) if article_pattern else None
    own = {_absolute(url, url), _absolute(url, canonical)}
    found: set[str] = set()
    for a in tree.xpath(".//h1//a[@href] | .//h2//a[@href] | .//h3//a[@href] | .//h4//a[@href]"):
        if len(a.text_content().strip()) < _HEADLINE_MIN:
            continue
        target = _absolute(url, a.get("href"))
        if target in own or not target.startswith(("http://", "https://")):
            continue
        if pattern is None or _matches(pattern, target):
            found.add(target)
    return len(found)


def _matches(pattern: regex.Pattern[str], url: str) -> bool:
    try:
        return search_url(pattern, url)
    except TimeoutError:  # a pattern that backtracks without end: as the spider does, no match
        return False


def _absolute(base: str, href: str) -> str:
    # The article pattern is searched in canonical URLs, as the spider does.
    return canonical_url(urljoin(base, href.strip()))
