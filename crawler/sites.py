"""Site files: the TOML description of one news site, and the registry of bundled ones.

A site file is validated whole before the crawler sends anything, so that a
typo in a scheduled job fails loudly at start instead of crawling the wrong
pages for hours.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex
import tldextract

from crawler.extract.rules import ExtractionRules, SelectorError, css_to_xpath
from crawler.urls import URL_MATCH_TIMEOUT, compile_url_pattern, search_url

logger = logging.getLogger(__name__)

# Read through importlib.resources: in a Scrapyd egg the package is a zip, not a folder.
BUNDLED_DIR: Traversable = files("crawler") / "sites"

_DOMAINS = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
# Matched whole (fullmatch): "$" alone would also accept a name ending in a newline.
_NAME_RE = re.compile(r"[a-z0-9_]+")
_REQUIRED = ("name", "allowed_domains", "start_urls")
_OPTIONAL = (
    "article_pattern",
    "sitemap_urls",
    "feed_urls",
    "follow_pattern",
    "max_pages",
    "boilerplate",
    "body_selector",
    "drop_selectors",
    "date_selector",
    "previous_rules",
    "language",
    "timezone",
)
# The extraction rules of a site file, which a redesign changes; previous_rules keeps earlier sets of them.
_EXTRACTION_KEYS = ("boilerplate", "body_selector", "drop_selectors", "date_selector")


class SiteFileError(ValueError):
    """A site file that cannot be used; the message names the file and the key."""

    def __init__(self, path: Path | Traversable | str, key: str | None, problem: str) -> None:
        self.path = str(path)
        self.key = key
        where = f"{self.path}: key '{key}'" if key else self.path
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class DatedRules:
    """Extraction rules that held for the captures made before ``until`` (a [[previous_rules]] table)."""

    until: datetime
    boilerplate: tuple[str, ...] = ()
    body_selector: str | None = None
    drop_selectors: tuple[str, ...] = ()
    date_selector: str | None = None


@dataclass(frozen=True)
class Site:
    name: str
    allowed_domains: tuple[str, ...]
    start_urls: tuple[str, ...]
    # None: the crawl learns the shapes of the site's article URLs (crawler.shapes), and the pages judge themselves.
    article_pattern: re.Pattern[str] | None = None
    sitemap_urls: tuple[str, ...] = ()
    feed_urls: tuple[str, ...] = ()
    follow_pattern: re.Pattern[str] | None = None
    max_pages: int = 0
    boilerplate: tuple[str, ...] = ()
    body_selector: str | None = None
    drop_selectors: tuple[str, ...] = ()
    date_selector: str | None = None
    language: str | None = None  # ISO 639-1: overrides what the pages say of themselves
    timezone: str | None = None  # IANA name: the zone of the local times the pages give without an offset
    # Earliest first: a capture made before one's `until` takes the first such.
    previous_rules: tuple[DatedRules, ...] = ()
    path: str = field(default="", compare=False)
    sha256: str = field(default="", compare=False)  # of the site file's bytes, for the warcinfo
    # URLs whose search was given up (URL_MATCH_TIMEOUT), by key: "article_pattern", "follow_pattern".
    match_timeouts: Counter[str] = field(default_factory=Counter, init=False, repr=False, compare=False)
    # The two patterns again, compiled by the regex module, whose searches can be bounded in
    # time; the re.Pattern fields stay as they were for whoever reads them.
    _article_search: regex.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _follow_search: regex.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        follow = compile_url_pattern(self.follow_pattern) if self.follow_pattern is not None else None
        article = compile_url_pattern(self.article_pattern) if self.article_pattern is not None else None
        object.__setattr__(self, "_article_search", article)
        object.__setattr__(self, "_follow_search", follow)

    @property
    def learns_articles(self) -> bool:
        """No article_pattern: which URLs are articles is learned from the site's pages (crawler.shapes)."""
        return self.article_pattern is None

    @property
    def rules(self) -> ExtractionRules:
        """The site file's current extraction rules, small and picklable for the worker processes."""
        return self._extraction_rules(self)

    def rules_at(self, captured: datetime | str) -> ExtractionRules:
        """The rules that held when a page was captured (a datetime, or its WARC-Date).

        A rebuild reads each capture with the rules of its day, so that captures made
        before a redesign still give the texts their crawl stored.
        """
        try:
            when = _utc(captured)
        except (TypeError, ValueError):  # a capture without a readable WARC-Date: the current rules
            return self.rules
        held = next((r for r in self.previous_rules if when < r.until), None)
        return self._extraction_rules(held) if held is not None else self.rules

    def _extraction_rules(self, source: Site | DatedRules) -> ExtractionRules:
        return ExtractionRules(
            boilerplate=source.boilerplate,
            body_selector=source.body_selector,
            drop_selectors=source.drop_selectors,
            date_selector=source.date_selector,
            article_pattern=self.article_pattern.pattern if self.article_pattern is not None else None,
            judge_articles=self.learns_articles,
            language=self.language,
            timezone=self.timezone,
        )

    def is_article(self, url: str) -> bool:
        """article_pattern is found in the URL; a URL whose search is given up is no article.

        Without an article_pattern any page may be one: it is read, and judged by what it holds.
        """
        if self._article_search is None:
            return True
        return self._search("article_pattern", self._article_search, url)

    def should_follow(self, url: str) -> bool:
        """follow_pattern is found in the URL; a URL whose search is given up is not followed."""
        return self._follow_search is not None and self._search("follow_pattern", self._follow_search, url)

    def _search(self, key: str, pattern: regex.Pattern[str], url: str) -> bool:
        try:
            return search_url(pattern, url)
        except TimeoutError:
            # The pattern backtracks without end on this URL. Taking it as "no match" keeps the
            # crawl (or the rebuild) going; the warning, once per pattern, says what to fix, and
            # match_timeouts counts every URL so taken.
            self.match_timeouts[key] += 1
            if self.match_timeouts[key] == 1:
                logger.warning(
                    "Site %s: %s %r took more than %s s on a URL of %d characters (%.200s); "
                    "such URLs are taken as not matching. The pattern backtracks badly: rewrite it "
                    "without nested repeats such as (a+)+",
                    self.name, key, pattern.pattern, URL_MATCH_TIMEOUT, len(url), url,
                )
            return False

    def owns(self, url: str) -> bool:
        """True when the URL's host is one of allowed_domains or a subdomain of one."""
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)


def bundled_site_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in BUNDLED_DIR.iterdir() if p.name.endswith(".toml"))


def resolve_site_path(name_or_path: str) -> Path | Traversable:
    """A bundled site name, else a path to a TOML file."""
    if _NAME_RE.fullmatch(name_or_path) and (BUNDLED_DIR / f"{name_or_path}.toml").is_file():
        return BUNDLED_DIR / f"{name_or_path}.toml"
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(bundled_site_names())
        raise SiteFileError(
            name_or_path, None, f"no such site file, and not a bundled site (bundled: {known})"
        )
    return path


def site_from_url(url: str) -> Site:
    """A site with no site file: named after its registered domain, the URL its only start URL.

    ``https://www.example.co.uk/news/`` is site ``example_co_uk`` on domain ``example.co.uk``
    (subdomains included); which of its URLs are articles is learned as it is crawled.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteFileError(url, None, "only an http or https URL with a host can be crawled")
    host = parts.hostname.lower().rstrip(".")
    domain = host.removeprefix("www.")
    # The suffix list bundled with tldextract: never fetched.
    registered = _DOMAINS(host).top_domain_under_public_suffix or domain
    name = re.sub(r"[^a-z0-9]+", "_", registered.encode("idna").decode("ascii")).strip("_")
    data = {"name": name or "site", "allowed_domains": [domain], "start_urls": [urlunsplit(parts._replace(fragment=""))]}
    return parse_site(data, f"<{url}>")


def load_site(name_or_path: str) -> Site:
    """A bundled site's name, a site file's path, or a site's address (``site_from_url``)."""
    if name_or_path.startswith(("http://", "https://")):
        return site_from_url(name_or_path)
    path = resolve_site_path(name_or_path)
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SiteFileError(path, None, f"not valid TOML: {e}") from e
    return dataclasses.replace(parse_site(data, path), sha256=hashlib.sha256(raw).hexdigest())


def all_bundled_sites() -> list[Site]:
    return [load_site(name) for name in bundled_site_names()]


def parse_site(data: dict[str, Any], path: Path | Traversable | str = "<site>") -> Site:
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        allowed = ", ".join(_REQUIRED + _OPTIONAL)
        raise SiteFileError(path, unknown[0], f"unknown key (allowed keys: {allowed})")
    for key in _REQUIRED:
        if key not in data:
            raise SiteFileError(path, key, "required key is missing")

    name = _typed(data, "name", str, path)
    if not _NAME_RE.fullmatch(name):
        raise SiteFileError(path, "name", f"{name!r} must match [a-z0-9_]+ (it is used in paths)")
    domains = tuple(d.lower().strip(".") for d in _str_list(data, "allowed_domains", path))
    if not domains or not all(domains):
        raise SiteFileError(path, "allowed_domains", "must list at least one domain")
    for d in domains:
        if "/" in d or ":" in d:
            raise SiteFileError(path, "allowed_domains", f"{d!r} is not a bare domain name")

    site = Site(
        name=name,
        allowed_domains=domains,
        start_urls=_str_list(data, "start_urls", path),
        article_pattern=_regex(data, "article_pattern", path) if "article_pattern" in data else None,
        sitemap_urls=_str_list(data, "sitemap_urls", path),
        feed_urls=_str_list(data, "feed_urls", path),
        follow_pattern=_regex(data, "follow_pattern", path) if "follow_pattern" in data else None,
        max_pages=_typed(data, "max_pages", int, path, default=0),
        boilerplate=_str_list(data, "boilerplate", path),
        body_selector=_selector(data, "body_selector", path),
        drop_selectors=tuple(_checked_css(s, "drop_selectors", path) for s in _str_list(data, "drop_selectors", path)),
        date_selector=_selector(data, "date_selector", path),
        previous_rules=_previous_rules(data, path),
        language=_language(data, path),
        timezone=_timezone(data, path),
        path=str(path),
    )
    if site.max_pages < 0:
        raise SiteFileError(path, "max_pages", "must be 0 (no limit) or a positive number")
    if not (site.start_urls or site.sitemap_urls or site.feed_urls):
        raise SiteFileError(path, "start_urls", "no start, sitemap or feed URL to begin from")
    for key in ("start_urls", "sitemap_urls", "feed_urls"):
        for url in getattr(site, key):
            _check_url(site, key, url, path)
    return site


def _language(data: dict[str, Any], path: Path | Traversable | str) -> str | None:
    language = _typed(data, "language", str, path)
    if language is not None and not re.fullmatch(r"[a-z]{2}", language):
        raise SiteFileError(path, "language", f"{language!r} is not an ISO 639-1 code such as \"ar\"")
    return language


def _timezone(data: dict[str, Any], path: Path | Traversable | str) -> str | None:
    name = _typed(data, "timezone", str, path)
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SiteFileError(path, "timezone", f"{name!r} is not an IANA time zone name such as \"Asia/Damascus\"") from None
    return name


def _previous_rules(data: dict[str, Any], path: Path | Traversable | str) -> tuple[DatedRules, ...]:
    tables = _typed(data, "previous_rules", list, path, default=[])
    found: list[DatedRules] = []
    for n, table in enumerate(tables, 1):
        key = f"previous_rules[{n}]"
        if not isinstance(table, dict):
            raise SiteFileError(path, key, "must be a table ([[previous_rules]])")
        unknown = sorted(set(table) - {"until", *_EXTRACTION_KEYS})
        if unknown:
            raise SiteFileError(path, f"{key}.{unknown[0]}", f"unknown key (allowed: until, {', '.join(_EXTRACTION_KEYS)})")
        until = table.get("until")
        if isinstance(until, date) and not isinstance(until, datetime):
            until = datetime(until.year, until.month, until.day, tzinfo=UTC)
        if not isinstance(until, datetime):
            raise SiteFileError(path, f"{key}.until", "required: a TOML date or date-time (2026-03-01, 2026-03-01T06:00:00Z)")
        found.append(
            DatedRules(
                until=_utc(until),
                boilerplate=_str_list(table, "boilerplate", f"{path}: {key}"),
                body_selector=_selector(table, "body_selector", f"{path}: {key}"),
                drop_selectors=tuple(
                    _checked_css(s, "drop_selectors", f"{path}: {key}") for s in _str_list(table, "drop_selectors", f"{path}: {key}")
                ),
                date_selector=_selector(table, "date_selector", f"{path}: {key}"),
            )
        )
    found.sort(key=lambda r: r.until)
    for a, b in zip(found, found[1:], strict=False):
        if a.until == b.until:
            raise SiteFileError(path, "previous_rules", f"two tables hold until {a.until.isoformat()}")
    return tuple(found)


def _utc(when: datetime | str) -> datetime:
    """A datetime in UTC; a WARC-Date string or a time without a zone is taken as UTC."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _check_url(site: Site, key: str, url: str, path: Path | Traversable | str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise SiteFileError(path, key, f"{url!r}: only http and https URLs can be crawled")
    if not site.owns(url):
        raise SiteFileError(path, key, f"{url!r} is outside allowed_domains {list(site.allowed_domains)}")


def _typed(data: dict[str, Any], key: str, kind: type, path: Path | Traversable | str, default: Any = None) -> Any:
    if key not in data:
        return default
    value = data[key]
    # bool is an int in Python; a site file saying max_pages = true is a mistake.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SiteFileError(path, key, f"must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _str_list(data: dict[str, Any], key: str, path: Path | Traversable | str) -> tuple[str, ...]:
    value = _typed(data, key, list, path, default=[])
    if not all(isinstance(v, str) for v in value):
        raise SiteFileError(path, key, "must be a list of strings")
    return tuple(value)


def _regex(data: dict[str, Any], key: str, path: Path | Traversable | str) -> re.Pattern[str]:
    # Python's re decides what a pattern may say (extraction compiles article_pattern with re
    # too); the regex module, which bounds the searches, must then accept it as well.
    pattern = _typed(data, key, str, path)
    try:
        compiled = re.compile(pattern)
        compile_url_pattern(compiled)
    except (re.error, regex.error) as e:
        raise SiteFileError(path, key, f"bad regular expression {pattern!r}: {e}") from e
    return compiled


def _selector(data: dict[str, Any], key: str, path: Path | Traversable | str) -> str | None:
    if key not in data:
        return None
    return _checked_css(_typed(data, key, str, path), key, path)


def _checked_css(selector: str, key: str, path: Path | Traversable | str) -> str:
    try:
        css_to_xpath(selector)
    except SelectorError as e:
        raise SiteFileError(path, key, f"bad CSS selector {selector!r}: {e}") from e
    return selector
