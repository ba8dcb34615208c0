"""From the bytes of an article response to a Document, or the reason there is none.

The crawl and `scrapy rebuild` both call extract_document with the same
three inputs (URL, Content-Type, decoded body), so a rebuild from WARC gives
the crawl's text byte for byte. It runs in worker processes: module-level,
picklable, no crawler state.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import trafilatura
from lxml import etree, html
from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import responsetypes

from crawler.boilerplate import ParagraphFilter, is_container_boilerplate
from crawler.metadata import PageMetadata
from crawler.textstore import Document

# Share of U+FFFD among the decoded characters above which a page's declared
# charset is taken to be a lie: the text would be mojibake.
_MAX_REPLACEMENT_RATIO = 0.01
# trafilatura folds every Unicode space into " "; the no-break and thin
# spaces a site typed are part of its text, so they cross it disguised as
# private-use characters.
_UNICODE_SPACES = "\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_PROTECT = {ord(c): 0xF0000 + i for i, c in enumerate(_UNICODE_SPACES)}
_RESTORE = {v: k for k, v in _PROTECT.items()}
_HTML_SPACE_RE = re.compile(r"[ \t\n\r\f]+")
_BLOCKS = {"p", "head", "quote", "item", "cell", "code"}


@dataclass(frozen=True)
class NoDocument:
    reason: str  # short, for stats keys: text/no_document/<reason>
    detail: str


def extract_document(
    url: str, content_type: str, body: bytes, site_boilerplate: Iterable[str] = ()
) -> Document | NoDocument:
    headers = Headers({"Content-Type": content_type} if content_type else {})
    if responsetypes.from_args(headers=headers, url=url, body=body) is not HtmlResponse:
        return NoDocument("not_html", f"not an HTML page (Content-Type {content_type or 'missing'!r})")
    if not body.strip():
        return NoDocument("empty", "empty body")
    response = HtmlResponse(url=url, headers=headers, body=body)
    text = response.text
    bad = text.count("\ufffd")
    if bad and bad / len(text) > _MAX_REPLACEMENT_RATIO:
        return NoDocument("bad_charset", f"{bad} undecodable characters as {response.encoding}")
    try:
        tree = html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        return NoDocument("unparsable", f"HTML parser failed: {e}")

    meta = PageMetadata(tree, url)
    title = meta.title
    captions = [c.text_content() for c in tree.iter("figcaption")]
    rules = ParagraphFilter(site_boilerplate, captions=captions, title=title)
    paragraphs = [p for p in body_paragraphs(tree, url) if rules.reason_to_drop(p) is None]
    if not paragraphs:
        return NoDocument("no_body", "no article body found")
    return Document(
        text=unicodedata.normalize("NFC", "\n\n".join(paragraphs) + "\n"),
        title=unicodedata.normalize("NFC", title) if title else None,
        published=meta.published,
        author=meta.author,
        language=meta.language,
        canonical_url=meta.canonical_url,
    )


def body_paragraphs(tree: html.HtmlElement, url: str) -> list[str]:
    """trafilatura's main text of the page, pruned of known boilerplate containers first."""
    pruned = copy.deepcopy(tree)
    for element in list(pruned.iter(etree.Element)):
        if element.getparent() is not None and is_container_boilerplate(element):
            element.drop_tree()
    for element in pruned.iter():
        if element.text:
            element.text = element.text.translate(_PROTECT)
        if element.tail:
            element.tail = element.tail.translate(_PROTECT)
    result = trafilatura.bare_extraction(
        pruned,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_formatting=False,
        include_links=False,
        deduplicate=False,
        with_metadata=False,
    )
    body = getattr(result, "body", None)
    if body is None:
        return []
    return [p.translate(_RESTORE) for p in _block_texts(body) if p]


def _block_texts(body: etree._Element) -> Iterator[str]:
    """One paragraph per innermost block (p, heading, list item, quote, table cell); <br> splits one."""
    for element in body.iter(*_BLOCKS):
        if any(d.tag in _BLOCKS for d in element.iterdescendants()):
            continue
        yield from _lines(element)


def _lines(element: etree._Element) -> list[str]:
    lines: list[str] = []
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        if node.tag == "lb":
            lines.append("".join(parts))
            parts.clear()
        elif node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    lines.append("".join(parts))
    return [_squash(line) for line in lines]


def _squash(text: str) -> str:
    # HTML collapses only ASCII white space; a no-break space is the site's text.
    return _HTML_SPACE_RE.sub(" ", text).strip(" \t\n\r\f")
