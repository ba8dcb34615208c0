"""Headline, publication date, author, language and canonical URL of an article page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml import html

from crawler.arabic_dates import parse_arabic_date
from crawler.boilerplate import fold

_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " » ")
_ARTICLE_TYPES = {"Article", "NewsArticle", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle", "WebPage"}
_DATE_META = (
    "article:published_time",
    "og:published_time",
    "datePublished",
    "date",
    "pubdate",
    "publish-date",
    "publishdate",
    "parsely-pub-date",
    "dc.date",
    "dc.date.issued",
    "sailthru.date",
)
# Not people: agency and desk tags that sites put where a byline goes.
_NOT_AUTHORS = {
    fold(a)
    for a in (
        "متابعات",
        "وكالات",
        "خاص",
        "رويترز",
        "فرانس برس",
        "أ ف ب",
        "الأناضول",
        "سانا",
        "فريق التحرير",
        "التحرير",
        "المحرر",
        "هيئة التحرير",
        "admin",
        "editor",
        "AFP",
        "Reuters",
    )
}
_BYLINE_PREFIX_RE = re.compile(r"^(بقلم|كتب|كتبت|إعداد|اعداد|تقرير|By)\s*[:：]?\s*", re.IGNORECASE)
_DATE_HINT_RE = re.compile(r"date|time|publish|posted|meta|byline", re.IGNORECASE)
_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
_LETTER_RE = re.compile(r"[^\W\d_]")


class PageMetadata:
    """Reads the metadata of a parsed page; each property is one decision."""

    def __init__(self, tree: html.HtmlElement, url: str) -> None:
        self.tree = tree
        self.url = url
        self._meta: dict[str, str] = {}
        for el in tree.iter("meta"):
            key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
            if key and el.get("content") and key not in self._meta:
                self._meta[key] = el.get("content").strip()
        self._jsonld = list(_jsonld_articles(tree))

    @property
    def title(self) -> str | None:
        site_name = self._meta.get("og:site_name") or self._meta.get("application-name")
        h1 = _clean(self.tree.xpath("string((//h1)[1])"))
        candidates = [self._meta.get("og:title"), self._meta.get("twitter:title"), h1 or None]
        candidates.append(_clean(self.tree.xpath("string((//title)[1])")) or None)
        for jd in self._jsonld:
            candidates.insert(0, jd.get("headline") if isinstance(jd.get("headline"), str) else None)
        stripped = [_strip_site_name(_clean(c), site_name) for c in candidates if c and _clean(c)]
        if h1 and any(s == h1 for s in stripped):
            return h1
        return stripped[0] if stripped else None

    @property
    def published(self) -> str | None:
        for jd in self._jsonld:
            if found := _iso(jd.get("datePublished")):
                return found
        for key in _DATE_META:
            if found := _iso(self._meta.get(key.lower())):
                return found
        for value in self.tree.xpath("//time/@datetime"):
            if found := _iso(value):
                return found
        return self._visible_date()

    @property
    def author(self) -> str | None:
        candidates: list[Any] = []
        for jd in self._jsonld:
            authors = jd.get("author")
            for a in authors if isinstance(authors, list) else [authors]:
                candidates.append(a.get("name") if isinstance(a, dict) else a)
        candidates += [self._meta.get("author"), self._meta.get("article:author"), self._meta.get("parsely-author")]
        candidates += self.tree.xpath("//*[@rel='author']//text()")
        for c in candidates:
            if not isinstance(c, str):
                continue
            name = _BYLINE_PREFIX_RE.sub("", _clean(c))
            if name and "://" not in name and fold(name) not in _NOT_AUTHORS and len(name) <= 80:
                return name
        return None

    @property
    def language(self) -> str | None:
        lang = self.tree.get("lang") or self._meta.get("content-language") or self._meta.get("og:locale") or ""
        lang = re.split(r"[-_]", lang.strip().lower())[0]
        if re.fullmatch(r"[a-z]{2}", lang):
            return lang
        text = self.tree.xpath("string(//body)")
        letters = _LETTER_RE.findall(text)
        if letters and len(_ARABIC_RE.findall(text)) / len(letters) > 0.5:
            return "ar"
        return None

    @property
    def canonical_url(self) -> str:
        for href in self.tree.xpath("//link[@rel='canonical']/@href"):
            if href.strip():
                return urljoin(self.url, href.strip())
        if og := self._meta.get("og:url"):
            return urljoin(self.url, og)
        return self.url

    def _visible_date(self) -> str | None:
        # Date lines sit in elements named for it ("date", "post-meta") or,
        # on themes that name nothing, in a short line near the headline.
        hinted = self.tree.xpath("//body//*[@class or @id]")
        for el in hinted:
            if _DATE_HINT_RE.search(f"{el.get('class', '')} {el.get('id', '')}"):
                text = _clean(el.text_content())
                if len(text) <= 120 and (found := parse_arabic_date(text)):
                    return found
        for text in self.tree.xpath("//body//text()"):
            text = _clean(text)
            if 6 <= len(text) <= 80 and (found := parse_arabic_date(text)):
                return found
        return None


def _jsonld_articles(tree: html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                types = item.get("@type")
                types = set(types) if isinstance(types, list) else {types}
                if types & _ARTICLE_TYPES:
                    yield item
                if "@graph" in item:
                    stack.extend(item["@graph"] if isinstance(item["@graph"], list) else [item["@graph"]])


def _iso(value: Any) -> str | None:
    """A machine-readable date as ISO 8601: a date, or a datetime with its offset when given."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return parsed.date().isoformat()
    return parsed.isoformat()


def _strip_site_name(title: str, site_name: str | None) -> str:
    for sep in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(sep)
        if not found or not head.strip():
            continue
        if site_name and fold(tail) == fold(site_name):
            return head.strip()
        if site_name is None and sep == " | ":
            return head.strip()
    return title


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()
