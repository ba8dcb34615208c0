"""URL canonicalization: one article, one URL, one fetch."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Query parameters that only say where a click came from; they never select content.
TRACKING_PARAM_RE = re.compile(
    r"^(utm_[a-z_]*|fbclid|gclid|dclid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|ref_src)$",
    re.IGNORECASE,
)


def canonical_url(url: str) -> str:
    """Drop the fragment and tracking parameters, and normalize escaping.

    w3lib's canonicalize_url (Scrapy's own) percent-encodes raw Arabic path
    characters as UTF-8 with uppercase hex and lowercases the host, so a link
    written in Arabic and the same link percent-encoded meet on one string.
    It also sorts the query, as Scrapy's request fingerprint does.
    """
    canon = canonicalize_url(url, keep_fragments=False)
    parts = urlsplit(canon)
    if not parts.query:
        return canon
    kept = [p for p in parts.query.split("&") if not TRACKING_PARAM_RE.match(p.split("=", 1)[0])]
    return urlunsplit(parts._replace(query="&".join(kept)))
