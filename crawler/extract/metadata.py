"""Headline, publication date, author, language and canonical URL of an article page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from lxml import etree, html

from crawler.extract.arabic_dates import localized, may_hold_hijri, parse_arabic_date, parse_hijri_date, parse_relative_date
from crawler.extract.boilerplate import fold
from crawler.extract.density import TextDensity
from crawler.extract.furniture import in_furniture
from crawler.extract.rules import NO_RULES, ExtractionRules, css_to_xpath

_SHOWN_TITLE_MIN = 10
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " » ")
ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "BlogPosting",
        "Report",
        "ScholarlyArticle",
    }
)
# JSON-LD items read for metadata: articles, and the WebPage some sites put it on.
_DESCRIBED_TYPES = ARTICLE_TYPES | {"WebPage"}
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
_DATE_HINT_RE = re.compile(r"date|time|publish|posted|meta|byline|submitted", re.IGNORECASE)
_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
_LETTER_RE = re.compile(r"[^\W\d_]")
_TAG_RE = re.compile(r"<[^>]{0,500}>")
_NAIVE_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")
# UTC offsets run from -12:00 to +14:00, in quarter hours (Nepal's +05:45).
_MAX_OFFSET = timedelta(hours=14)
_OFFSET_STEP = 900
_RFC2822_RE = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}")


def _line_date(text: str) -> str | None:
    """The date of a visible date line, Gregorian as written or converted from Hijri."""
    if found := parse_arabic_date(text):
        return found
    hijri = parse_hijri_date(text)
    return hijri[0] if hijri else None


def _hijri_as_written(text: str) -> str | None:
    hijri = parse_hijri_date(text)
    return hijri[1] if hijri else None


class PageMetadata:
    """Reads the metadata of a parsed page; each property is one decision."""

    def __init__(
        self,
        tree: html.HtmlElement,
        url: str,
        rules: ExtractionRules = NO_RULES,
        density: TextDensity | None = None,
        fetched: datetime | None = None,
    ) -> None:
        self.tree = tree
        # When the page was fetched, for the dates it gives as a time before ("منذ ٣ ساعات").
        self.fetched = fetched
        self.zone = ZoneInfo(rules.timezone) if rules.timezone else None
        self.url = url
        self.rules = rules
        self.density = density
        self._meta: dict[str, str] = {}
        for el in tree.iter("meta"):
            key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
            if key and el.get("content") and key not in self._meta:
                self._meta[key] = el.get("content").strip()
        self._types: set[str] = set()
        self._jsonld = list(_jsonld_items(tree, self._types))

    @property
    def typed_as_article(self) -> bool:
        """The page says it is an article: JSON-LD article type or og:type article."""
        return bool(self._types & ARTICLE_TYPES) or self._meta.get("og:type", "").lower() == "article"

    @property
    def site_names(self) -> list[str]:
        """What the site calls itself: og:site_name, application-name, the title's suffix."""
        names = [self._meta.get("og:site_name"), self._meta.get("application-name")]
        page_title = _clean(self.tree.xpath("string((//title)[1])"))
        for sep in _TITLE_SEPARATORS:
            head, found, tail = page_title.rpartition(sep)
            if found and head.strip() and tail.strip():
                names.append(tail.strip())
                break
        return [n for n in names if n]

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
        if stripped and (shown := self._shown_part(stripped[0])):
            return shown
        return stripped[0] if stripped else None

    def _shown_part(self, title: str) -> str | None:
        """The part of "Site - Headline" (either order) that the page shows on its own as the headline."""
        for sep in _TITLE_SEPARATORS:
            if sep not in title:
                continue
            for part in title.split(sep):
                part = part.strip()
                if len(part) >= _SHOWN_TITLE_MIN and self.tree.xpath(
                    "//body//*[normalize-space(.)=$part][not(self::a)][not(ancestor::a)]", part=part
                ):
                    return part
        return None

    @property
    def published(self) -> str | None:
        """ISO 8601; a time given without an offset takes the site file's timezone, when it has one."""
        return localized(self._published(), self.zone)

    def _published(self) -> str | None:
        for jd in self._jsonld:
            if found := _iso(jd.get("datePublished")):
                return self._in_local_offset(found)
        for key in _DATE_META:
            if found := _iso(self._meta.get(key.lower())):
                return self._in_local_offset(found)
        for time in self.tree.iter("time"):
            if not in_furniture(time, self.tree) and (found := _iso(time.get("datetime"))):
                return self._in_local_offset(found)
        return self._visible_date()

    def _in_local_offset(self, found: str) -> str:
        """A time in UTC, in the site's own offset where the page also writes the same moment as a local time.

        Many CMSs give datePublished in UTC and show the local time beside it ("2023-12-24T01:06:51+00:00" and
        "2023-12-23 17:06:51"): the difference is the site's offset, and the local day is the article's.
        """
        moment = datetime.fromisoformat(found) if "T" in found else None
        if moment is None or moment.utcoffset() != timedelta(0):
            return found
        utc = moment.replace(tzinfo=None)
        local_times = [*self._meta.values(), *(t.get("datetime") or "" for t in self.tree.iter("time"))]
        for value in local_times:
            local = _naive_time(value)
            if local is None or local == utc:
                continue
            offset = local - utc
            if abs(offset) <= _MAX_OFFSET and offset.total_seconds() % _OFFSET_STEP == 0:
                return moment.astimezone(timezone(offset)).isoformat()
        return found

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
    def free_access(self) -> bool | None:
        """JSON-LD ``isAccessibleForFree`` of the page's article: True, False, or None when it does not say."""
        for jd in self._jsonld:
            value = jd.get("isAccessibleForFree")
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
        return None

    @property
    def article_body(self) -> str | None:
        """The body the page gives its article in JSON-LD (``articleBody``), tags and spacing squashed, if any."""
        for jd in self._jsonld:
            body = jd.get("articleBody")
            if isinstance(body, str) and body.strip():
                return _clean(_TAG_RE.sub(" ", body))
        return None

    @property
    def lead_image(self) -> str | None:
        """The image the page names as its own (og:image, twitter:image), as written."""
        return self._meta.get("og:image") or self._meta.get("twitter:image") or None

    @property
    def canonical_url(self) -> str:
        for href in self.tree.xpath("//link[@rel='canonical']/@href"):
            if href.strip():
                return urljoin(self.url, href.strip())
        if og := self._meta.get("og:url"):
            return urljoin(self.url, og)
        return self.url

    def selector_date(self) -> str | None:
        """The date in the site file's date_selector, if it names an element with one."""
        return self._in_selector(_line_date)

    @property
    def published_hijri(self) -> str | None:
        """The Hijri date of the article's date line, as the page writes it ("١٤ رجب ١٤٤٣ هـ"), if it gives one."""
        if found := self._in_selector(_hijri_as_written):
            return found
        # One pass over the region's text first: most articles name no Hijri month anywhere.
        region = self.article_region()
        if region is None or not may_hold_hijri(region.text_content()):
            return None
        return self._date_line(_hijri_as_written)

    def _visible_date(self) -> str | None:
        """A date line the site wrote for the article: in date_selector, else near the headline or body."""
        if self.fetched is None:
            return self._date_line(_line_date)
        fetched, zone = self.fetched, self.zone or UTC
        return self._date_line(lambda text: _line_date(text) or parse_relative_date(text, fetched, zone))

    def _in_selector(self, read: Callable[[str], str | None]) -> str | None:
        if self.rules.date_selector:
            for el in css_to_xpath(self.rules.date_selector)(self.tree):
                text = el if isinstance(el, str) else _clean(el.get("datetime") or el.text_content())
                # A datetime attribute is ISO 8601: the Gregorian date itself.
                found = (_iso(text) or read(text)) if read is _line_date else read(text)
                if found:
                    return found
        return None

    def _date_line(self, read: Callable[[str], str | None]) -> str | None:
        """What ``read`` finds first in the article's date lines: date_selector, then lines near the headline or body."""
        if found := self._in_selector(read):
            return found
        region = self.article_region()
        if region is None:
            return None
        # Date lines sit in elements named for it ("date", "post-meta") or,
        # on themes that name nothing, in a short line of their own.
        for el in region.iter(etree.Element):
            if _DATE_HINT_RE.search(f"{el.get('class', '')} {el.get('id', '')}") and not in_furniture(el, region):
                text = _clean(el.text_content())
                if len(text) <= 120 and (found := read(text)):
                    return found
        for el in region.iter(etree.Element):
            if el.tag in ("script", "style") or in_furniture(el, region):
                continue
            for text in (el.text, *(c.tail for c in el)):
                text = _clean(text)
                if 6 <= len(text) <= 80 and (found := read(text)):
                    return found
        return None

    def article_region(self) -> html.HtmlElement | None:
        """The smallest element holding both the headline and the main text (the page body if need be)."""
        body = self.tree.find("body")
        if body is None:
            return None
        h1 = next(iter(body.iter("h1")), None)
        main = self.density.main if self.density is not None else None
        if h1 is None or main is None:
            return main if main is not None else body
        main_line = {id(a) for a in main.iterancestors()} | {id(main)}
        for ancestor in (h1, *h1.iterancestors()):
            if id(ancestor) in main_line:
                return ancestor
        return body


def _jsonld_items(tree: html.HtmlElement, seen_types: set[str]) -> Iterator[dict[str, Any]]:
    """JSON-LD items that describe the page; every @type met is added to seen_types."""
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
                types = {t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)}
                seen_types |= types
                if types & _DESCRIBED_TYPES:
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
        # RFC 2822, as feeds write it and some themes copy into <time> and JSON-LD: "Fri, 22 Dec 2023 17:15:49 +0000".
        try:
            return parsedate_to_datetime(value).isoformat() if _RFC2822_RE.match(value) else None
        except (TypeError, ValueError, IndexError):
            return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return parsed.date().isoformat()
    return parsed.isoformat()


def _naive_time(value: str) -> datetime | None:
    """A date and time without an offset ("2023-12-23 17:06:51"), to the second, or None."""
    value = value.strip()
    if not _NAIVE_TIME_RE.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


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
