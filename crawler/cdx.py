"""The CDXJ index of a site's captures: ARCHIVE_DIR/index/<site>.cdxj, as pywb and the field read it.

One line per response (and revisit, resource, metadata) record, written by
cdxj-indexer: ``<SURT> <timestamp> <JSON>``, the JSON naming the capture
file relative to ARCHIVE_DIR, the record's offset and length, its status,
MIME type and payload digest. Lines are sorted, so a URL's captures are
found by binary search, without opening a capture or walking the tree.

Capture files are named by their content and never rewritten, so keeping
the index up to date is adding the files it does not name yet: after each
crawl (``crawler.capture.indexer``) and with ``scrapy index``. The files
already indexed are not read again; the new lines are merged into the
sorted index, which is replaced atomically, under a lock that several
workers of a shared crawl take in turn.
"""

from __future__ import annotations

import fcntl
import heapq
import io
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from crawler.store.atomic import replace

logger = logging.getLogger(__name__)

# Files indexed in one go: bounded memory for the new lines of a first index of a large archive.
_CHUNK = 2000


@dataclass(frozen=True)
class CdxEntry:
    surt: str
    timestamp: str  # 14 digits, UTC, from the record's WARC-Date
    url: str
    mime: str | None
    status: int | None
    digest: str | None
    length: int
    offset: int
    filename: str  # relative to ARCHIVE_DIR

    @classmethod
    def parse(cls, line: str) -> CdxEntry:
        surt, timestamp, raw = line.rstrip("\n").split(" ", 2)
        fields = json.loads(raw)
        status = fields.get("status")
        return cls(
            surt=surt,
            timestamp=timestamp,
            url=fields["url"],
            mime=fields.get("mime"),
            status=int(status) if status and status.isdigit() else None,
            digest=fields.get("digest"),
            length=int(fields["length"]),
            offset=int(fields["offset"]),
            filename=fields["filename"],
        )


def index_path(archive_dir: Path, site: str) -> Path:
    return archive_dir / "index" / f"{site}.cdxj"


def captured_sites(archive_dir: Path) -> list[str]:
    """The sites the archive holds captures of: the folders of warc/."""
    warc_dir = archive_dir / "warc"
    if not warc_dir.is_dir():
        return []
    return sorted(p.name for p in warc_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def indexed_sites(archive_dir: Path) -> list[str]:
    return sorted(p.stem for p in (archive_dir / "index").glob("*.cdxj"))


def read_index(archive_dir: Path, site: str) -> Iterator[CdxEntry]:
    """Every line of the site's index, in order; nothing when there is no index."""
    path = index_path(archive_dir, site)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield CdxEntry.parse(line)


def surt_key(url: str) -> str:
    """The index's sort key of a URL, as cdxj-indexer (and pywb) compute it."""
    from cdxj_indexer.main import CDXJIndexer

    return CDXJIndexer.get_url_key(None, url)  # type: ignore[arg-type]


def lookup(archive_dir: Path, site: str, url: str) -> list[CdxEntry]:
    """The captures of one URL, oldest first, found by binary search in the sorted index."""
    path = index_path(archive_dir, site)
    if not path.exists():
        return []
    key = surt_key(url)
    prefix = (key + " ").encode()
    found = []
    with path.open("rb") as f:
        f.seek(_first_line_at_or_after(f, prefix))
        for raw in f:
            if not raw.startswith(prefix):
                break
            found.append(CdxEntry.parse(raw.decode("utf-8")))
    return found


def _first_line_at_or_after(f: io.BufferedReader, prefix: bytes) -> int:
    """Offset of the first line that does not sort before ``prefix``."""
    # Bisect to within a few KB: lo is always the start of a line that sorts before prefix (or 0).
    lo, hi = 0, os.fstat(f.fileno()).st_size
    while hi - lo > 4096:
        mid = (lo + hi) // 2
        f.seek(mid)
        f.readline()  # the rest of the line mid falls in
        start = f.tell()
        line = f.readline()
        if line and line < prefix:
            lo = start
        else:
            hi = mid
    f.seek(lo)
    while True:
        pos = f.tell()
        line = f.readline()
        if not line or line >= prefix:
            return pos


def index_lines(archive_dir: Path, files: Iterable[str | Path]) -> list[str]:
    """The index lines of these capture files, sorted."""
    from cdxj_indexer.main import CDXJIndexer

    out = io.StringIO()
    CDXJIndexer(out, [str(p) for p in files], dir_root=str(archive_dir)).process_all()
    return sorted(out.getvalue().splitlines(keepends=True))


def written_index_lines(records: Iterable[tuple[Any, tuple[int, int]]], filename: str) -> list[str]:
    """The index lines of warcio records just written to ``filename``, each with its (offset, length) there.

    cdxj-indexer's own choice of records and fields, from the records in
    memory: the same lines as reading the file back (``index_lines``, and a
    test holds them equal) without inflating and parsing what was just written.
    """
    from cdxj_indexer.main import CDXJIndexer

    out = io.StringIO()
    indexer = CDXJIndexer(out, [], filename=filename)
    indexer.curr_filename = filename
    for record, (offset, length) in records:
        if indexer.filter_record(record):
            indexer.process_index_entry(_Span(offset, length), record, filename, out)
    return out.getvalue().splitlines(keepends=True)


@dataclass(frozen=True)
class _Span:
    """Where a record sits in its file, asked by cdxj-indexer of the archive iterator it reads with."""

    offset: int
    length: int

    def get_record_offset(self) -> int:
        return self.offset

    def get_record_length(self) -> int:
        return self.length


def new_lines_path(archive_dir: Path, site: str) -> Path:
    """Where a crawl process keeps the index lines of the captures it published, until its end."""
    # Not ending in .cdxj: pywb reads every .cdxj file of index/, hidden ones too.
    return archive_dir / "index" / f".tmp-new-{site}-{os.getpid()}.lines"


def stale_index_files(archive_dir: Path, site: str) -> list[Path]:
    """What a killed crawl or index update of the site left in index/; only safe to remove under the crawl lock."""
    folder = archive_dir / "index"
    return [*folder.glob(f".tmp-new-{site}-*.lines"), *folder.glob(f".tmp-run-*-{site}.lines")]


def update_index(
    archive_dir: Path,
    site: str,
    progress: Callable[[int], None] | None = None,
    fsync: bool = True,
    known: Path | None = None,
) -> int:
    """Adds to the site's index the capture files it does not name yet; how many files were added.

    ``known`` holds lines already made for some of them (by the crawl's
    workers): those files are not read again.
    """
    warc_dir = archive_dir / "warc" / site
    path = index_path(archive_dir, site)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_suffix(".lock")):
        indexed = {entry.filename for entry in read_index(archive_dir, site)}
        todo = [name for name in _capture_names(archive_dir, warc_dir) if name not in indexed]
        if not todo:
            return 0
        made = _known_lines(known, set(todo))
        # New lines go to sorted runs on disk, then one merge with the index: memory stays bounded.
        runs: list[Path] = []
        try:
            for i in range(0, len(todo), _CHUNK):
                chunk = todo[i : i + _CHUNK]
                run = path.with_name(f".tmp-run-{os.getpid()}-{len(runs)}-{site}.lines")
                lines = [line for name in chunk for line in made.get(name, ())]
                unknown = [os.path.join(archive_dir, name) for name in chunk if name not in made]
                lines = sorted(lines + index_lines(archive_dir, unknown)) if unknown else sorted(lines)
                run.write_text("".join(lines), encoding="utf-8")
                runs.append(run)
                if progress is not None:
                    progress(len(chunk))

            def write(out: io.BufferedWriter) -> None:
                sources = [path.open(encoding="utf-8")] if path.exists() else []
                sources += [r.open(encoding="utf-8") for r in runs]
                try:
                    for line in heapq.merge(*sources):
                        out.write(line.encode("utf-8"))
                finally:
                    for s in sources:
                        s.close()

            replace(path, write, fsync=fsync)
        finally:
            for run in runs:
                run.unlink(missing_ok=True)
    return len(todo)


def _capture_names(archive_dir: Path, warc_dir: Path) -> list[str]:
    """Every capture file under warc_dir, named from ARCHIVE_DIR, sorted.

    Plain strings from os.walk: pathlib interns every part of a path, and the
    interpreter's table of interned strings would grow with the unique names.
    """
    root = str(archive_dir)
    names = []
    for folder, _, files in os.walk(warc_dir):
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        names += [f"{rel}/{name}" for name in files if name.endswith(".warc.gz") and not name.startswith(".")]
    return sorted(names)


def _known_lines(known: Path | None, wanted: set[str]) -> dict[str, list[str]]:
    """filename -> its lines, from a file of lines made earlier, for the wanted files only."""
    made: dict[str, list[str]] = {}
    if known is None or not known.exists():
        return made
    with known.open(encoding="utf-8") as f:
        for line in f:
            try:
                filename = json.loads(line.split(" ", 2)[2])["filename"]
            except (IndexError, ValueError, KeyError):
                continue  # a line cut short by a crash: that file is read again
            if filename in wanted:
                made.setdefault(filename, []).append(line)
    return made


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
