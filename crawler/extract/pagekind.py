"""Article or not: month archives, tag pages, section fronts, search pages and a site's error
pages often match an article pattern, and must give no document.

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

from crawler.extract.boilerplate import fold
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
# With this many, a page whose main text stands under a headline linking elsewhere lists posts (a month archive of two).
_FEW_TEASERS = 2

# Where sites send a request for a page they do not have: ASP.NET's /Error.aspx?aspxerrorpath=..., /404.html, /not-found.
_ERROR_PATH_RE = re.compile(
    r"aspxerrorpath=|/(?:error|errors|404|not-?found|page-?not-?found|pagenotfound|error-?404)(?:\.(?:aspx?|html?|php|jsp))?(?:[/?#]|$)",
    re.IGNORECASE,
)
# What a missing page says of itself, in its title, headline or short text (matched folded: fold()).
_MISSING_PHRASES = tuple(
    fold(p).lower()
    for p in (
        "الصفحة غير موجودة",
        "الصفحة المطلوبة غير موجودة",
        "الصفحة التي تبحث عنها غير موجودة",
        "الصفحة التي طلبتها غير موجودة",
        "الصفحة غير متوفرة",
        "الصفحة المطلوبة غير متوفرة",
        "هذه الصفحة غير موجودة",
        "لم يتم العثور على الصفحة",
        "لم نتمكن من العثور على الصفحة",
        "الخبر غير موجود",
        "المقال غير موجود",
        "المحتوى غير موجود",
        "المحتوى غير متوفر",
        "خطأ 404",
        "404 not found",
        "error 404",
        "page not found",
        "page cannot be found",
        "page could not be found",
        "the page you requested",
        "the page you are looking for",
        "this page does not exist",
        "this page doesn't exist",
    )
)
# Text below which a page that says it is missing is only that (an article about a 404 is longer).
_MISSING_TEXT_MAX = 600


def listing_reason(
    tree: html.HtmlElement, url: str, meta: PageMetadata, density: TextDensity, article_pattern: str | None
) -> str | None:
    """Why the page is a listing rather than an article, or None when it may be an article."""
    if meta.typed_as_article:
        return None
    teasers = _teaser_links(tree, url, meta.canonical_url, article_pattern)
    if teasers < _FEW_TEASERS:
        return None
    if teasers >= _MIN_TEASERS and (reason := _many_teasers(tree, url, meta, density, article_pattern, teasers)):
        return reason
    heading = _heading_above(density.main) if density.main is not None else None
    if heading is None or not _teaser_links(heading, url, meta.canonical_url, article_pattern):
        return None
    # A post's own headline (h2, h3), and another post beside it under a headline of the same rank: a person's
    # or a product's card above an article's text is no list of posts.
    post = density.main.getparent()
    beside = [] if post is None else [*post.itersiblings(), *post.itersiblings(preceding=True)]
    if any(_teaser_links(h, url, meta.canonical_url, article_pattern) for b in beside for h in b.iter(heading.tag)):
        return f"{teasers} headlines linking to other articles, the main text an excerpt under one of them"
    return None


def _many_teasers(
    tree: html.HtmlElement, url: str, meta: PageMetadata, density: TextDensity, article_pattern: str | None, teasers: int
) -> str | None:
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


def error_page_reason(url: str, meta: PageMetadata) -> str | None:
    """Why the page is a site's error page answered with 200 (after a redirect to an error path), or None."""
    if meta.typed_as_article:
        return None
    path = url.split("://", 1)[-1].partition("/")[2]
    if _ERROR_PATH_RE.search("/" + path):
        return "the address is the site's error page"
    return None


def says_missing(headlines: list[str], body: list[str]) -> bool:
    """A short page whose title, headline or text says the page is not there ("الصفحة غير موجودة", "Page not found")."""
    if sum(map(len, body)) > _MISSING_TEXT_MAX:
        return False
    keys = [fold(t).lower() for t in (*headlines, *body) if t]
    return any(phrase in key for key in keys for phrase in _MISSING_PHRASES)


def _heading_above(main: html.HtmlElement) -> html.HtmlElement | None:
    """The headline the main text stands under: the last h2 or h3 before it, in its parent or grandparent."""
    around = next((a for a in _up_to_two(main) if a.tag not in ("body", "html")), None)
    if around is None:
        return None
    last = None
    for element in around.iter():
        if element is main:
            return last
        if element.tag in ("h2", "h3"):
            last = element
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
    # descendant-or-self: a headline element itself may be what is asked about.
    for a in tree.xpath(
        "descendant-or-self::h1//a[@href] | descendant-or-self::h2//a[@href]"
        " | descendant-or-self::h3//a[@href] | descendant-or-self::h4//a[@href]"
    ):
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
