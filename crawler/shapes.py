"""The shapes of a site's article URLs, learned while a site without an article_pattern is crawled.

A news site names its articles by one or two templates: ``/<year>/<month>/<day>/<slug>/``
(WordPress), ``/news/<number>/<slug>`` (Drupal paths), ``NewsDetails.aspx?id=<number>``
(ASP.NET portals). A URL's *shape* is its template: digits and slugs in the
path become placeholders, query values too. The crawl learns which shapes
are articles from what the site says (the entries of its feeds) and from the
pages themselves: the first pages of a shape it has not seen are fetched and
judged by extraction (an article has article metadata or a publication
date, one headline, little text in links), and then

- a shape with an article among its samples is an article shape: every link
  of that shape is fetched;
- a shape whose first SAMPLES pages were all something else (tag, author,
  category, about pages) is not: its other links are not fetched, which is
  what spares the crawl every tag, author and archive page of the site.

Links of a shape still being judged wait for the judgement. Pagination is
followed whatever its shape, by the spider.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

# Pages of a shape judged before it counts as no article shape: enough that a site whose
# articles and static pages share one shape ("/<slug>/") shows an article among them.
SAMPLES = 3
_YEAR = re.compile(r"(19|20)\d\d")
_DIGITS = re.compile(r"\d+")
_SLUG = re.compile(r"[-_+.]|%[0-9A-Fa-f]{2}")
_SUFFIX = re.compile(r"\.(?:html?|aspx?|php|jsp|cfm)$", re.IGNORECASE)


def url_shape(url: str) -> str:
    """The URL's template: ``/<year>/<month>/<day>/<slug>/``, ``/news/<number>``, ``/NewsDetails.aspx?id=<number>``."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    last = max((i for i, seg in enumerate(segments) if seg), default=-1)
    shaped: list[str] = []
    for i, segment in enumerate(segments):
        word = _segment(segment, shaped)
        # The last word of a path names one of many alike (/tag/<word>/, /category/<word>/, /<word>/):
        # a script name (NewsDetails.aspx) stays itself.
        if i == last and word == segment and word.isalpha():
            word = "<word>"
        shaped.append(word)
    shape = "/".join(shaped)
    query = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)})
    if query:
        values = dict(parse_qsl(parts.query, keep_blank_values=True))
        shape += "?" + "&".join(f"{key}={_value(values[key])}" for key in query)
    return shape


def _segment(segment: str, before: list[str]) -> str:
    if not segment:
        return ""
    suffix = ""
    if m := _SUFFIX.search(segment):
        segment, suffix = segment[: m.start()], m.group(0).lower()
    if _DIGITS.fullmatch(segment):
        if len(segment) == 4 and _YEAR.fullmatch(segment):
            return "<year>" + suffix
        if before and before[-1] == "<year>" and 1 <= int(segment) <= 12 and len(segment) <= 2:
            return "<month>" + suffix
        if before and before[-1] == "<month>" and 1 <= int(segment) <= 31 and len(segment) <= 2:
            return "<day>" + suffix
        return "<number>" + suffix
    if _SLUG.search(segment) or len(unquote(segment)) > 24 or not segment.isascii():
        return "<slug>" + suffix
    return segment + suffix


def _value(value: str) -> str:
    if _DIGITS.fullmatch(value):
        return "<number>"
    return "<slug>" if value else ""


# What url_shape calls a slug: a segment with a hyphen, dot, underscore or escaped letter, or a long one.
_SLUG_RE = r"(?:[^/?#]*(?:[-_+.]|%[0-9A-Fa-f]{2})[^/?#]*|[^/?#]{25,})"


def shape_pattern(shape: str) -> str:
    """A regular expression for a site file's article_pattern, matching the canonical URLs of that shape."""
    path, _, query = shape.partition("?")
    out = []
    for segment in path.split("/"):
        for name, regex in (("<year>", r"\d{4}"), ("<month>", r"\d{1,2}"), ("<day>", r"\d{1,2}"),
                            ("<number>", r"\d+"), ("<slug>", _SLUG_RE), ("<word>", r"[A-Za-z]+")):
            if segment.startswith(name):
                out.append(regex + re.escape(segment[len(name):]))
                break
        else:
            out.append(re.escape(segment))
    pattern = "^https?://[^/]+" + "/".join(out)
    if query:
        pairs = [p.partition("=") for p in query.split("&")]
        pattern += r"\?" + "&".join(re.escape(k) + "=" + {"<number>": r"\d+", "<slug>": r"[^&#]+"}.get(v, "") for k, _, v in pairs)
    return pattern + "$"


@dataclass
class _Shape:
    articles: int = 0  # judged articles, and entries of feeds
    others: int = 0  # judged pages that were no article
    sampling: set[str] = field(default_factory=set)  # URLs fetched to judge the shape, not judged yet
    held: list[tuple[str, Any]] = field(default_factory=list)  # (URL, what to follow) once the shape is judged
    skipped: int = 0

    @property
    def state(self) -> str:
        if self.articles:
            return "article"
        return "other" if self.others >= SAMPLES else "unknown"


class ShapeLearner:
    """Which links of a site without an article_pattern are worth a request, learned as the crawl goes."""

    def __init__(self) -> None:
        self.shapes: dict[str, _Shape] = {}

    def offer(self, url: str, follow: Any, *, article: bool = False) -> list[Any]:
        """What to follow now (``follow`` itself, or nothing): a link of an article shape, or a sample of a new one.

        ``article`` says the site itself calls the URL an article (a feed entry).
        Held links come back from ``judged`` once their shape is known.
        """
        shape = self.shapes.setdefault(url_shape(url), _Shape())
        if article:
            shape.articles += 1
            return [follow, *self._release(shape)]
        if shape.state == "article":
            return [follow]
        if shape.state == "other":
            shape.skipped += 1
            return []
        if len(shape.sampling) + shape.others < SAMPLES:
            shape.sampling.add(url)
            return [follow]
        shape.held.append((url, follow))
        return []

    def judged(self, url: str, article: bool) -> list[Any]:
        """A page of the site was read: article or not. What its shape's held links now call for."""
        shape = self.shapes.get(url_shape(url))
        if shape is None:
            return []
        shape.sampling.discard(url)
        if article:
            shape.articles += 1
        else:
            shape.others += 1
        if shape.state == "article":
            return self._release(shape)
        if shape.state == "other":
            shape.skipped += len(shape.held)
            shape.held.clear()
            return []
        return self._next_samples(shape)

    def failed(self, url: str) -> list[Any]:
        """A sample that gave no page (an error status, no response): another link of its shape takes its place."""
        shape = self.shapes.get(url_shape(url))
        if shape is None or url not in shape.sampling:
            return []
        shape.sampling.discard(url)
        return self._next_samples(shape) if shape.state == "unknown" else []

    def is_article_shape(self, url: str) -> bool:
        shape = self.shapes.get(url_shape(url))
        return shape is not None and shape.state == "article"

    def article_shapes(self) -> list[str]:
        """The article shapes, the most articles first."""
        found = [(s.articles, name) for name, s in self.shapes.items() if s.state == "article"]
        return [name for _, name in sorted(found, key=lambda t: (-t[0], t[1]))]

    def summary(self) -> Iterable[tuple[str, str, int, int, int]]:
        """(shape, state, articles, others, links not fetched), for the log."""
        for name, s in sorted(self.shapes.items()):
            yield name, s.state, s.articles, s.others, s.skipped + len(s.held)

    def _release(self, shape: _Shape) -> list[Any]:
        held, shape.held = shape.held, []
        return [follow for _, follow in held]

    def _next_samples(self, shape: _Shape) -> list[Any]:
        """Held links judged in the place of samples that were no article, up to SAMPLES in all."""
        out = []
        while shape.held and len(shape.sampling) + shape.others < SAMPLES:
            url, follow = shape.held.pop(0)
            shape.sampling.add(url)
            out.append(follow)
        return out
