"""Page furniture: headers, footers, sidebars and widgets, whose dates and images are not the article's."""

from __future__ import annotations

import re

from lxml import html

# Page furniture whose dates and images are not the article's: the header's "today"
# widget, footers, sidebars, "most read" lists, tickers.
_FURNITURE_WORDS = frozenset(
    "masthead topbar sidebar widget widgets most popular trending today ticker breaking menu nav navbar related latest".split()
)
_WORD_SPLIT_RE = re.compile(r"[\s_-]+")


def in_furniture(element: html.HtmlElement, stop: html.HtmlElement) -> bool:
    """True when the element sits in a header, footer, sidebar or widget below `stop`.

    A header or footer inside an <article> or <main> is the article's own.
    """
    line = []
    for el in (element, *element.iterancestors()):
        if el is stop:
            break
        line.append(el)
    in_article = any(el.tag in ("article", "main") for el in element.iterancestors())
    for el in line:
        if el.tag in ("body", "html"):
            continue  # a page-wide class ("has-sidebar", "nav-no-loaded") says nothing of one element
        words = set(_WORD_SPLIT_RE.split(f"{el.get('class', '')} {el.get('id', '')}".lower()))
        if el.tag in ("nav", "aside") or words & _FURNITURE_WORDS:
            return True
        if not in_article and (el.tag in ("header", "footer") or words & {"header", "footer"}):
            return True
    return False
