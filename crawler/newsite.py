"""`scrapy newsite URL -o FILE.toml`: what a short crawl of a site learned, written as a site file for a person to review.

The discovery is a zero-configuration crawl (spiders.news without an
article_pattern) bounded by CLOSESPIDER_PAGECOUNT, into a temporary archive
that is removed afterwards. From it come the site file's keys, each with a
comment saying how it was found:

- ``sitemap_urls`` and ``feed_urls``: the valid ones the crawl went looking
  for (named in robots.txt, announced by the home page, at a usual place);
- ``article_pattern``: the learned article shapes (crawler.shapes), as a
  regular expression of their canonical URLs;
- ``follow_pattern``: the shapes of the "next page" links it followed;
- ``body_selector`` and ``date_selector``, where the article pages agree on
  one: the element that holds each stored text's paragraphs, and the one
  whose text or ``datetime`` is the publication date, named the same way
  (tag and first class) on at least AGREEMENT of the pages.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import html
from warcio.archiveiterator import ArchiveIterator

from crawler.discovery import Discovered
from crawler.extract.arabic_dates import parse_arabic_date
from crawler.shapes import ShapeLearner, shape_pattern, url_shape
from crawler.sites import Site
from crawler.store.manifest import read_manifest

AGREEMENT = 0.8
# Documents looked at for the selectors.
_SAMPLE = 20
_SPACE_RE = re.compile(r"\s+")


@dataclass
class Findings:
    site: Site
    discovered: Discovered
    learner: ShapeLearner
    documents: int = 0
    selectors: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (selector, how)


def site_file_text(found: Findings) -> str:
    """The site file, every line with the comment of how its value was found."""
    site, discovered = found.site, found.discovered
    lines = [
        f"# Written by scrapy newsite from {site.start_urls[0]}: review it, then crawl with -a site=THIS_FILE.",
        _line("name", site.name, "derived from the registered domain"),
        _line("allowed_domains", list(site.allowed_domains), "the host of the address, subdomains included"),
        _line("start_urls", list(site.start_urls), "the address given"),
    ]
    for key, kind in (("sitemap_urls", "sitemaps"), ("feed_urls", "feeds")):
        sources = discovered.found(kind)
        if sources:
            lines.append(_line(key, [u for u, _ in sources], "; ".join(dict.fromkeys(how for _, how in sources))))
    shapes = found.learner.article_shapes()
    counts = {name: found.learner.shapes[name].articles for name in shapes}
    lines.append(
        _line(
            "article_pattern",
            "|".join(shape_pattern(s) for s in shapes),
            f"learned from {found.documents} article pages: " + ", ".join(f"{s} ({counts[s]})" for s in shapes),
        )
    )
    pages = [s for s in dict.fromkeys(url_shape(u) for u in discovered.pagination) if s not in shapes]
    if pages:
        lines.append(_line("follow_pattern", "|".join(shape_pattern(s) for s in pages), "the shapes of the next-page links followed: " + ", ".join(pages)))
    for key, (selector, how) in found.selectors.items():
        lines.append(_line(key, selector, how))
    return "\n".join(lines) + "\n"


def _line(key: str, value: Any, how: str) -> str:
    # A TOML literal string keeps a regular expression's backslashes as they are.
    if key.endswith("pattern") and "'" not in value:
        shown = f"'{value}'"
    else:
        shown = json.dumps(value, ensure_ascii=False)
    return f"{key} = {shown}  # {how}"


def agreed_selectors(archive: Path, site: str) -> dict[str, tuple[str, str]]:
    """body_selector and date_selector where the stored article pages agree on an element."""
    bodies: Counter[str] = Counter()
    dates: Counter[str] = Counter()
    looked = 0
    for entry in read_manifest(archive / "manifest.jsonl")[:_SAMPLE]:
        if entry.get("site") != site:
            continue
        tree = _page(archive / entry["warc"])
        if tree is None:
            continue
        looked += 1
        paragraphs = (archive / entry["path"]).read_text(encoding="utf-8").split("\n\n")
        if (body := _holder(tree, paragraphs[0].strip(), paragraphs[-1].strip())) is not None:
            bodies[body] += 1
        if entry.get("published") and (date := _date_element(tree, entry["published"][:10])) is not None:
            dates[date] += 1
    found = {}
    for key, counter, what in (("body_selector", bodies, "holds the text"), ("date_selector", dates, "holds the publication date")):
        if counter and looked:
            selector, n = counter.most_common(1)[0]
            if n >= AGREEMENT * looked:
                found[key] = (selector, f"{what} on {n} of the {looked} article pages looked at")
    return found


def _page(capture: Path) -> html.HtmlElement | None:
    with capture.open("rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response":
                body = record.content_stream().read()
                try:
                    return html.document_fromstring(body)
                except (ValueError, html.etree.ParserError):
                    return None
    return None


def _squash(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


def _holder(tree: html.HtmlElement, first: str, last: str) -> str | None:
    """The tag.class of the innermost element whose text holds the first and the last paragraph."""
    first, last = _squash(first)[:80], _squash(last)[:80]
    best = None
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        text = _squash(el.text_content())
        if first in text and last in text:
            best = el  # iter() is document order: a later match is inside an earlier one, or after it
    return _name(best) if best is not None else None


def _date_element(tree: html.HtmlElement, day: str) -> str | None:
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        text = el.get("datetime") or (_squash(el.text_content()) if len(el) == 0 else "")
        if text and len(text) <= 80 and (text.startswith(day) or (parse_arabic_date(text) or "").startswith(day)):
            return _name(el)
    return None


def _name(el: html.HtmlElement) -> str | None:
    classes = (el.get("class") or "").split()
    if classes:
        return f"{el.tag}.{classes[0]}"
    return el.tag if el.tag in ("article", "main", "time") else None
