"""Reading an archive's corpus: each document's clean text with its manifest metadata, streamed.

    from crawler.corpus import Corpus

    corpus = Corpus("archive")
    for doc in corpus.documents(site="syria_tv", published_from="2024-01-01"):
        print(doc.url, doc.title, len(doc.text), doc.warc, doc.warc_record_id)

The manifest is read a line at a time and each text file when its document
is reached, so a million documents take no more memory than one. A
document names the WARC capture behind it (``warc``, ``warc_record_id``),
and ``Corpus.captures(url)`` finds every capture of a URL through the
CDXJ index. "New since a point": ``corpus.position()`` before or after a
job, and ``documents(after=that)`` next time reads only the lines appended
since (the manifest is append-only); ``fetched_from`` does the same by time.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from crawler.cdx import CdxEntry, lookup

logger = logging.getLogger(__name__)


class CorpusError(ValueError):
    """Input the reader cannot use: no manifest, a date that does not parse, a position from another manifest."""


class MissingText(CorpusError):
    def __init__(self, line: int, path: Path) -> None:
        super().__init__(f"manifest.jsonl line {line}: text file {path} is missing")
        self.line = line
        self.path = path


@dataclass(frozen=True)
class Document:
    text: str
    meta: dict[str, Any]  # every key of its manifest line
    line: int  # its line number in manifest.jsonl, from 1

    def __getattr__(self, key: str) -> Any:
        # doc.url, doc.title, doc.warc_record_id...: the manifest keys.
        if key == "meta":  # not set yet (a copy being made)
            raise AttributeError(key)
        try:
            return self.meta[key]
        except KeyError:
            raise AttributeError(key) from None


@dataclass(frozen=True)
class Position:
    """A point in the manifest: the documents appended after it are the new ones."""

    inode: int
    offset: int

    def __str__(self) -> str:
        return f"{self.inode}:{self.offset}"

    @classmethod
    def parse(cls, value: str) -> Position:
        try:
            inode, offset = (int(part) for part in value.split(":"))
        except ValueError:
            raise CorpusError(f"not a corpus position (INODE:OFFSET, as printed by a previous run): {value!r}") from None
        return cls(inode, offset)


@dataclass(frozen=True)
class Span:
    """From and until, inclusive; a date alone means its whole day. Either may be open."""

    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def parse(cls, name: str, start: str | date | datetime | None, end: str | date | datetime | None) -> Span:
        return cls(_moment(name, start, end=False), _moment(name, end, end=True))

    def __contains__(self, value: str | None) -> bool:
        if self.start is None and self.end is None:
            return True
        if not value:
            return False
        try:
            moment = _moment("", value, end=False)
        except CorpusError:
            return False
        assert moment is not None
        return (self.start is None or moment >= self.start) and (self.end is None or moment <= self.end)


def _moment(name: str, value: str | date | datetime | None, *, end: bool) -> datetime | None:
    """A datetime in UTC; a date alone is the start (or the end) of its day."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text) if ("T" in text or " " in text) else date.fromisoformat(text)
        except ValueError:
            raise CorpusError(f"{name}: not an ISO 8601 date or date and time: {value!r}") from None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min) + (timedelta(days=1) - timedelta(microseconds=1) if end else timedelta(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Corpus:
    def __init__(self, archive_dir: str | os.PathLike[str]) -> None:
        self.archive_dir = Path(archive_dir)
        self.manifest = self.archive_dir / "manifest.jsonl"
        if not self.manifest.is_file():
            raise CorpusError(f"{self.archive_dir} is not an archive: it has no manifest.jsonl")

    def position(self) -> Position:
        """The end of the manifest now: pass it as ``after`` to read only what comes later."""
        st = self.manifest.stat()
        return Position(st.st_ino, st.st_size)

    def documents(
        self,
        site: str | None = None,
        published_from: str | date | None = None,
        published_until: str | date | None = None,
        fetched_from: str | date | None = None,
        fetched_until: str | date | None = None,
        after: Position | str | None = None,
        skip_missing: bool = False,
    ) -> Iterator[Document]:
        """The documents that pass every filter given, in manifest order.

        A document whose text file is missing raises MissingText, or, with
        ``skip_missing``, is logged and left out (``self.missing`` lists them).
        """
        published = Span.parse("published", published_from, published_until)
        fetched = Span.parse("fetched", fetched_from, fetched_until)
        start = self._start(after)
        self.missing: list[MissingText] = []
        root = str(self.archive_dir)
        with self.manifest.open("rb") as f:
            line_no = self._lines_before(start) if start else 0
            f.seek(start)
            for raw in f:
                line_no += 1
                if not raw.endswith(b"\n"):
                    break  # a line still being written
                meta = json.loads(raw)
                if site is not None and meta.get("site") != site:
                    continue
                if meta.get("published") not in published or meta.get("fetched_at") not in fetched:
                    continue
                # A plain string: pathlib interns every part of a path, and the interpreter's table of
                # interned strings would grow with the unique file names (to a few hundred KB).
                path = os.path.join(root, meta["path"])
                try:
                    with open(path, encoding="utf-8") as text_file:
                        text = text_file.read()
                except FileNotFoundError:
                    missing = MissingText(line_no, Path(path))
                    if not skip_missing:
                        raise missing from None
                    logger.error("%s", missing)
                    self.missing.append(missing)
                    continue
                yield Document(text, meta, line_no)

    def captures(self, url: str, site: str | None = None) -> list[CdxEntry]:
        """Every capture of this URL in the CDXJ index (of its site, or of every site), oldest first."""
        sites = [site] if site else sorted(p.stem for p in (self.archive_dir / "index").glob("*.cdxj"))
        return sorted((e for s in sites for e in lookup(self.archive_dir, s, url)), key=lambda e: e.timestamp)

    def _start(self, after: Position | str | None) -> int:
        if after is None:
            return 0
        position = Position.parse(after) if isinstance(after, str) else after
        now = self.position()
        if position.inode != now.inode or position.offset > now.offset:
            raise CorpusError(
                f"position {position} is not in {self.manifest} (replaced or rebuilt since): read it whole instead"
            )
        return position.offset

    def _lines_before(self, offset: int) -> int:
        """Line numbers stay those of the whole manifest when reading from a position."""
        count = 0
        with self.manifest.open("rb") as f:
            while offset > 0:
                chunk = f.read(min(offset, 1 << 20))
                if not chunk:
                    break
                count += chunk.count(b"\n")
                offset -= len(chunk)
        return count
