"""What Arabic news pages wrap around an article, and how to recognise it.

Two layers: containers pruned from the HTML before trafilatura looks at it
(class and id words that CMS themes give their share bars, related lists,
captions ...), and paragraph rules for what still gets through as text.
A paragraph rule drops whole paragraphs only; it never edits one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from lxml import html

from crawler.arabic_dates import parse_arabic_date

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
# Never pruned by class: WordPress puts "tag-<slug>" and "category-<slug>"
# on the <article> itself, and a tag can be any word.
_UNPRUNABLE = ("html", "body", "article", "main")
PRUNED_TAGS = ("nav", "aside", "footer", "form", "figcaption", "button", "select", "noscript", "iframe", "video", "audio")

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
_AGENCIES = (
    "متابعات|وكالات|خاص|رويترز|فرانس برس|أ ف ب|أ\\.ف\\.ب|الأناضول|سانا|د ب أ|أسوشيتد برس|"
    "AFP|Reuters|AP|DPA|Getty|أرشيف|إنترنت|انترنت|مواقع التواصل|وسائل التواصل"
)
# "إسطنبول - متابعات": a place, a dash, an agency tag, and nothing else.
_DATELINE_RE = re.compile(rf"^[\w\s]{{2,30}}\s*[-–—/]\s*({_AGENCIES})\s*$")
# A lead-image caption ends with its credit: "... - AFP", "... (رويترز)".
_CAPTION_CREDIT_RE = re.compile(rf"(\s[-–—]\s*|\()({_AGENCIES})\)?\s*$")
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
    text = text.translate(str.maketrans("أإآ", "ااا"))
    return _PUNCT_RE.sub(" ", text).strip()


_PREFIX_KEYS = tuple(fold(p) for p in _PREFIXES)
_EXACT_KEYS = frozenset(fold(p) for p in _EXACT)


def is_container_boilerplate(element: html.HtmlElement) -> bool:
    if element.tag in PRUNED_TAGS:
        return True
    if element.tag in _UNPRUNABLE:
        return False
    names = f"{element.get('class', '')} {element.get('id', '')}".lower().split()
    return any(
        name in CONTAINER_NAMES or any(w in CONTAINER_WORDS for w in re.split(r"[-_]", name)) for name in names
    )


class ParagraphFilter:
    """Decides, paragraph by paragraph, what is body text."""

    def __init__(self, site_phrases: Iterable[str] = (), captions: Iterable[str] = (), title: str | None = None) -> None:
        self.site_keys = tuple(k for k in (fold(p) for p in site_phrases) if k)
        self.caption_keys = frozenset(k for k in (fold(c) for c in captions) if k)
        self.title_key = fold(title) if title else None

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
        if len(paragraph) <= _CAPTION_MAX and _CAPTION_CREDIT_RE.search(paragraph):
            return "caption"
        if _IMAGE_FILE_RE.match(paragraph.strip()):
            return "image_file"
        if _COMMENT_COUNT_RE.match(key):
            return "comment_count"
        if len(paragraph) <= _DATE_LINE_MAX and parse_arabic_date(paragraph) and not _looks_like_sentence(paragraph):
            return "date_line"
        return None


def _looks_like_sentence(text: str) -> bool:
    words = re.findall(r"[^\W\d_]{3,}", text)
    return len(words) >= 6
