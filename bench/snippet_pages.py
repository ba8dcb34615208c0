"""The snippet-annotated pages bench/get_real_pages.py wrote to bench/data/trafilatura_eval/, one SnippetPage each.

    from snippet_pages import iter_snippet_pages
    for page in iter_snippet_pages():
        ...  # page.id, page.source, page.language, page.url, page.html (bytes), page.with_, page.without
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SNIPPET_DIR = "trafilatura_eval"  # a folder of bench/data/ that the full-text loader (real_pages) skips


@dataclass(frozen=True)
class SnippetPage:
    id: str
    source: str
    language: str  # ISO 639-1 from the page's markup, or "und"
    url: str
    html: bytes
    with_: tuple[str, ...]  # must be in the main text
    without: tuple[str, ...]  # must not be


def iter_snippet_pages(data: Path = DATA) -> Iterator[SnippetPage]:
    """Every page of the snippet set, by id."""
    folder = data / SNIPPET_DIR
    metas = sorted(folder.glob("*.json"))
    if not metas:
        raise FileNotFoundError(f"no pages in {folder}: run bench/get_real_pages.py first")
    for meta_path in metas:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        yield SnippetPage(
            id=meta["id"],
            source=meta["source"],
            language=meta["language"],
            url=meta["url"],
            html=meta_path.with_suffix(".html").read_bytes(),
            with_=tuple(meta["with"]),
            without=tuple(meta["without"]),
        )
