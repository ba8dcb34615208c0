"""URLs: one article, one URL, one fetch; and the URLs never worth a request."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import regex
from courlan import is_not_crawlable
from courlan.clean import clean_query
from lxml import etree
from w3lib.url import canonicalize_url, safe_url_string

# Query parameters that make a link an action or a second presentation of a
# page we fetch anyway: Jetpack share buttons (?share=twitter&nb=1), reply
# links, print and AMP variants, WordPress search, cart actions.
_ACTION_PARAMS = frozenset({"share", "nb", "replytocom", "print", "amp", "add-to-cart", "s", "action", "like_comment"})
_ACTION_VALUES = {"output": {"amp", "print"}, "format": {"amp", "print"}}
# Path segments that do the same: AMP and print versions, comment feeds,
# accounts, search, shopping. courlan's is_not_crawlable adds login,
# contact and legal pages, javascript: and mailto: links.
_ACTION_SEGMENT_RE = re.compile(
    r"/(amp|print|feed|comments|trackback|embed|wp-login\.php|wp-admin|login|logout|register|"
    r"signin|signup|search|cart|checkout|my-account|account)(/|$)",
    re.IGNORECASE,
)

# How long one search of a site file's pattern in one URL may take, in CPU seconds (the regex
# module counts the process's CPU time, so a busy machine does not make a good pattern time
# out). A sound pattern takes microseconds on the longest URL a server accepts; a pattern that
# backtracks without end, such as (a+)+$, on a hostile link would otherwise never return.
URL_MATCH_TIMEOUT = 0.1

# re's flags as the regex module numbers them (ASCII differs: 256 in re, 128 in regex).
_FLAGS = [
    (getattr(re, name), getattr(regex, name))
    for name in ("IGNORECASE", "LOCALE", "MULTILINE", "DOTALL", "UNICODE", "VERBOSE", "ASCII")
]


def compile_url_pattern(pattern: re.Pattern[str]) -> regex.Pattern[str]:
    """The same pattern, compiled by the regex module so that search_url can bound a search.

    Version 0 of regex is its re-compatible mode: a pattern re compiled means the same there.
    """
    flags = regex.V0
    for re_flag, regex_flag in _FLAGS:
        if pattern.flags & re_flag:
            flags |= regex_flag
    return regex.compile(pattern.pattern, flags)


@lru_cache(maxsize=4096)
def search_url(pattern: regex.Pattern[str], url: str) -> bool:
    """True when the pattern is found in the URL; raises TimeoutError past URL_MATCH_TIMEOUT.

    Cached: a crawl asks about the same URL several times (sitemap, request,
    response), and a bounded search costs a clock read of the process's CPU
    time, slow in a process with busy threads.
    """
    # concurrent=False: the regex module would otherwise release the interpreter lock for every
    # search, and the reactor thread calling it would queue behind the worker threads to get it back.
    return pattern.search(url, timeout=URL_MATCH_TIMEOUT, concurrent=False) is not None


def canonical_url(url: str) -> str:
    """Drop the fragment and tracking parameters, and normalize escaping.

    w3lib's canonicalize_url (Scrapy's own) percent-encodes raw Arabic path
    characters as UTF-8 with uppercase hex and lowercases the host, so a link
    written in Arabic and the same link percent-encoded meet on one string.
    It also sorts the query, as Scrapy's request fingerprint does. Tracking
    parameters (utm_*, fbclid, gclid, ref ...) are courlan's list.
    """
    canon = canonicalize_url(url, keep_fragments=False)
    parts = urlsplit(canon)
    if not parts.query:
        return canon
    return canonicalize_url(urlunsplit(parts._replace(query=clean_query(parts.query))), keep_fragments=False)


def useless_reason(url: str) -> str | None:
    """Why a request for this (canonical) URL would only repeat a page or perform an action; None if worth it."""
    parts = urlsplit(url)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        name = name.lower()
        if name in _ACTION_PARAMS:
            return f"query parameter {name!r}"
        if value.lower() in _ACTION_VALUES.get(name, ()):
            return f"{name}={value}"
    if m := _ACTION_SEGMENT_RE.search(parts.path):
        return f"path segment {m.group(1)!r}"
    if is_not_crawlable(url):
        return "not crawlable (courlan)"
    return None


def page_links(root: etree._Element, base_url: str, encoding: str) -> tuple[list[str], list[str]]:
    """The canonical URLs of a page's ``<a href>`` and ``<area href>`` links, and of its "next page" links.

    "Next page" links are ``<a rel=next>`` and ``<link rel=next>``: pagination,
    which the spider follows even where the site file's patterns do not name it.

    What Scrapy's LinkExtractor gives for these tags (hrefs resolved against
    the page's ``<base>``, made safe in the page's encoding), minus its
    per-link objects and filters, which cost more than the rest of a page's
    handling: only the site file's patterns decide what is followed, and a
    PDF that matches the article pattern is still an article. Canonical
    forms are cached, as every page repeats its site's menus.
    """
    parts = urlsplit(base_url)
    # A root-relative link ("/news/1") resolves the same against any page of the site: one cache entry.
    root_url = f"{parts.scheme}://{parts.netloc}/"
    found: tuple[list[str], list[str]] = ([], [])
    for hrefs, links in zip((_HREFS(root), _NEXT_HREFS(root)), found, strict=True):
        for href in dict.fromkeys(hrefs):
            rooted = href.startswith("/") and not href.startswith("//")
            canon = _canonical_link(root_url if rooted else base_url, href, encoding)
            if canon is not None:
                links.append(canon)
    return found


_HREFS = etree.XPath("//a/@href | //area/@href", smart_strings=False)
# a[rel~=next], link[rel~=next]: rel is a space-separated list of words. Found from the
# page's rel attributes, few, rather than from all of its a and link elements: half the time.
_NEXT_HREFS = etree.XPath(
    "//@rel[contains(concat(' ', normalize-space(.), ' '), ' next ')]/parent::*[self::a or self::link]/@href",
    smart_strings=False,
)


@lru_cache(maxsize=4096)
def _canonical_link(base: str, href: str, encoding: str) -> str | None:
    """A link's canonical URL; None for what is no web page (mailto:, javascript:, tel:, empty)."""
    href = href.strip()
    if not href:
        return None
    url = urljoin(base, href)
    if not url.startswith(("http://", "https://")):
        return None
    try:
        return canonical_url(safe_url_string(url, encoding=encoding))
    except ValueError:  # a host or port that does not parse
        return None
