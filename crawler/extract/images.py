"""The article's images as data: where each one is, its caption and its credit.

Captions and photo credits are not body text (the contract: captions of the
lead image never survive), but they are worth keeping: they go to the
manifest key ``images``, a list of ``{"src", "caption", "credit"}`` in page
order, as Fundus keeps them. The caption texts found here are also what the
paragraph filter drops from the body (crawler.extract.boilerplate).

Only the article's own images count: those in the region that holds its
headline and main text, outside menus and sidebars, and not thumbnails that
link to other pages (a "read also" list).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from lxml import etree, html

from crawler.extract.furniture import in_furniture

# Attributes lazy-loading themes keep the real address in, before src (often a placeholder).
_SOURCE_ATTRIBUTES = ("data-src", "data-lazy-src", "data-original", "data-full-url", "src")
# An image shown smaller than this (by its own width or height attribute) is an icon or a pixel.
_ICON_PIXELS = 60
_IMAGE_LINK_RE = re.compile(r"\.(jpe?g|png|webp|gif|avif)(\?|#|$)", re.IGNORECASE)
_CAPTION_CLASS_RE = re.compile(r"caption|legend|image-desc|img-desc|photo-desc", re.IGNORECASE)
_CREDIT_CLASS_RE = re.compile(r"credit|copyright|photographer|image-source|img-source|photo-source", re.IGNORECASE)
_CAPTION_MAX = 300

AGENCIES = (
    "متابعات|وكالات|خاص|رويترز|فرانس برس|أ ف ب|أ\\.ف\\.ب|الأناضول|سانا|د ب أ|أسوشيتد برس|"
    "AFP|Reuters|AP|DPA|Getty|EPA|أرشيف|إنترنت|انترنت|مواقع التواصل|وسائل التواصل"
)
# "... - AFP", "... (رويترز)": a caption that ends with its credit.
TRAILING_CREDIT_RE = re.compile(rf"(?:\s[-–—]\s*|\()\s*(?P<credit>{AGENCIES})\)?\s*$")
# "تصوير: فلان", "مصدر الصورة: ...", "Photo: ...": a credit line, or a caption's last part.
LABELLED_CREDIT_RE = re.compile(
    r"(?:^|[\s(|/–—-])\s*(?:تصوير|عدسة|مصدر الصورة|الصورة|Photo|Image|Credit|Photograph)\s*[:：]\s*(?P<credit>[^()|\n]{2,80}?)\s*\)?\s*$",
    re.IGNORECASE,
)
# A short line the page marks as a caption of its own: "(صورة أرشيفية)", "(أرشيفية)".
ARCHIVE_MARK_RE = re.compile(r"\(\s*(?:صورة|صور)?\s*(?:أرشيفية|ارشيفية|أرشيف|ارشيف)\s*\)\s*$")


@dataclass(frozen=True)
class Image:
    src: str
    caption: str | None
    credit: str | None

    def as_entry(self) -> dict[str, Any]:
        return {"src": self.src, "caption": self.caption, "credit": self.credit}


def split_credit(text: str) -> tuple[str | None, str | None]:
    """A caption line as (caption, credit): "عائلات نازحة - رويترز" gives ("عائلات نازحة", "رويترز")."""
    text = _clean(text)
    for pattern in (LABELLED_CREDIT_RE, TRAILING_CREDIT_RE):
        if m := pattern.search(text):
            caption = text[: m.start()].strip(" -–—|/(")
            return caption or None, m["credit"].strip()
    return text or None, None


def is_caption_line(text: str) -> bool:
    """A short line that says it is a caption or a credit by its own words."""
    text = _clean(text)
    if not text or len(text) > _CAPTION_MAX:
        return False
    return bool(ARCHIVE_MARK_RE.search(text) or LABELLED_CREDIT_RE.search(text))


def article_images(region: html.HtmlElement | None, base_url: str, lead: str | None = None) -> list[Image]:
    """The images of the article region in page order; the page's lead image (og:image) when the region shows none."""
    found: list[Image] = []
    seen: set[str] = set()
    if region is not None:
        for img in region.iter("img"):
            src = _source(img, base_url)
            if src is None or src in seen or _teaser(img, src, base_url) or in_furniture(img, region):
                continue
            seen.add(src)
            found.append(_described(img, src))
    if not found and lead:
        found.append(Image(urljoin(base_url, lead.strip()), None, None))
    return found


def _source(img: html.HtmlElement, base_url: str) -> str | None:
    for size in (img.get("width"), img.get("height")):
        if size and size.strip().isdigit() and int(size) < _ICON_PIXELS:
            return None
    for attribute in _SOURCE_ATTRIBUTES:
        value = (img.get(attribute) or "").strip()
        if value and not value.startswith("data:"):
            return urljoin(base_url, value)
    srcset = (img.get("srcset") or img.get("data-srcset") or "").strip()
    if srcset and not srcset.startswith("data:"):
        return urljoin(base_url, srcset.split(",")[0].split()[0])
    return None


def _teaser(img: html.HtmlElement, src: str, base_url: str) -> bool:
    """A thumbnail that links to another page (a related story), not to a larger copy of itself."""
    link = next((a for a in img.iterancestors("a") if a.get("href")), None)
    if link is None:
        return False
    target = urljoin(base_url, link.get("href").strip())
    return target != src and not _IMAGE_LINK_RE.search(target)


def _described(img: html.HtmlElement, src: str) -> Image:
    figure = next(img.iterancestors("figure"), None)
    holder = figure if figure is not None else _caption_holder(img)
    if holder is None:
        line = _caption_after(img)
        caption, credit = split_credit(line) if line else (None, None)
        return Image(src, caption, credit)
    credit_el = _first(holder, _CREDIT_CLASS_RE, img)
    credit = _clean(credit_el.text_content()) if credit_el is not None else None
    caption_el = holder.find(".//figcaption") if figure is not None else None
    if caption_el is None:
        caption_el = _first(holder, _CAPTION_CLASS_RE, img)
    caption_text = _text_without(caption_el, credit_el) if caption_el is not None else ""
    caption, found_credit = split_credit(caption_text) if caption_text else (None, None)
    return Image(src, caption, credit or found_credit)


def _caption_holder(img: html.HtmlElement) -> html.HtmlElement | None:
    """A theme's caption box around the image ("wp-caption"), up to two levels up, holding no other image."""
    for ancestor in list(img.iterancestors())[:2]:
        if sum(1 for _ in ancestor.iter("img")) > 1:
            return None
        if _first(ancestor, _CAPTION_CLASS_RE, img) is not None:
            return ancestor
    return None


def _caption_after(img: html.HtmlElement) -> str | None:
    """A caption line written right after the image (or its wrapping paragraph), marked as one by its words."""
    anchor: html.HtmlElement = img
    while anchor.getparent() is not None and anchor.getnext() is None and not (anchor.tail or "").strip():
        parent = anchor.getparent()
        if parent.tag not in ("p", "div", "span", "a", "picture"):
            break
        anchor = parent
    tail = _clean(anchor.tail)
    if tail:
        return tail if is_caption_line(tail) else None
    following = anchor.getnext()
    if following is None or not isinstance(following.tag, str) or following.find(".//img") is not None:
        return None
    text = _clean(following.text_content())
    return text if is_caption_line(text) else None


def _first(holder: html.HtmlElement, class_re: re.Pattern[str], img: html.HtmlElement) -> html.HtmlElement | None:
    for el in holder.iter(etree.Element):
        if el is img or el is holder:
            continue
        if class_re.search(el.get("class", "") or "") and img not in el.iter("img") and _clean(el.text_content()):
            return el
    return None


def _text_without(element: html.HtmlElement, part: html.HtmlElement | None) -> str:
    if part is None or element is part or part not in element.iter(etree.Element):
        return _clean(element.text_content())
    whole, inner = _clean(element.text_content()), _clean(part.text_content())
    return _clean(whole.replace(inner, " ")) if inner else whole


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())
