"""Part 2 of bench/extraction_quality.py: three extractors on public pages whose expected text others wrote.

Each page goes, in one run, through ours (extract_document with Content-Type
"text/html" and no site rules), plain ``trafilatura.extract(html, url=url)``
with default options, and newspaper4k (the page's language when newspaper4k
knows it, else its own detection). All three are scored by the same scorer,
so the figures compare side by side; only the extract calls are timed.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol, TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.extract.document import NoDocument, extract_document  # noqa: E402
from real_pages import RealPage  # noqa: E402

Scorer = Callable[[str, str], tuple[float, float, float]]


class PageInput(Protocol):
    """What the extractors read of a page; bench/snippet_quality.py passes its own pages to the same three."""

    @property
    def url(self) -> str: ...
    @property
    def html(self) -> bytes: ...
    @property
    def language(self) -> str: ...


# An extractor gives the body text, and why there is none when it is empty.
Extractor = Callable[[PageInput], tuple[str, str | None]]
NAMES = ("ours", "trafilatura", "newspaper4k")
WORSE_BY = 0.05


def ours(page: PageInput) -> tuple[str, str | None]:
    doc = extract_document(page.url, "text/html", page.html)
    if isinstance(doc, NoDocument):
        return "", f"{doc.reason}: {doc.detail}"
    return doc.text, None


def plain_trafilatura(page: PageInput) -> tuple[str, str | None]:
    import trafilatura

    text = trafilatura.extract(page.html, url=page.url)
    return (text, None) if text else ("", "extract() returned nothing")


@cache
def _newspaper_languages() -> frozenset[str]:
    from newspaper.languages import get_available_languages

    return frozenset(get_available_languages())


def newspaper4k(page: PageInput) -> tuple[str, str | None]:
    from newspaper import Article
    from w3lib.encoding import html_to_unicode

    language = page.language if page.language in _newspaper_languages() else None  # None: newspaper detects
    # newspaper4k takes a str; decode the way a browser (and Scrapy, under ours) would, inside the timed call
    # because the other two decode inside theirs. fetch_images=False: no network, as in its own evaluate.py.
    _, html = html_to_unicode("text/html", page.html)
    article = Article(page.url, language=language, fetch_images=False)
    article.download(input_html=html)
    article.parse()
    return (article.text, None) if article.text else ("", "empty text")


EXTRACTORS: dict[str, Extractor] = {"ours": ours, "trafilatura": plain_trafilatura, "newspaper4k": newspaper4k}


@dataclass
class Row:
    page: RealPage
    p: dict[str, float]
    r: dict[str, float]
    f1: dict[str, float]
    ms: dict[str, float]
    no_text: dict[str, str]  # extractor -> why it gave no text


def timed(extract: Extractor, page: PageInput) -> tuple[str, str | None, float]:
    start = time.perf_counter()
    try:
        text, reason = extract(page)
    except Exception as e:  # a page that breaks one library is that library's miss, not the end of the run
        text, reason = "", f"raised {type(e).__name__}: {e}"
    ms = (time.perf_counter() - start) * 1000
    return text, " ".join(reason.split()) if reason else None, ms  # one line: some libraries' messages are banners


def run(pages: Sequence[RealPage], scores: Scorer) -> list[Row]:
    if pages:  # one untimed call each, so imports and lazy set-up do not land on the first page's time
        for extract in EXTRACTORS.values():
            timed(extract, pages[0])
    rows = []
    for n, page in enumerate(pages, 1):
        row = Row(page, {}, {}, {}, {}, {})
        for name, extract in EXTRACTORS.items():
            text, reason, ms = timed(extract, page)
            row.p[name], row.r[name], row.f1[name] = scores(text, page.expected)
            row.ms[name] = ms
            if not text.strip():
                row.no_text[name] = reason or "empty text"
        rows.append(row)
        if n % 100 == 0:
            print(f"  ... {n}/{len(pages)} pages", file=sys.stderr)
    return rows


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _f1_table(title: str, groups: dict[str, list[Row]]) -> None:
    print(f"-- {title}")
    print(f"{'':<28} {'pages':>5} " + " ".join(f"{n:>12}" for n in NAMES))
    for key, rows in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"{key:<28} {len(rows):>5} " + " ".join(f"{_mean(r.f1[n] for r in rows):12.3f}" for n in NAMES))
    print()


def report(rows: list[Row], show_rows: bool) -> None:
    print(f"== Real pages: {len(rows)} public pages, expected text written by others (bench/data/SOURCES.md)")
    if not rows:
        return
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        counts[row.page.source][row.page.language] += 1
    for source, langs in counts.items():
        print(f"   {source}: {sum(langs.values())} pages (" + ", ".join(f"{k} {v}" for k, v in sorted(langs.items())) + ")")
    print()
    if show_rows:
        print(f"{'source/id':<80} {'lang':<4} " + " ".join(f"{'F1 ' + n:>14}" for n in NAMES) + "  ms ours/traf/np4k")
        for r in rows:
            f1s = " ".join(f"{r.f1[n]:14.3f}" for n in NAMES)
            ms = "/".join(f"{r.ms[n]:.0f}" for n in NAMES)
            print(f"{r.page.source + '/' + r.page.id:<80} {r.page.language:<4} {f1s}  {ms}")
        print()
    print("-- mean over all pages (token P, R, F1 per page, then averaged)")
    for n in NAMES:
        p, r, f = (_mean(getattr(row, k)[n] for row in rows) for k in ("p", "r", "f1"))
        print(f"{n:<12} P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
    print()
    by_language: dict[str, list[Row]] = defaultdict(list)
    by_source: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_language[row.page.language].append(row)
        by_source[row.page.source].append(row)
    _f1_table("mean F1 per language", by_language)
    _f1_table("mean F1 per source", by_source)
    _report_misses(rows)
    _report_speed(rows)


def _report_misses(rows: list[Row]) -> None:
    for n in NAMES:
        missed = [r for r in rows if n in r.no_text]
        print(f"-- no document / no text from {n}: {len(missed)} pages")
        for r in missed:
            print(f"   {r.page.source}/{r.page.id} [{r.page.language}] {r.no_text[n][:150]}")
    worse = sorted((r for r in rows if r.f1["ours"] < r.f1["trafilatura"] - WORSE_BY), key=lambda r: r.f1["ours"] - r.f1["trafilatura"])
    print(f"\n-- ours worse than plain trafilatura by more than {WORSE_BY} F1: {len(worse)} of {len(rows)} pages")
    for r in worse:
        print(f"   {r.page.source}/{r.page.id} [{r.page.language}] ours {r.f1['ours']:.3f} trafilatura {r.f1['trafilatura']:.3f}")
    print()


def _report_speed(rows: list[Row]) -> None:
    print("-- milliseconds per page (extract calls only)")
    means = {n: _mean(r.ms[n] for r in rows) for n in NAMES}
    for n in NAMES:
        print(f"{n:<12} mean {means[n]:8.1f}  median {statistics.median(r.ms[n] for r in rows):8.1f}")
    print(f"ours / trafilatura: {means['ours'] / means['trafilatura']:.2f}x (means)")


def write_jsonl(rows: list[Row], out: TextIO) -> None:
    """One line per page, keys sorted, so that two runs diff line by line."""
    for r in rows:
        line: dict[str, object] = {"id": r.page.id, "source": r.page.source, "lang": r.page.language}
        for n in NAMES:
            line[f"f1_{n}"] = round(r.f1[n], 4)
            line[f"ms_{n}"] = round(r.ms[n], 1)
        line["no_text"] = {n: why[:150] for n, why in r.no_text.items()}
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
