"""The pages bench/get_real_pages.py wrote to bench/data/, one RealPage each.

    from real_pages import iter_pages
    for page in iter_pages():
        ...  # page.id, page.source, page.language, page.url, page.html (bytes), page.expected
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from snippet_pages import SNIPPET_DIR

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class RealPage:
    id: str
    source: str
    language: str  # ISO 639-1, or "und" when neither the source nor the page says
    url: str
    html: bytes
    expected: str


def iter_pages(data: Path = DATA, sources: Collection[str] = ()) -> Iterator[RealPage]:
    """Every page under `data`, by source then id; only `sources` when given."""
    # The snippet set has no expected text; bench/snippet_pages.py reads it.
    folders = sorted(p for p in data.glob("*/") if p.is_dir() and not p.name.startswith(".") and p.name != SNIPPET_DIR)
    if not folders:
        raise FileNotFoundError(f"no pages in {data}: run bench/get_real_pages.py first")
    for folder in folders:
        if sources and folder.name not in sources:
            continue
        for meta_path in sorted(folder.glob("*.json")):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            yield RealPage(
                id=meta["id"],
                source=meta["source"],
                language=meta["language"],
                url=meta["url"],
                html=meta_path.with_suffix(".html").read_bytes(),
                expected=meta["expected"],
            )
