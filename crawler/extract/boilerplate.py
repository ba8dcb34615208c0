"""What Arabic news pages wrap around an article, and how to recognise it.

Two layers: containers pruned from the HTML before trafilatura looks at it
(class and id words that CMS themes give their share bars, related lists,
captions ...; blocks that are all links), and paragraph rules for what
still gets through as text. A container goes only when it is small or
link-heavy and does not hold the page's main text; a paragraph rule drops
whole paragraphs only, never edits one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from lxml import etree, html

from crawler.extract.arabic_dates import is_relative_date_line, parse_arabic_date
from crawler.extract.density import TextDensity
from crawler.extract.images import AGENCIES, TRAILING_CREDIT_RE, is_caption_line

# Containers that never hold article body text on the sites we know. Words
# match inside compound class names ("td-post-sharing" has "sharing");
# names match only whole ("date", not "update-box").
CONTAINER_WORDS = frozenset(
    """
    share sharing sharer social socials related relatedposts yarpp tags tagcloud comments
    respond newsletter subscribe subscription resizer breadcrumb breadcrumbs caption
    figcaption sidebar widget widgets ticker advert advertisement ads sponsored trending
    byline pagination pager author source
    """.split()
)
CONTAINER_NAMES = frozenset(
    """
    tag comment date time meta live menu nav navbar navigation footer print follow latest
    popular most-read font-size fontsize text-size entry-meta post-meta author-box
    """.split()
)
_UNPRUNABLE = ("html", "body")
PRUNED_TAGS = ("nav", "aside", "footer", "figcaption", "button", "select", "noscript", "iframe", "video", "audio")
# A container named for boilerplate goes only when it is small next to the
# page's prose, or mostly links and not the bulk of it. Class names lie:
# "without-sidebar", "comments-enabled", "print-area" and ASP.NET's
# page-wide <form> wrap whole articles.
_SMALL_SHARE = 0.15
_LINKY_SHARE = 0.4
_LINKY_DENSITY = 0.5
# Prose below which a named container inside the main one is a bar or a widget.
_INSIDE_PROSE = 100
# A block of links to other pages of the site ("المزيد من الأخبار", "اقرأ
# أيضا" lists). Links to other sites are not counted: a shopping guide's
# list of offers is its text.
_LINK_BLOCK_TAGS = ("ul", "ol", "dl", "div", "section", "p", "table", "nav")
_LINK_BLOCK_DENSITY = 0.8
_LINK_BLOCK_HEADINGS = frozenset({"h2", "h3", "h4", "h5", "h6", "p", "div", "strong", "span", "b"})
_HEADING_MAX = 40

# Paragraphs that start like this are link lines, bars or boxes, whatever follows.
_PREFIXES = (
    "اقرأ أيضا",
    "اقرأ ايضا",
    "إقرأ أيضا",
    "اقرأ المزيد",
    "شاهد أيضا",
    "شارك المقال",
    "شارك الخبر",
    "شارك على",
    "شارك هذا",
    "مقالات ذات صلة",
    "أخبار ذات صلة",
    "مواضيع ذات صلة",
    "قد يهمك أيضا",
    "تابعونا على",
    "تابعنا على",
    "اشترك في النشرة",
    "اشترك في نشرتنا",
    "أضف تعليقك",
    "اترك تعليقا",
    "اترك ردا",
    "الوسوم",
    "الكلمات المفتاحية",
    "المزيد من الأخبار",
    "مزيد من الأخبار",
    "جميع الحقوق محفوظة",
    "حقوق النشر محفوظة",
    "©",
)
# Paragraphs that are exactly one of these (punctuation and spacing aside).
_EXACT = frozenset(
    {
        "آخر الأخبار",
        "أخر الأخبار",
        "الأكثر قراءة",
        "الأكثر مشاهدة",
        "التغطية الحية",
        "تغطية حية",
        "مباشر",
        "عاجل",
        "حجم الخط",
        "A",
        "icon",
        "التعليقات",
        "تعليقات",
        "طباعة",
        "فيسبوك",
        "تويتر",
        "واتساب",
        "تلغرام",
        "تيليغرام",
        "لينكدإن",
        "متابعات",
        "وكالات",
        "خاص",
    }
)
# "إسطنبول - متابعات": a place, a dash, an agency tag, and nothing else.
_DATELINE_RE = re.compile(rf"^[\w\s]{{2,30}}\s*[-–—/]\s*({AGENCIES})\s*$")
# The head of a body: where datelines and bylines stand.
_HEAD_LINES = 3
_SITE_WORD_MIN = 4
_SITE_DATELINE_RE = re.compile(r"^(?P<place>[^\W\d_][\w\s]{1,29})\s[-–—/]\s*(?P<source>[\w\s]{2,30})$")
_BYLINE_RE = re.compile(r"^(?:(?:كتب|كتبت|إعداد|اعداد|تقرير|بقلم)\s*[:：]|بقلم\s)\s*(?P<name>.+)$")
_BYLINE_NAME_MAX = 40
_SENTENCE_PUNCT_RE = re.compile(r"[.،؛؟!?:]")
_IMAGE_FILE_RE = re.compile(r"^\S+\.(jpe?g|png|webp|gif|avif)$", re.IGNORECASE)
_COMMENT_COUNT_RE = re.compile(r"^(التعليقات|تعليقات|تعليق)\s*\(?\s*[\d٠-٩]*\s*\)?$|^[\d٠-٩]+\s*(تعليق|تعليقات)$")
_CAPTION_MAX = 220
_DATE_LINE_MAX = 60

_HARAKAT_RE = re.compile("[\u064b-\u0652\u0640]")
_PUNCT_RE = re.compile(r"[\s:：،,.\-–—|+()\[\]«»\"“”'!؟?]+")


def fold(text: str) -> str:
    """A matching key: no harakat or tatweel, alef variants and teh marbuta folded, no punctuation."""
    text = unicodedata.normalize("NFC", text)
    text = _HARAKAT_RE.sub("", text)
    # Three replaces, not str.translate, which looks every character up in a table: twice the time of the rest.
    text = text.replace("أ", "ا").replace("إ", "ا").replace("آ", "ا")
    return _PUNCT_RE.sub(" ", text).strip()


_PREFIX_KEYS = tuple(fold(p) for p in _PREFIXES)
_EXACT_KEYS = frozenset(fold(p) for p in _EXACT)


def named_as_boilerplate(element: html.HtmlElement) -> bool:
    if element.tag in PRUNED_TAGS:
        return True
    if element.tag in _UNPRUNABLE:
        return False
    names = f"{element.get('class', '')} {element.get('id', '')}".lower().split()
    return any(
        name in CONTAINER_NAMES or any(w in CONTAINER_WORDS for w in re.split(r"[-_]", name)) for name in names
    )


def prune_boilerplate(tree: html.HtmlElement, density: TextDensity) -> int:
    """Drop containers named for boilerplate and blocks of links; never one that holds the main text."""
    doomed: list[html.HtmlElement] = []
    for element in tree.iter(etree.Element):
        if element.getparent() is None or density.holds_main_text(element):
            continue
        counts = density[element]
        if named_as_boilerplate(element):
            share = density.share(element)
            if density.inside_main(element):
                # Inside the article's own container a widget with prose of
                # its own (a product box of a buying guide) is text.
                if element.tag in PRUNED_TAGS or counts.link_density > _LINKY_DENSITY or counts.prose < _INSIDE_PROSE:
                    doomed.append(element)
            elif share < _SMALL_SHARE or (counts.link_density > _LINKY_DENSITY and share < _LINKY_SHARE):
                doomed.append(element)
        elif (
            element.tag in _LINK_BLOCK_TAGS
            and counts.site_anchors >= 2
            and counts.site_link_density >= _LINK_BLOCK_DENSITY
        ):
            doomed.append(element)
            if (heading := _heading_before(element, density)) is not None:
                doomed.append(heading)
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()
    return len(doomed)


def _heading_before(element: html.HtmlElement, density: TextDensity) -> html.HtmlElement | None:
    """The short title line of a link block ("المزيد من الأخبار"), when it sits right before it."""
    previous = element.getprevious()
    if previous is None or not isinstance(previous.tag, str) or previous.tag not in _LINK_BLOCK_HEADINGS:
        return None
    if (previous.tail or "").strip() or density[previous].anchors or density.holds_main_text(previous):
        return None
    text = previous.text_content().strip()
    if not text or len(text) > _HEADING_MAX or text[-1] in ".؟?!":
        return None
    return previous


class ParagraphFilter:
    """Decides, paragraph by paragraph, what is body text."""

    def __init__(
        self,
        site_phrases: Iterable[str] = (),
        captions: Iterable[str] = (),
        title: str | None = None,
        site_names: Iterable[str] = (),
    ) -> None:
        self.site_keys = tuple(k for k in (fold(p) for p in site_phrases) if k)
        self.caption_keys = frozenset(k for k in (fold(c) for c in captions) if k)
        self.title_key = fold(title) if title else None
        self.site_words = frozenset(w for name in site_names for w in fold(name).split() if len(w) >= _SITE_WORD_MIN)

    def apply(self, paragraphs: Iterable[str]) -> tuple[list[str], str | None]:
        """The body paragraphs, and the author named by a byline at the head of the body."""
        kept: list[str] = []
        byline: str | None = None
        for position, paragraph in enumerate(paragraphs):
            if position < _HEAD_LINES:
                if self.is_site_dateline(paragraph):
                    continue
                if name := byline_name(paragraph):
                    byline = byline or name
                    continue
            if self.reason_to_drop(paragraph) is None:
                kept.append(paragraph)
        return kept, byline

    def is_site_dateline(self, paragraph: str) -> bool:
        """"القامشلي – صوت الاتحاد": a place, a dash, and the site's own name."""
        m = _SITE_DATELINE_RE.match(paragraph.strip())
        return bool(m and self.site_words & set(fold(m["source"]).split()))

    def reason_to_drop(self, paragraph: str) -> str | None:
        key = fold(paragraph)
        if not key:
            return "empty"
        if key in _EXACT_KEYS or (len(key) <= 3 and key.upper() in {"A", "A A"}):
            return "widget"
        if key.startswith(_PREFIX_KEYS):
            return "link_line"
        for site_key in self.site_keys:
            # A site phrase drops its own line, or a short line it begins.
            if key == site_key or (key.startswith(site_key) and len(key) < len(site_key) + 40):
                return "site_phrase"
        if key in self.caption_keys:
            return "caption"
        if self.title_key and key == self.title_key:
            return "title"
        if _DATELINE_RE.match(paragraph.strip()):
            return "dateline"
        if len(paragraph) <= _CAPTION_MAX and (TRAILING_CREDIT_RE.search(paragraph) or is_caption_line(paragraph)):
            return "caption"
        if _IMAGE_FILE_RE.match(paragraph.strip()):
            return "image_file"
        if _COMMENT_COUNT_RE.match(key):
            return "comment_count"
        if len(paragraph) <= _DATE_LINE_MAX and (
            (parse_arabic_date(paragraph) and not _looks_like_sentence(paragraph)) or is_relative_date_line(paragraph)
        ):
            return "date_line"
        return None


def byline_name(paragraph: str) -> str | None:
    """The name in a byline line ("كتب: فلان", "بقلم فلان"), or None."""
    m = _BYLINE_RE.match(paragraph.strip())
    if m is None:
        return None
    name = m["name"].strip()
    if not name or len(name) > _BYLINE_NAME_MAX or len(name.split()) > 5 or _SENTENCE_PUNCT_RE.search(name):
        return None
    return name


def _looks_like_sentence(text: str) -> bool:
    words = re.findall(r"[^\W\d_]{3,}", text)
    return len(words) >= 6
