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
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import regex

from crawler.extract.rules import ExtractionRules, SelectorError, css_to_xpath
from crawler.urls import URL_MATCH_TIMEOUT, compile_url_pattern, search_url

logger = logging.getLogger(__name__)

# Read through importlib.resources: in a Scrapyd egg the package is a zip, not a folder.
BUNDLED_DIR: Traversable = files("crawler") / "sites"

# Matched whole (fullmatch): "$" alone would also accept a name ending in a newline.
_NAME_RE = re.compile(r"[a-z0-9_]+")
_REQUIRED = ("name", "allowed_domains", "start_urls", "article_pattern")
_OPTIONAL = (
    "sitemap_urls",
    "feed_urls",
    "follow_pattern",
    "max_pages",
    "boilerplate",
    "body_selector",
    "drop_selectors",
    "date_selector",
)


class SiteFileError(ValueError):
    """A site file that cannot be used; the message names the file and the key."""

    def __init__(self, path: Path | Traversable | str, key: str | None, problem: str) -> None:
        self.path = str(path)
        self.key = key
        where = f"{self.path}: key '{key}'" if key else self.path
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Site:
    name: str
    allowed_domains: tuple[str, ...]
    start_urls: tuple[str, ...]
    article_pattern: re.Pattern[str]
    sitemap_urls: tuple[str, ...] = ()
    feed_urls: tuple[str, ...] = ()
    follow_pattern: re.Pattern[str] | None = None
    max_pages: int = 0
    boilerplate: tuple[str, ...] = ()
    body_selector: str | None = None
    drop_selectors: tuple[str, ...] = ()
    date_selector: str | None = None
    path: str = field(default="", compare=False)
    sha256: str = field(default="", compare=False)  # of the site file's bytes, for the warcinfo
    # URLs whose search was given up (URL_MATCH_TIMEOUT), by key: "article_pattern", "follow_pattern".
    match_timeouts: Counter[str] = field(default_factory=Counter, init=False, repr=False, compare=False)
    # The two patterns again, compiled by the regex module, whose searches can be bounded in
    # time; the re.Pattern fields stay as they were for whoever reads them.
    _article_search: regex.Pattern[str] = field(init=False, repr=False, compare=False)
    _follow_search: regex.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        follow = compile_url_pattern(self.follow_pattern) if self.follow_pattern is not None else None
        object.__setattr__(self, "_article_search", compile_url_pattern(self.article_pattern))
        object.__setattr__(self, "_follow_search", follow)

    @property
    def rules(self) -> ExtractionRules:
        """What extraction needs of this site, small and picklable for the worker processes."""
        return ExtractionRules(
            boilerplate=self.boilerplate,
            body_selector=self.body_selector,
            drop_selectors=self.drop_selectors,
            date_selector=self.date_selector,
            article_pattern=self.article_pattern.pattern,
        )

    def is_article(self, url: str) -> bool:
        """article_pattern is found in the URL; a URL whose search is given up is no article."""
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


def load_site(name_or_path: str) -> Site:
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
        article_pattern=_regex(data, "article_pattern", path),
        sitemap_urls=_str_list(data, "sitemap_urls", path),
        feed_urls=_str_list(data, "feed_urls", path),
        follow_pattern=_regex(data, "follow_pattern", path) if "follow_pattern" in data else None,
        max_pages=_typed(data, "max_pages", int, path, default=0),
        boilerplate=_str_list(data, "boilerplate", path),
        body_selector=_selector(data, "body_selector", path),
        drop_selectors=tuple(_checked_css(s, "drop_selectors", path) for s in _str_list(data, "drop_selectors", path)),
        date_selector=_selector(data, "date_selector", path),
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
