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
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import trafilatura
from htmldate import find_date
from lxml import etree, html
from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import responsetypes
from scrapy.utils.response import get_base_url
from trafilatura.settings import DEFAULT_CONFIG, Extractor, use_config

from crawler.extract.boilerplate import ParagraphFilter, fold, prune_boilerplate
from crawler.extract.density import TextDensity
from crawler.extract.images import Image, article_images
from crawler.extract.metadata import PageMetadata
from crawler.extract.pagekind import error_page_reason, listing_reason, says_missing
from crawler.extract.rules import NO_RULES, ExtractionRules, css_finder, css_to_xpath
from crawler.extract.wall import is_wall, wall_kind
from crawler.store.textstore import Document
from crawler.urls import page_links

# Share of U+FFFD among the decoded characters above which a page's declared
# charset is taken to be a lie: the text would be mojibake.
_MAX_REPLACEMENT_RATIO = 0.01
# Share of C0 control bytes (not tab, newline, form feed, carriage return) in the head of
# a body above which it is binary (an image, an archive) whatever its
# Content-Type says; text in any charset has next to none.
_MAX_CONTROL_RATIO = 0.02
_BINARY_SAMPLE = 65536
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# trafilatura folds every Unicode space into " "; the no-break and thin
# spaces a site typed are part of its text, so they cross it disguised as
# private-use characters.
_UNICODE_SPACES = "\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_PROTECT = {ord(c): 0xF0000 + i for i, c in enumerate(_UNICODE_SPACES)}
_RESTORE = {v: k for k, v in _PROTECT.items()}
# str.translate looks up every character of the text; most nodes have none of these spaces.
_UNICODE_SPACE_RE = re.compile(f"[{_UNICODE_SPACES}]")
_DISGUISED_RE = re.compile(f"[{chr(min(_RESTORE))}-{chr(max(_RESTORE))}]")
# As trafilatura parses: a comment inside a paragraph ("suffered<!-- --> months")
# would otherwise take the rest of the paragraph with it.
_PARSER = etree.HTMLParser(collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True)
# Every element an lxml.html HtmlElement, its class found in C: lxml.html's own lookup is
# Python code, called for each element Python touches, to pick form and input classes
# that nothing here uses (a tenth of a page's reading, mostly for drop_selectors).
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=html.HtmlElement, comment=html.HtmlComment, pi=html.HtmlProcessingInstruction, entity=html.HtmlEntity
    )
)
_XML_DECLARATION_RE = re.compile(r"^[\s\ufeff]*<\?xml[^>]*>")
_XML_UNSAFE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Share of the main container's prose below which our extraction is taken to have gutted the page.
_GUTTED_SHARE = 0.4
# trafilatura rescues a text under MIN_EXTRACTED_SIZE with a dump of the
# whole <article> as one paragraph, headline included; a short news item is
# better served by its own paragraphs, and a real failure by our fallback.
_NO_RESCUE = use_config()
_NO_RESCUE.set("DEFAULT", "MIN_EXTRACTED_SIZE", "0")
# A JSON-LD articleBody this long is an account of the article to measure ours against; covering this
# share of its words, ours stands; a candidate must cover this much more of it to replace ours.
_REFERENCE_MIN = 300
_COVERED = 0.8
_GAIN = 0.1
_WORD_RE = re.compile(r"\w+")
_ACCOUNT_BLOCKS = ("p", "li", "blockquote", "h2", "h3", "h4", "h5", "h6", "td", "pre")
_ACCOUNT_PARAGRAPH_MIN = 20
# A page with this many captioned images whose own text is shorter than their captions (and than this) is a gallery.
_GALLERY_CAPTIONS = 2
_GALLERY_TEXT = 300
_LETTERS_RE = re.compile(r"[^\W\d_]")
_HTML_SPACE_RE = re.compile(r"[ \t\n\r\f]+")
_BLOCKS = {"p", "head", "quote", "item", "cell", "code"}
_BOUNDARIES = {"list", "table", "row", "div", "body"}


@dataclass(frozen=True)
class NoDocument:
    reason: str  # short, for stats keys: text/no_document/<reason>
    detail: str


@dataclass(frozen=True)
class Page:
    """What reading a page gives: its document, or why there is none, and its links."""

    result: Document | NoDocument
    # Canonical URLs of its links and "next page" links (crawler.urls.page_links); empty
    # unless asked for, or when it is no HTML page.
    links: tuple[str, ...] = ()
    next_links: tuple[str, ...] = ()


def extract_document(
    url: str, content_type: str, body: bytes, rules: ExtractionRules = NO_RULES, fetched: str | None = None
) -> Document | NoDocument:
    """Never raises: any bytes give a Document or a NoDocument.

    ``fetched``: when the page was fetched (its capture's WARC-Date), against which the dates a page
    gives as a time before it ("منذ ٣ ساعات") are read; the crawl and the rebuild pass the same one.
    """
    return read_page(url, content_type, body, rules, fetched=fetched).result


def read_page(
    url: str,
    content_type: str,
    body: bytes,
    rules: ExtractionRules = NO_RULES,
    *,
    with_links: bool = False,
    fetched: str | None = None,
) -> Page:
    """``extract_document``, and with ``with_links`` the page's links from the same parse. Never raises."""
    links: tuple[list[str], list[str]] = ([], [])
    try:
        when = datetime.fromisoformat(fetched) if fetched else None
        result = _extract(url, content_type, body, rules, links if with_links else None, when)
    except Exception as e:  # noqa: BLE001 - a page that breaks a parser must not take the crawl with it
        frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        where = f" at {frame.filename}:{frame.lineno}" if frame else ""
        result = NoDocument("error", f"{type(e).__name__}: {e}{where}")
    return Page(result, tuple(links[0]), tuple(links[1]))


def _extract(
    url: str,
    content_type: str,
    body: bytes,
    rules: ExtractionRules,
    links: tuple[list[str], list[str]] | None,
    fetched: datetime | None,
) -> Document | NoDocument:
    headers = Headers({"Content-Type": content_type} if content_type else {})
    if responsetypes.from_args(headers=headers, url=url, body=body) is not HtmlResponse:
        return NoDocument("not_html", f"not an HTML page (Content-Type {content_type or 'missing'!r})")
    if not body.strip():
        return NoDocument("empty", "empty body")
    if "utf-16" not in content_type.lower() and _binary(body):
        return NoDocument("binary", f"binary content served as {content_type or 'HTML'!r}")
    response = HtmlResponse(url=url, headers=headers, body=body)
    notes: list[str] = []
    if _utf8_under_another_name(response, body):
        # Bytes that are UTF-8 under a legacy label (a CMS migrated, its templates not): read as UTF-8.
        response = HtmlResponse(url=url, headers=headers, body=body, encoding="utf-8")
        notes.append("utf8_despite_declared_charset")
    text = response.text
    bad = text.count("\ufffd")
    if bad and bad / len(text) > _MAX_REPLACEMENT_RATIO:
        return NoDocument("bad_charset", f"{bad} undecodable characters as {response.encoding}")
    # lxml refuses strings with characters XML cannot hold (control characters,
    # lone surrogates), and decoded strings that still declare an encoding.
    text = _XML_DECLARATION_RE.sub("", _XML_UNSAFE_RE.sub("", text), count=1)
    tree = _parse_html(text)
    if tree is None:
        return NoDocument("empty", "no HTML elements")
    if links is not None:
        # From the page as served, before any selector drops a part of it.
        for found, into in zip(page_links(tree, get_base_url(response), response.encoding), links, strict=True):
            into.extend(found)
    _drop(tree, rules)

    density = TextDensity(tree, url)
    meta = PageMetadata(tree, url, rules, density, fetched)
    title = meta.title
    if reason := error_page_reason(url, meta):
        return NoDocument("error_page", reason)
    if reason := listing_reason(tree, url, meta, density, rules.article_pattern):
        return NoDocument("not_article", reason)
    # Read before the body is pruned: captions and date lines may go with it.
    ours = meta.published
    author, canonical = meta.author, meta.canonical_url
    language = rules.language or meta.language
    published_hijri = meta.published_hijri
    if rules.judge_articles and not (meta.typed_as_article or ours or _dated(text)):
        return NoDocument("not_article", "no article metadata and no publication date")
    published = ours or _htmldate(text, fetched)
    images = _images(tree, meta, rules, get_base_url(response))
    captions = [c.text_content() for c in tree.iter("figcaption")]
    captions += [part for image in images for part in (image.caption, image.credit) if part]
    wall = wall_kind(tree)

    # Counted for the site's health (crawler.health): a theme change shows as selectors that stop matching.
    if rules.date_selector and meta.selector_date() is None:
        notes.append("date_selector_missed")
    paragraphs: list[str] | None = None
    if rules.body_selector:
        chosen = [el for el in css_to_xpath(rules.body_selector)(tree) if isinstance(el, html.HtmlElement)]
        if chosen:
            paragraphs = _selected_body(chosen, url)
        else:
            notes.append("body_selector_missed")
    generic = paragraphs is None
    if paragraphs is None:
        paragraphs = _generic_body(tree, density, url, text, rules)

    rules_filter = ParagraphFilter(rules.boilerplate, captions=captions, title=title, site_names=meta.site_names)
    kept, byline = rules_filter.apply(paragraphs)
    if generic and (reference := meta.article_body) and len(reference) >= _REFERENCE_MIN:
        kept = _fuller(kept, reference, text, rules, url, rules_filter)
    if is_wall(wall, kept):
        if wall == "bot_check":
            return NoDocument("blocked", "a bot check or access-denied page instead of the article")
        return NoDocument("wall", f"a {wall} prompt instead of the article")
    if says_missing([title or "", _page_title(tree)], kept):
        return NoDocument("error_page", "the page says it is not there")
    if _gallery(kept, images):
        return NoDocument("gallery", "captioned images and next to no text of their own")
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
        published_hijri=unicodedata.normalize("NFC", published_hijri) if published_hijri else None,
        free_access=meta.free_access,
        images=tuple(images),
    )


def _images(tree: html.HtmlElement, meta: PageMetadata, rules: ExtractionRules, base_url: str) -> list[Image]:
    """The article's images, read before pruning takes their captions: from body_selector's elements when it finds any."""
    regions = [el for el in css_to_xpath(rules.body_selector)(tree) if isinstance(el, html.HtmlElement)] if rules.body_selector else []
    if not regions:
        return article_images(meta.article_region(), base_url, meta.lead_image)
    found: list[Image] = []
    for region in regions:
        found += [image for image in article_images(region, base_url) if image not in found]
    return found or article_images(None, base_url, meta.lead_image)


def _fuller(
    kept: list[str], account: str, text: str, rules: ExtractionRules, url: str, paragraph_filter: ParagraphFilter
) -> list[str]:
    """Our body, or a fuller one where ours covers much less of the page's own account of it (JSON-LD articleBody).

    The candidates: plain trafilatura (balanced, then favouring recall), and the page's visible paragraphs that
    the account holds, in page order. Only text seen on the page is ever kept: the account picks between bodies,
    it is not one. A body split by a standfirst in the article's header, a newsletter box or a "read also"
    block can lead a reading to its larger part alone.
    """
    reference = _words(account)
    covered = _covered(kept, reference)
    if covered >= _COVERED:
        return kept
    best, best_agreement = kept, _agreement(kept, reference)
    for candidate_of in ("balanced", "recall", "account"):
        tree = _parse(text, rules)
        if tree is None:
            break
        if candidate_of == "account":
            paragraphs = _visible_in(tree, fold(account))
        else:
            paragraphs = _trafilatura_paragraphs(tree, url, focus=candidate_of)
        candidate, _ = paragraph_filter.apply(paragraphs)
        # Of the candidates that cover clearly more than ours, the one closest to the account.
        if _covered(candidate, reference) >= covered + _GAIN and (agreement := _agreement(candidate, reference)) > best_agreement:
            best, best_agreement = candidate, agreement
    return best


def _visible_in(tree: html.HtmlElement, account_key: str) -> list[str]:
    """The page's paragraphs, in page order, that the account holds word for word (folded: boilerplate.fold)."""
    found: list[str] = []
    taken: set[html.HtmlElement] = set()
    body = tree.find("body")
    for element in body.iter(_ACCOUNT_BLOCKS) if body is not None else ():
        if any(a in taken for a in element.iterancestors()):
            continue
        paragraph = _squash(element.text_content())
        if len(paragraph) >= _ACCOUNT_PARAGRAPH_MIN and (key := fold(paragraph)) and key in account_key:
            found.append(paragraph)
            taken.add(element)
    return found


def _words(text: str) -> Counter[str]:
    return Counter(_WORD_RE.findall(text.lower()))


def _covered(paragraphs: list[str], reference: Counter[str]) -> float:
    """The share of the reference's words (with their counts) that the paragraphs hold."""
    found = _words(" ".join(paragraphs))
    return sum((found & reference).values()) / max(1, sum(reference.values()))


def _agreement(paragraphs: list[str], reference: Counter[str]) -> float:
    """Word F1 of the paragraphs against the reference: covering it without holding much else."""
    found = _words(" ".join(paragraphs))
    common = sum((found & reference).values())
    return 2 * common / max(1, sum(found.values()) + sum(reference.values()))


def _gallery(kept: list[str], images: list[Image]) -> bool:
    """Captioned images whose captions are most of the text left: what stays once they are taken out is short."""
    captions = [image.caption for image in images if image.caption]
    if len(captions) < _GALLERY_CAPTIONS:
        return False
    rest = "\n".join(kept)
    for part in (*captions, *(image.credit for image in images if image.credit)):
        rest = rest.replace(part, "")
    letters = len(_LETTERS_RE.findall(rest))
    return letters < min(_GALLERY_TEXT, sum(len(_LETTERS_RE.findall(c)) for c in captions))


def _page_title(tree: html.HtmlElement) -> str:
    return " ".join(tree.xpath("string((//title)[1])").split())


def _htmldate(text: str, fetched: datetime | None) -> str | None:
    """htmldate's publication date, where our own reading found none: dates in other languages' words, URLs, ...

    Measured on 1,413 public pages with a known day (bench/date_accuracy.py): ours alone gives no date on
    227, htmldate on 5. Dates after the fetch are not taken, so that a rebuild reads what the crawl read.
    """
    latest = fetched.date().isoformat() if fetched is not None else None
    return find_date(text, original_date=True, max_date=latest) if latest else find_date(text, original_date=True)


def _dated(text: str) -> bool:
    """Whether htmldate finds a publication date in the page: the judgement of a site without an
    article_pattern, where our own reading (Arabic date lines, machine-readable dates) found none.

    Measured on 1,594 public pages: of the 199 that had neither article metadata nor a date of
    ours, htmldate dates 127 (22 of the 23 news pages among them); an about page has no date.
    """
    return find_date(text, extensive_search=False, original_date=True) is not None


def _utf8_under_another_name(response: HtmlResponse, body: bytes) -> bool:
    """The declared charset is a legacy one, and the bytes are valid UTF-8 with non-ASCII in them.

    A page in windows-1256, GB2312 or ISO-8859-1 with more than a few non-ASCII
    characters is next to never valid UTF-8 by chance; UTF-8 text under such a
    label is.
    """
    if response.encoding.replace("-", "").lower() in ("utf8", "ascii", "usascii") or body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _binary(body: bytes) -> bool:
    head = body[:_BINARY_SAMPLE]
    if head.startswith(_UTF16_BOMS):  # UTF-16 text is full of NULs
        return False
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls > _MAX_CONTROL_RATIO * len(head)


def _parse(text: str, rules: ExtractionRules) -> html.HtmlElement | None:
    """The page's tree, with the site file's drop_selectors removed."""
    tree = _parse_html(text)
    if tree is not None:
        _drop(tree, rules)
    return tree


def _parse_html(text: str) -> html.HtmlElement | None:
    try:
        return html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None


def _drop(tree: html.HtmlElement, rules: ExtractionRules) -> None:
    if rules.drop_selectors:
        # One pass over the tree for all of them: a selector list is their union.
        for element in css_finder(", ".join(rules.drop_selectors))(tree):
            if isinstance(element, html.HtmlElement) and element.getparent() is not None:
                element.drop_tree()


def _generic_body(tree: html.HtmlElement, density: TextDensity, url: str, text: str, rules: ExtractionRules) -> list[str]:
    """trafilatura on the page pruned of boilerplate; plain trafilatura when that lost the main text.

    The first pass keeps trafilatura's structure (no one-blob rescue); when
    its text falls well short of the prose in the page's main container,
    plain trafilatura runs on the unpruned page, and the longer answer wins,
    so the fallback never costs text.
    """
    main_prose = density[density.main].prose if density.main is not None else 0
    prune_boilerplate(tree, density)
    paragraphs = _trafilatura_paragraphs(tree, url, rescue=False)
    if _length(paragraphs) < _GUTTED_SHARE * main_prose and (plain_tree := _parse(text, rules)) is not None:
        paragraphs = max(paragraphs, _trafilatura_paragraphs(plain_tree, url), key=_length)
    return paragraphs


def _length(paragraphs: list[str]) -> int:
    return sum(map(len, paragraphs))


def _selected_body(chosen: list[html.HtmlElement], url: str) -> list[str]:
    """trafilatura on the site file's body_selector elements alone."""
    # Made by the page's parser: the copies moved under it keep its element-class lookup.
    root = _PARSER.makeelement("html")
    body = etree.SubElement(root, "body")
    for element in chosen:
        if not any(a in chosen for a in element.iterancestors()):
            body.append(copy.deepcopy(element))
    prune_boilerplate(root, TextDensity(root, url))
    return _trafilatura_paragraphs(root, url, focus="recall", rescue=False)


def _trafilatura_paragraphs(tree: html.HtmlElement, url: str, focus: str = "balanced", rescue: bool = True) -> list[str]:
    for element in tree.iter():
        # White space alone stays white space: disguised, it would look like text to trafilatura.
        text, tail = element.text, element.tail
        if text and _UNICODE_SPACE_RE.search(text) and not text.isspace():
            element.text = text.translate(_PROTECT)
        if tail and _UNICODE_SPACE_RE.search(tail) and not tail.isspace():
            element.tail = tail.translate(_PROTECT)
    result = trafilatura.bare_extraction(tree, options=_options(url, focus, rescue))
    body = getattr(result, "body", None)
    if body is None:
        return []
    return [p.translate(_RESTORE) if _DISGUISED_RE.search(p) else p for p in _block_texts(body)]


def _options(url: str, focus: str, rescue: bool) -> Extractor:
    """trafilatura's options for one page: a copy of those made once for the focus, with the page's URL.

    Building them reads trafilatura's configuration anew each time, 30 µs a page.
    """
    options = copy.copy(_extractor(focus, rescue))
    # What Extractor(url=url) sets.
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    return options


@cache
def _extractor(focus: str, rescue: bool) -> Extractor:
    return Extractor(
        config=DEFAULT_CONFIG if rescue else _NO_RESCUE,
        # The body tree is what is read here; bare_extraction's default, "python", also flattens it to text.
        output_format="txt",
        precision=focus == "precision",
        recall=focus == "recall",
        comments=False,
        tables=True,
        images=False,
        formatting=False,
        links=False,
        dedup=False,
        with_metadata=False,
    )


def _block_texts(body: etree._Element) -> list[str]:
    """One paragraph per block (p, heading, list item, quote, table cell); <br> splits one.

    Text beside blocks (a paragraph's tail after a heading, words straight in
    the body) makes paragraphs of its own: trafilatura's tree mixes them.
    """
    lines: list[str] = []
    parts: list[str] = []

    def flush() -> None:
        lines.append("".join(parts))
        parts.clear()

    def walk(node: etree._Element) -> None:
        boundary = node.tag in _BLOCKS or node.tag in _BOUNDARIES
        if boundary or node.tag == "lb":
            flush()
        if node.text and node.tag != "lb":
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if boundary:
            flush()

    walk(body)
    flush()
    return [line for line in map(_squash, lines) if line]


def _squash(text: str) -> str:
    # HTML collapses only ASCII white space; a no-break space is the site's text.
    return _HTML_SPACE_RE.sub(" ", text).strip(" \t\n\r\f")
