"""Reading an article response, in a worker process: its document, its text, its links.

One parse of the page gives all three, in the crawl's worker processes
(crawler.workers): the document's text is written there under a temporary
name for the committer (crawler.store.committer) to publish, and what comes
back to the crawl process is small: the document's metadata, where its text
will be, and the page's links for the spider to follow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from crawler.extract.document import NoDocument, read_page
from crawler.health import boilerplate_kept
from crawler.extract.rules import ExtractionRules
from crawler.store.atomic import Staged
from crawler.store.textstore import Document, StoredText, stage_text


# What a body cut short gives: not the first part of an article as if it were all of it.
CUT = NoDocument("truncated", "the body was cut short in transfer: its compressed stream ends early")


@dataclass(frozen=True)
class ArticleRead:
    result: Document | NoDocument  # a Document's text is "": it stays on disk, staged
    links: tuple[str, ...]
    next_links: tuple[str, ...]
    stored: StoredText | None = None  # where the text goes, once published
    staged: Staged | None = None  # None when the text file already exists
    error: OSError | None = None  # writing the text failed (a full disk)
    # For the site's health (crawler.health): the text's length, and whether a boilerplate phrase survived in it.
    text_chars: int = 0
    boilerplate_kept: bool = False


def read_article(
    url: str, content_type: str, body: bytes, rules: ExtractionRules, archive_dir: str, site: str, fsync: bool,
    cut: bool = False,
    fetched: str | None = None,
) -> ArticleRead:
    """``cut``: the body ended early in transfer (crawler.capture.reading.cut_short): its links, no document.
    ``fetched``: the capture's WARC-Date (crawler.extract.document.extract_document)."""
    page = read_page(url, content_type, body, rules, with_links=True, fetched=fetched)
    if cut:
        return ArticleRead(CUT, page.links, page.next_links)
    if isinstance(page.result, NoDocument):
        return ArticleRead(page.result, page.links, page.next_links)
    text = page.result.text
    document = replace(page.result, text="")
    health = {"text_chars": len(text), "boilerplate_kept": boilerplate_kept(text, rules.boilerplate)}
    try:
        stored, staged = stage_text(Path(archive_dir), site, text, fsync=fsync)
    except OSError as e:
        return ArticleRead(document, page.links, page.next_links, error=e, **health)
    return ArticleRead(document, page.links, page.next_links, stored, staged, **health)
