"""What workers write to the shared Redis, and the checks on what they read back: data only, never code.

Anyone who can write to a shared crawl's Redis (a server left open on a lab
network, another project on the same server, one compromised machine) can
put entries in it. scrapy-redis keeps requests as pickles, and unpickling
runs whatever the pickle names. Here a request is a small JSON object that
holds only what a crawl needs to carry from one worker to another (URL,
callback and errback by name, priority, the validators of a conditional
request, the redirect and retry counters), and every entry read back is
checked before use: its size before it is decoded, then its shape, its
URL (on the site: ``Site.owns``) and its callback (one the spider
names in ``request_callbacks``). An entry that fails is refused
(``RedisLink.refuse``: one WARNING with its key, ``redis/refused``), and
removed; the crawl goes on.

Everything else a request had is left out on purpose, and put back by
Scrapy's middlewares when the request is downloaded: User-Agent, Accept and
the other default headers, cookies, a proxy, the download slot, timeouts.
A stranger's entry can therefore not send a worker through a proxy of
theirs, with headers of theirs, or off the site.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from scrapy import Request, Spider

FORMAT = 1
# Far above any request of ours (a few hundred bytes; a redirect chain of 20 long URLs is ~40 KB).
MAX_URL = 8192
MAX_REDIRECTS = 50
# Headers a request carries from one worker to another: the validators of a conditional request
# (spiders.news), and the Referer a redirect keeps. Anything else is the downloader's to add.
HEADERS = frozenset({"If-None-Match", "If-Modified-Since", "Referer"})
MAX_HEADER = 4096
# Scrapy's own counters in meta (depth, redirect, retry middlewares), and the status list of a conditional request.
_SCRAPY_COUNTS = frozenset({"depth", "redirect_times", "redirect_ttl", "retry_times"})
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Refused(ValueError):
    """An entry read from Redis that is not one a worker of this crawl wrote."""


class Unqueueable(ValueError):
    """A request that does not fit the shared queue's format (a URL or redirect chain past its bounds)."""


_FIELDS = frozenset({"v", "url", "callback", "errback", "priority", "dont_filter", "headers", "meta"})


class RequestCodec:
    """Requests as JSON for the shared queue, and back, for one spider.

    Writing and reading make the same checks (``_checked``): what one worker
    writes, every other reads back.
    """

    def __init__(self, spider: Spider, max_bytes: int) -> None:
        self.spider = spider
        self.max_bytes = max_bytes
        self.callbacks: frozenset[str] = spider.request_callbacks
        self.counts = _SCRAPY_COUNTS | spider.request_meta_counts
        self.site = spider.site

    def encode(self, request: Request) -> bytes:
        if type(request) is not Request or request.method != "GET" or request.body:
            raise ValueError(f"a shared crawl queues plain GET requests only, not {request!r}")
        entry: dict[str, Any] = {"v": FORMAT, "url": request.url}
        for field, func in (("callback", request.callback), ("errback", request.errback)):
            if func is not None:
                entry[field] = self._name(func)
        if request.priority:
            entry["priority"] = request.priority
        if request.dont_filter:
            entry["dont_filter"] = True
        headers = {}
        for name in HEADERS:
            value = request.headers.get(name)
            # An overlong validator or Referer is left out: the request is then asked for in full, or without it.
            if value is not None and len(value) <= MAX_HEADER:
                headers[name] = value.decode("latin-1")
        if headers:
            entry["headers"] = headers
        meta = {k: v for k, v in request.meta.items() if k in self.counts}
        for key in ("handle_httpstatus_list", "redirect_urls", "redirect_reasons"):
            if key in request.meta:
                meta[key] = list(request.meta[key])
        if meta:
            entry["meta"] = meta
        try:
            self._checked(entry)
        except Refused as e:
            raise Unqueueable(f"{request.url[:200]}: {e}") from None
        data = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        if len(data) > self.max_bytes:
            raise Unqueueable(f"{request.url[:200]}: {len(data)} bytes, more than REDIS_ENTRY_MAX_BYTES ({self.max_bytes})")
        return data

    def decode(self, data: bytes) -> Request:
        """The request an entry stands for; Refused, saying why, if it is not one this crawl wrote."""
        if len(data) > self.max_bytes:
            raise Refused(f"{len(data)} bytes, more than REDIS_ENTRY_MAX_BYTES ({self.max_bytes})")
        try:
            entry = json.loads(data)
        except ValueError:
            raise Refused(f"not a JSON request (starts {bytes(data[:16])!r})") from None
        self._checked(entry)
        return Request(
            entry["url"],
            priority=entry.get("priority", 0),
            dont_filter=entry.get("dont_filter", False),
            headers=entry.get("headers"),
            meta=entry.get("meta"),
            **{field: getattr(self.spider, entry[field]) for field in ("callback", "errback") if field in entry},
        )

    def _checked(self, entry: Any) -> None:
        """Refused, saying why, unless the entry has the format and bounds of this crawl's requests."""
        if not isinstance(entry, dict) or entry.get("v") != FORMAT:
            raise Refused("not a request of this crawl's format")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise Refused(f"unknown fields {sorted(unknown)}")
        self._url(entry.get("url"))
        for field in ("callback", "errback"):
            name = entry.get(field)
            if name is not None and name not in self.callbacks:
                raise Refused(f"{field} {str(name)[:40]!r} is not one of the spider's")
        if not _is_int(entry.get("priority", 0), 10**6):
            raise Refused("priority is not a small integer")
        if not isinstance(entry.get("dont_filter", False), bool):
            raise Refused("dont_filter is not a boolean")
        self._headers(entry.get("headers", {}))
        self._meta(entry.get("meta", {}))

    def _name(self, func: Any) -> str:
        name = getattr(func, "__name__", None)
        if name not in self.callbacks or getattr(getattr(self.spider, name), "__func__", None) is not getattr(func, "__func__", None):
            raise ValueError(f"{func!r} is not one of {type(self.spider).__name__}.request_callbacks")
        return name

    def _url(self, url: Any) -> str:
        if not isinstance(url, str) or len(url) > MAX_URL or not url.startswith(("http://", "https://")):
            raise Refused("its URL is not an http(s) URL of bounded length")
        try:
            on_site = self.site.owns(url)
        except ValueError:  # a port or an IPv6 host urlsplit cannot read
            on_site = False
        if not on_site:
            raise Refused(f"URL {url[:200]} is off the site (allowed_domains {list(self.site.allowed_domains)})")
        return url

    def _headers(self, headers: Any) -> None:
        if not isinstance(headers, dict):
            raise Refused("headers are not an object")
        for name, value in headers.items():
            if name not in HEADERS:
                raise Refused(f"header {str(name)[:40]!r} is not one a request of this crawl carries")
            if not isinstance(value, str) or len(value) > MAX_HEADER or "\r" in value or "\n" in value:
                raise Refused(f"header {name} is not a short one-line string")

    def _meta(self, meta: Any) -> None:
        if not isinstance(meta, dict):
            raise Refused("meta is not an object")
        for key, value in meta.items():
            if key in self.counts:
                ok = _is_int(value, 10**4) and value >= 0
            elif key == "handle_httpstatus_list":
                ok = isinstance(value, list) and len(value) <= 10 and all(_is_int(s, 599) and s >= 100 for s in value)
            elif key == "redirect_urls":
                ok = isinstance(value, list) and len(value) <= MAX_REDIRECTS and all(self._url(u) for u in value)
            elif key == "redirect_reasons":
                ok = (
                    isinstance(value, list)
                    and len(value) <= MAX_REDIRECTS
                    and all(_is_int(r, 599) or r == "meta refresh" for r in value)
                )
            else:
                raise Refused(f"meta key {str(key)[:40]!r} is not one a request of this crawl carries")
            if not ok:
                raise Refused(f"meta {key} has the wrong shape")


def check_state_row(raw: bytes, max_bytes: int = 4096) -> tuple[datetime, str | None, str | None, str | None]:
    """A row of the shared crawl state (crawler.scaleout.state): ``[fetched_at, etag, last_modified, sha256]``."""
    if len(raw) > max_bytes:
        raise Refused(f"{len(raw)} bytes, more than a state row holds")
    try:
        row = json.loads(raw)
    except ValueError:
        raise Refused("not a JSON state row") from None
    if not isinstance(row, list) or len(row) != 4:
        raise Refused("not a state row of four fields")
    fetched_at, etag, last_modified, sha256 = row
    if not all(v is None or (isinstance(v, str) and len(v) <= MAX_HEADER) for v in (etag, last_modified)):
        raise Refused("its validators are not short strings")
    if sha256 is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
        raise Refused("its sha256 is not 64 hex digits")
    try:
        when = datetime.fromisoformat(fetched_at.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise Refused("its fetch time is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise Refused("its fetch time has no time zone")
    return when, etag, last_modified, sha256


def _is_int(value: Any, bound: int) -> bool:
    return type(value) is int and -bound <= value <= bound
