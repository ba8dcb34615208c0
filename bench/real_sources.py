"""The public page sets bench/get_real_pages.py reads: where each lives, at which commit, under which licence.

Only sets whose expected text is the whole article body are used here; sets
that give snippets or a prefix cannot score token precision and recall (see
LEFT_OUT in get_real_pages.py). trafilatura's must-include / must-exclude
snippet set is scored apart, from bench/snippet_sources.py. DATE_SOURCES are
sets with a known publication day and no expected text, for bench/date_accuracy.py.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol


class Tree(Protocol):
    def list(self, folder: str) -> list[str]: ...
    def read(self, path: str) -> bytes | None: ...


@dataclass(frozen=True)
class RawPage:
    id: str
    url: str
    html: bytes
    expected: str
    html_path: str  # inside the repository, for the origin URL
    expected_path: str
    language: str | None = None  # when the source itself says
    published: str | None = None  # the publication day (YYYY-MM-DD), when the source gives one


@dataclass(frozen=True)
class Source:
    name: str
    repository: str  # owner/name on GitHub
    commit: str
    licence: str
    description: str
    pages: Callable[[Tree], Iterator[RawPage]]


def read_json(tree: Tree, path: str) -> object:
    data = tree.read(path)
    if data is None:
        raise SystemExit(f"{path} is missing from the clone")
    return json.loads(data)


_DAY_RE = re.compile(r"\d{4}-\d\d-\d\d")


def _scrapinghub(tree: Tree) -> Iterator[RawPage]:
    truth = read_json(tree, "ground-truth.json")
    assert isinstance(truth, dict)
    for page_id, item in sorted(truth.items()):
        path = f"html/{page_id}.html.gz"
        packed = tree.read(path)
        if packed is None:
            print(f"  skip scrapinghub/{page_id}: {path} absent from the clone")
            continue
        yield RawPage(page_id, item.get("url", ""), gzip.decompress(packed), item["articleBody"], path, "ground-truth.json")


def _newspaper4k_tests(tree: Tree) -> Iterator[RawPage]:
    # Test pages whose metadata says Arabic; the .txt beside each is the whole expected body.
    for meta_path in tree.list("tests/data/metadata/"):
        meta = read_json(tree, meta_path)
        assert isinstance(meta, dict)
        if meta.get("language") != "ar":
            continue
        stem = meta_path.rsplit("/", 1)[1].removesuffix(".json")
        html_path, text_path = f"tests/data/html/{stem}.html", f"tests/data/txt/{stem}.txt"
        html, text = tree.read(html_path), tree.read(text_path)
        if html is None or text is None:
            continue
        yield RawPage(stem, meta.get("url", ""), html, text.decode("utf-8"), html_path, text_path, "ar")


def _article_extraction_dataset(tree: Tree) -> Iterator[RawPage]:
    articles = read_json(tree, "articles.json")
    assert isinstance(articles, dict)
    for page_id, item in sorted(articles.items()):
        path = f"html/{page_id}.html"
        html = tree.read(path)
        if html is None:
            print(f"  skip article_extraction_dataset/{page_id}: {path} absent from the clone")
            continue
        # "date" is YYYY-MM-DD, or "NaT" for the two articles whose date the author left blank.
        published = item["date"] if _DAY_RE.fullmatch(item.get("date") or "") else None
        yield RawPage(page_id, item.get("url", ""), html, item["articleBody"], path, "articles.json", published=published)


def _htmldate_eval(tree: Tree) -> Iterator[RawPage]:
    # Two JSON files map each URL to a file name and its day; the file is in test_set, cache or eval,
    # looked up in that order as htmldate's tests/evaluation.py does. A NaN date: no date, not used.
    files: dict[str, str] = {}
    for folder in ("eval", "cache", "test_set"):
        files.update((path.rsplit("/", 1)[1], path) for path in tree.list(f"tests/{folder}/"))
    for truth_path in ("tests/eval_default.json", "tests/eval_mediacloud_2020.json"):
        truth = read_json(tree, truth_path)
        assert isinstance(truth, dict)
        for url, item in sorted(truth.items()):
            if not isinstance(item["date"], str):
                continue
            page_id = re.sub(r"[^\w.-]+", "_", item["file"].removesuffix(".html")).strip("_.")
            path = files.get(item["file"], f"tests/eval/{item['file']}")
            html = tree.read(path)
            if html is None:
                print(f"  skip htmldate_eval/{page_id}: {path} absent from the clone")
                continue
            yield RawPage(page_id, url, html, "", path, truth_path, published=item["date"])


SOURCES: tuple[Source, ...] = (
    Source(
        "scrapinghub",
        "scrapinghub/article-extraction-benchmark",
        "4a3bc979f76c0df73cb95fe272e2fc1b96f9f010",
        "MIT",
        "ScrapingHub (Zyte) article extraction benchmark: 181 news and blog pages fetched in 2019 with "
        "Splash (JavaScript off), articleBody annotated by hand in ground-truth.json; mostly English.",
        _scrapinghub,
    ),
    Source(
        "newspaper4k_tests",
        "AndyTheFactory/newspaper4k",
        "540bff3e8344cb8291c4829fafd98860f30d9692",
        "MIT",
        "newspaper4k's test pages whose metadata says Arabic (one CNN Arabic article from 2013). The "
        "expected text is newspaper's own output kept as a regression fixture since codelucas/newspaper, "
        "and goose3 checks the same page's first sentence: expect newspaper4k to score near 1 on it.",
        _newspaper4k_tests,
    ),
    Source(
        "article_extraction_dataset",
        "AndyTheFactory/article-extraction-dataset",
        "cf3e2959ffc4fde13e0714d2b6d50c2bd220ed3b",
        "Apache-2.0",
        "424 news articles from 212 sites (2023), cleaned by hand by newspaper4k's maintainer and used "
        "by newspaper4k's evaluation script; mostly English.",
        _article_extraction_dataset,
    ),
)


# Date-only sets: expected is "" and published is set on every page. They go to bench/data/DATES_DIR/<name>/,
# one level down, so that real_pages.iter_pages (which reads <name>/*.json) finds no page there.
DATES_DIR = "date_only"
DATE_SOURCES: tuple[Source, ...] = (
    Source(
        "htmldate_eval",
        "adbar/htmldate",
        "b8952828329abaeeb3be21387b526f2be614ce67",
        "Apache-2.0",
        "htmldate's own evaluation set, built to evaluate htmldate (so it favours htmldate): 800 URLs "
        "(799 files) of the BBAW collection (mostly German and English blogs, news and institutional pages; "
        "Adrien Barbaresi, Shiyang Chen, Lukas Kozmus) in tests/eval_default.json, and 200 news pages from "
        "many countries (Data Culture Group, Northeastern University; 195 with a date) in "
        "tests/eval_mediacloud_2020.json; only pages whose date is clearly to be determined, its docs say.",
        _htmldate_eval,
    ),
)

_LANG_ATTR_RE = re.compile(rb"<html\b[^>]*?(?<![\w-])lang\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])", re.I)
_META_LANG_RE = re.compile(
    rb"<meta\b[^>]*?(?:http-equiv\s*=\s*[\"']?content-language|property\s*=\s*[\"']?og:locale)[^>]*>", re.I
)
_CONTENT_RE = re.compile(rb"\bcontent\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])", re.I)


def markup_language(html: bytes) -> tuple[str, str] | None:
    """ISO 639-1 code the page's own markup declares, and which rule found it; None when it declares none."""
    head = html[:200_000]
    if (m := _LANG_ATTR_RE.search(head)) and len(m.group(1)) == 2:
        return m.group(1).decode().lower(), "html lang attribute"
    for meta in _META_LANG_RE.finditer(head):
        if (m := _CONTENT_RE.search(meta.group(0))) and len(m.group(1)) == 2:
            return m.group(1).decode().lower(), "meta content-language / og:locale"
    return None


def page_language(page: RawPage) -> tuple[str, str]:
    """ISO 639-1 code and where it came from: the source, the page's markup, a detector, or nowhere ("und")."""
    if page.language:
        return page.language, "source metadata"
    if declared := markup_language(page.html):
        return declared
    if not page.expected:  # a date-only page: no text to detect the language of
        return "und", "no lang attribute or language meta"
    try:
        import py3langid  # type: ignore[import-not-found]
    except ImportError:
        return "und", "unknown (no lang markup; py3langid not installed)"
    return str(py3langid.classify(page.expected)[0]), "py3langid on the expected text"
