"""From the bytes of an article response to a Document, or the reason there is none.

The crawl and `scrapy rebuild` both call extract_document with the same
inputs (URL, Content-Type, body bytes, the site file's extraction rules), so
a rebuild from WARC gives the crawl's text byte for byte. It runs in worker processes: module-level,
picklable, no crawler state.
"""

from __future__ import annotations

import copy
import re
import traceback
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import trafilatura
from lxml import etree, html
from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import responsetypes

from crawler.boilerplate import ParagraphFilter, prune_boilerplate
from crawler.density import TextDensity
from crawler.metadata import PageMetadata
from crawler.pagekind import listing_reason
from crawler.rules import NO_RULES, ExtractionRules, css_to_xpath
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
_XML_UNSAFE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Our text below this share of the main container's prose means the pruning gutted the page.
_GUTTED_SHARE = 0.4
_HTML_SPACE_RE = re.compile(r"[ \t\n\r\f]+")
_BLOCKS = {"p", "head", "quote", "item", "cell", "code"}


@dataclass(frozen=True)
class NoDocument:
    reason: str  # short, for stats keys: text/no_document/<reason>
    detail: str


def extract_document(url: str, content_type: str, body: bytes, rules: ExtractionRules = NO_RULES) -> Document | NoDocument:
    """Never raises: any bytes give a Document or a NoDocument."""
    try:
        return _extract(url, content_type, body, rules)
    except Exception as e:  # a page that breaks a parser must not take the crawl with it
        frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        where = f" at {frame.filename}:{frame.lineno}" if frame else ""
        return NoDocument("error", f"{type(e).__name__}: {e}{where}")


def _extract(url: str, content_type: str, body: bytes, rules: ExtractionRules) -> Document | NoDocument:
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
    # lxml refuses strings with characters XML cannot hold (control characters, lone surrogates).
    text = _XML_UNSAFE_RE.sub("", text)
    tree = _parse(text, rules)
    if tree is None:
        return NoDocument("empty", "no HTML elements")

    density = TextDensity(tree)
    meta = PageMetadata(tree, url, rules, density)
    title = meta.title
    if reason := listing_reason(tree, url, meta, density, rules.article_pattern):
        return NoDocument("not_article", reason)
    # Read before the body is pruned: captions and date lines may go with it.
    published, author, language, canonical = meta.published, meta.author, meta.language, meta.canonical_url
    captions = [c.text_content() for c in tree.iter("figcaption")]

    notes: list[str] = []
    paragraphs: list[str] | None = None
    if rules.body_selector:
        chosen = [el for el in css_to_xpath(rules.body_selector)(tree) if isinstance(el, html.HtmlElement)]
        if chosen:
            paragraphs = _selected_body(chosen, url)
        else:
            notes.append("body_selector_missed")
    if paragraphs is None:
        paragraphs = _generic_body(tree, density, url, text, rules)

    rules_filter = ParagraphFilter(rules.boilerplate, captions=captions, title=title, site_names=meta.site_names)
    kept, byline = rules_filter.apply(paragraphs)
    if not kept:
        return NoDocument("no_body", "no article body found")
    return Document(
        text=unicodedata.normalize("NFC", "\n\n".join(kept) + "\n"),
        title=unicodedata.normalize("NFC", title) if title else None,
        published=published,
        author=author or byline,
        language=language,
        canonical_url=canonical,
        notes=tuple(notes),
    )


def _parse(text: str, rules: ExtractionRules) -> html.HtmlElement | None:
    """The page's tree, with the site file's drop_selectors removed."""
    try:
        tree = html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None
    for selector in rules.drop_selectors:
        for element in css_to_xpath(selector)(tree):
            if isinstance(element, html.HtmlElement) and element.getparent() is not None:
                element.drop_tree()
    return tree


def _generic_body(tree: html.HtmlElement, density: TextDensity, url: str, text: str, rules: ExtractionRules) -> list[str]:
    """trafilatura on the page pruned of boilerplate; plain trafilatura when pruning gutted it."""
    prune_boilerplate(tree, density)
    paragraphs = _trafilatura_paragraphs(tree, url)
    if sum(map(len, paragraphs)) < _GUTTED_SHARE * density.main_prose:
        # The pruning (or precision) lost most of the main text: the page
        # gets plain trafilatura, and the longer of the two answers.
        plain_tree = _parse(text, rules)
        if plain_tree is not None:
            plain = _trafilatura_paragraphs(plain_tree, url, focus="balanced")
            if sum(map(len, plain)) > sum(map(len, paragraphs)):
                return plain
    return paragraphs


def _selected_body(chosen: list[html.HtmlElement], url: str) -> list[str]:
    """trafilatura on the site file's body_selector elements alone."""
    root = html.Element("html")
    body = etree.SubElement(root, "body")
    for element in chosen:
        if not any(a in chosen for a in element.iterancestors()):
            body.append(copy.deepcopy(element))
    prune_boilerplate(root, TextDensity(root))
    return _trafilatura_paragraphs(root, url, focus="recall")


def _trafilatura_paragraphs(tree: html.HtmlElement, url: str, focus: str = "precision") -> list[str]:
    for element in tree.iter():
        if element.text:
            element.text = element.text.translate(_PROTECT)
        if element.tail:
            element.tail = element.tail.translate(_PROTECT)
    result = trafilatura.bare_extraction(
        tree,
        url=url,
        favor_precision=focus == "precision",
        favor_recall=focus == "recall",
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
