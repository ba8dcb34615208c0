"""Rebuild text/ and manifest.jsonl from WARC files alone.

Worker processes each read their own share of the WARC files (a group of
small files, or a byte range of a large one) and run the crawl's own
extraction. Records are read by FastWARC where each is proven to be what
warcio reads, and by warcio from the first one that is not, so that
damage is reported as warcio finds it. Workers send back only what is
left of a page: counts, error lines, the text and the manifest line of
each document. The main process writes the texts, a batch at a time with
one filesystem sync per batch, in a thread of its own; keeps the earliest
capture of each (url, sha256) document, as the crawl did; and appends
those to the manifest at the end.

Memory stays flat in the size of the archive: a worker holds one share at
a time (at most ``_SHARE_DOCS`` documents), the main process two batches
of texts, and the earliest captures wait in an SQLite database on disk.
"""

from __future__ import annotations

import base64
import binascii
import gc
import hashlib
import json
import logging
import os
import re
import sqlite3
import struct
import sys
import threading
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from warcio.archiveiterator import WARCIterator
from warcio.digestverifyingreader import _compare_digest_rfc_3548
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders

from crawler import settings as default_settings
from crawler.article import CUT
from crawler.capture.reading import cut_short
from crawler.capture.records import CaptureRef
from crawler.extract.document import NoDocument, extract_document
from crawler.sites import Site
from crawler.store.atomic import RunFolder, Staged, discard, publish_staged
from crawler.store.manifest import Manifest, manifest_line, pair_key
from crawler.store.textstore import StoredText, manifest_entry, text_file

logger = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc", ".warc.gz")
# A share of work is about this many bytes of WARC files (about 30 article
# pages): small enough that the last shares end close together on every
# worker, large enough that sending it out and its results back cost little.
_SHARE_BYTES = 1024 * 1024
# A share stops after this many article pages and hands back the rest: what
# a worker holds, and what a result carries, stays bounded in a file of any size.
_SHARE_DOCS = 128
# Texts written and given their names after one filesystem sync, and
# manifest lines appended with one write (and one fsync).
_PUBLISH_DOCS = 256
_PUBLISH_BYTES = 16 * 1024 * 1024
_APPEND_LINES = 1000
# Where reading can start again after a broken record: a gzip member header
# (a .warc.gz has one member per record), or a WARC version line at the start
# of a line (an uncompressed file).
_RESYNC = re.compile(rb"\x1f\x8b\x08|(?:^|(?<=\n))WARC/1\.[01]\r\n")
_SCAN_CHUNK = 1024 * 1024
# warcio's own parser of HTTP status lines and headers.
_HTTP_PARSER = ArcWarcRecordLoader().http_parser


@dataclass
class RebuildSummary:
    records_read: int = 0
    documents_written: int = 0
    already_present: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    # Records whose WARC-Block-Digest or WARC-Payload-Digest does not match their bytes.
    digest_mismatches: int = 0
    check_digests: bool = False

    def lines(self) -> list[str]:
        out = [
            f"records read:       {self.records_read}",
            f"documents written:  {self.documents_written}",
            f"already present:    {self.already_present}",
        ]
        out += [f"skipped ({reason}): {n}" for reason, n in sorted(self.skipped.items())]
        out += [f"{note.replace('_', ' ')}: {n}" for note, n in sorted(self.notes.items())]
        if self.digest_mismatches:
            fate = "skipped" if self.check_digests else "used"
            out.append(f"digest mismatches:  {self.digest_mismatches} ({fate})")
        out.append(f"errors:             {len(self.errors)}")
        return out

    def add(self, other: RebuildSummary) -> None:
        """Count in what a worker found in its share."""
        self.records_read += other.records_read
        self.documents_written += other.documents_written
        self.already_present += other.already_present
        self.skipped.update(other.skipped)
        self.notes.update(other.notes)
        self.errors += other.errors
        self.digest_mismatches += other.digest_mismatches


@dataclass(frozen=True)
class SiteFor:
    """The site a record's URL belongs to: the one site given, or the bundled site whose domain it is in.

    A class, not a closure, so that it pickles to the worker processes.
    """

    sites: tuple[Site, ...]
    every_url: bool = False  # one site given (--site): every record is taken as its

    def __call__(self, url: str) -> Site | None:
        if self.every_url:
            return self.sites[0]
        return next((s for s in self.sites if s.owns(url)), None)


@dataclass(frozen=True)
class _Job:
    """One article response, as extraction needs it."""

    site: Site
    url: str
    content_type: str
    body: bytes
    capture: CaptureRef
    offset: int  # of the record in its WARC file
    cut: bool = False  # its compressed body ends early (crawler.capture.reading.cut_short): no document, as in the crawl


def find_warc_files(sources: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            files += sorted(p for p in source.rglob("*") if p.is_file() and p.name.endswith(WARC_SUFFIXES))
        elif source.is_file():
            files.append(source)
        else:
            raise FileNotFoundError(f"{source}: no such WARC file or directory")
    return files


def capture_path_for(warc_file: Path) -> str:
    """The ``warc`` manifest value: from the archive's ``warc/`` folder on, else the path as given."""
    parts = warc_file.parts
    if "warc" in parts[:-1]:
        index = len(parts) - 1 - parts[::-1].index("warc")
        return Path(*parts[index:]).as_posix()
    return warc_file.as_posix()


def rebuild(
    sources: Iterable[str | Path],
    archive_dir: Path,
    site_for: Callable[[str], Site | None],
    *,
    workers: int = 0,
    fsync: bool = True,
    progress: Callable[[int], None] | None = None,
    check_digests: bool = False,
) -> RebuildSummary:
    """Rebuild ``text/`` and the manifest under ``archive_dir``.

    ``site_for`` runs in the worker processes, so it must pickle: a
    ``SiteFor`` or a module-level function, not a lambda. ``progress`` is
    told how many records were read, a share at a time.

    Digests are always verified, as ``warcio check`` does: a mismatch is
    reported with its file and offset and counts as an error (exit code 1).
    The record is still used unless ``check_digests`` is set, in which case
    it is skipped.
    """
    summary = RebuildSummary(check_digests=check_digests)
    files = find_warc_files(sources)
    workers = workers or os.cpu_count() or 1
    setup = _WorkerSetup(site_for, check_digests)
    # Under text/: creating and removing files in one folder costs less than in the 256 folders
    # the texts fan out to, which each text then touches once, when it is linked to its name;
    # and outside the sites' folders, a crawl's sweep of its own temporary files never takes one.
    # A killed run's folder is removed by the next run.
    staging = RunFolder(archive_dir / "text", ".rebuild-")
    earliest = _EarliestEntries()
    publisher = _Publisher(archive_dir, staging.path, fsync, earliest, summary)
    # What is in memory now (Scrapy, every module imported) stays: frozen, it is not walked by each
    # garbage collection, here or in the forked workers, which then also copy fewer of the pages they
    # share with this process. About 2% of a rebuild.
    gc.freeze()
    try:
        for result in _run_shares(_shares(files, workers), workers, setup):
            for name, level, message in result.logs:
                logging.getLogger(name).log(level, "%s", message)
            summary.add(result.summary)
            publisher.add(result.texts, result.entries)
            if progress and result.summary.records_read:
                progress(result.summary.records_read)
        publisher.close()
        _append_to_manifest(earliest, archive_dir, fsync, summary)
    finally:
        gc.unfreeze()
        publisher.abandon()
        earliest.close()
        staging.remove()
    return summary


# --- sharing the work out -------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """The records of one WARC file that a share rebuilds: those that start in [start, stop).

    Reading starts at ``begin``. A part that starts inside a large file
    reads it from 0 and skips what precedes ``start``, so that it meets the
    records (and the damage) exactly as a reader of the whole file would:
    its parts then share every record and every error out once, wherever
    the cut falls. ``begin`` is past 0 only where an earlier share of the
    same part stopped, at the start of a record it had read.
    """

    index: int  # of the file, in the order given: captures of one date stay in that order
    path: str
    begin: int = 0
    start: int = 0
    stop: int | None = None

    def owns(self, offset: int) -> bool:
        return self.start <= offset and (self.stop is None or offset < self.stop)


_Share = tuple[_Part, ...]


def _shares(files: list[Path], workers: int) -> Iterator[_Share]:
    """The work, in shares of about ``_SHARE_BYTES``.

    A file so large that it would leave the other workers idle at the end
    (more than an even split of the whole between the workers) is cut into
    byte ranges, one share each.
    """
    sizes = [path.stat().st_size for path in files]
    total = sum(sizes) or 1
    group: list[_Part] = []
    group_bytes = 0
    for index, (path, size) in enumerate(zip(files, sizes, strict=True)):
        pieces = min(workers, -(-size * workers // total))
        if pieces > 1:
            step = -(-size // pieces)
            for k in range(pieces):
                yield (_Part(index, str(path), start=k * step, stop=None if k == pieces - 1 else (k + 1) * step),)
            continue
        group.append(_Part(index, str(path)))
        group_bytes += size
        if group_bytes >= _SHARE_BYTES:
            yield tuple(group)
            group, group_bytes = [], 0
    if group:
        yield tuple(group)


@dataclass(frozen=True)
class _WorkerSetup:
    """What every share needs; sent to each worker once, when it starts."""

    site_for: Callable[[str], Site | None]
    check_digests: bool


# A document's manifest entry as the main process keeps it: pair key, capture date, file index, record offset, manifest line.
_Entry = tuple[bytes, str, int, int, bytes]
# A document's text file: its path under ARCHIVE_DIR and its bytes.
_Text = tuple[str, bytes]


@dataclass
class _Result:
    """What a share sends back: small, whatever the size of the pages."""

    summary: RebuildSummary
    texts: list[_Text]  # one per document, as ``entries``
    entries: list[_Entry]  # valid once the texts are on disk
    logs: list[tuple[str, int, str]]  # logger name, level, message: logged again by the main process
    rest: _Share = ()  # what the share did not get to (``_SHARE_DOCS``), to be sent out again


def _run_shares(shares: Iterator[_Share], workers: int, setup: _WorkerSetup) -> Iterator[_Result]:
    """Results as shares end; two shares per worker are in flight, so that none waits for its next."""
    pool = ProcessPoolExecutor(workers, mp_context=_process_context(), initializer=_start_worker, initargs=(setup,))
    in_flight: set[Future[_Result]] = set()
    # Rests go out before new shares: a large file's ranges are its longest chains of shares.
    rests: deque[_Share] = deque()
    try:
        while True:
            while len(in_flight) < 2 * workers:
                share = rests.popleft() if rests else next(shares, None)
                if share is None:
                    break
                in_flight.add(pool.submit(_rebuild_share, share))
            if not in_flight:
                break
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                if result.rest:
                    rests.append(result.rest)
                yield result
    finally:
        # On an error (or ^C) the shares not started are dropped, not run to the end.
        pool.shutdown(wait=True, cancel_futures=True)


def _process_context() -> BaseContext:
    """fork where it is safe, else forkserver.

    A forked worker starts at once, with every module already imported; a
    forkserver's first worker waits for a new interpreter to import them
    (about 0.3 s). Forking is safe only while this process runs one thread:
    no lock can then be copied mid-use. (A terminal's progress bar is made
    without its monitor thread for this reason.)
    """
    if sys.platform == "linux" and threading.active_count() == 1:
        return get_context("fork")
    context = get_context("forkserver")
    # Imported once, by the server that forks the workers, not once per worker.
    context.set_forkserver_preload([__name__])
    return context


class _Publisher:
    """Writes the workers' texts, ``_PUBLISH_DOCS`` documents at a time, in a thread.

    Creating thousands of small files costs kernel time and, on a busy
    disk, waits (50 to 300 microseconds a file on ext4 here, up to a tenth
    of a page's extraction). In a thread of the main process, which
    otherwise only waits for results, the waits overlap the workers'
    extraction instead of stopping it. A batch is written under temporary
    names, then with fsync one filesystem sync puts all of it on disk
    before any of its names appear (``publish_staged``): a name never
    points at bytes that are not there, at the cost of one sync per batch
    instead of one fsync per file. A batch's entries join the
    earliest-capture table only once its texts are published, and the
    manifest is written after the last batch.
    """

    def __init__(
        self, archive_dir: Path, staging: Path, fsync: bool, earliest: _EarliestEntries, summary: RebuildSummary
    ) -> None:
        self._archive_dir = archive_dir
        self._staging = staging
        self._fsync = fsync
        self._earliest = earliest
        self._summary = summary
        self._texts: list[_Text] = []
        self._entries: list[_Entry] = []
        self._bytes = 0
        self._folders: set[str] = set()  # text folders known to exist: one mkdir each, not one per text
        self._names = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rebuild-publish")
        self._publishing: tuple[Future[None], list[_Entry]] | None = None

    def add(self, texts: list[_Text], entries: list[_Entry]) -> None:
        self._texts += texts
        self._entries += entries
        self._bytes += sum(len(data) for _, data in texts)
        if len(self._entries) >= _PUBLISH_DOCS or self._bytes >= _PUBLISH_BYTES:
            self._flush()

    def close(self) -> None:
        """Publish what is left, and wait until every batch is published."""
        self._flush()
        self._collect()
        self._thread.shutdown()

    def abandon(self) -> None:
        """After an error: the batch being written is let finish; what it staged it removes itself."""
        self._thread.shutdown(wait=True, cancel_futures=True)

    def _flush(self) -> None:
        self._collect()
        if not self._entries:
            return
        batch = self._thread.submit(self._publish, self._texts)
        self._publishing = (batch, self._entries)
        self._texts, self._entries, self._bytes = [], [], 0

    def _publish(self, texts: list[_Text]) -> None:
        staged: list[Staged] = []
        try:
            for relative, data in texts:
                if (text := self._stage(relative, data)) is not None:
                    staged.append(text)
            publish_staged(staged, sync=self._fsync)
        except BaseException:
            # No temporary name outlives a failed batch (publish_staged removes only those it got to).
            for text in staged:
                discard(text)
            raise

    def _stage(self, relative: str, data: bytes) -> Staged | None:
        """The text under a temporary name in the staging folder; None if its file is there already.

        Paths are plain strings: pathlib would cost more than writing the file.
        """
        path = os.path.join(self._archive_dir, relative)
        if os.path.exists(path):
            return None
        folder = os.path.dirname(path)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        self._names += 1
        tmp = os.path.join(self._staging, str(self._names))
        # The umask applies, as to the crawl's texts (atomic.FILE_MODE).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        staged = Staged(tmp, path)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except BaseException:
            discard(staged)
            raise
        return staged

    def _collect(self) -> None:
        """Wait for the batch being published; its entries are then valid, or its documents failed."""
        if self._publishing is None:
            return
        batch, entries = self._publishing
        try:
            batch.result()
        except OSError as e:
            for entry in entries:
                document = json.loads(entry[4])
                message = f"{document['warc']} ({document['url']}): text not stored: {type(e).__name__}: {e}"
                logger.error("%s", message)
                self._summary.errors.append(message)
        else:
            self._earliest.offer(entries)
        self._publishing = None


def _append_to_manifest(earliest: _EarliestEntries, archive_dir: Path, fsync: bool, summary: RebuildSummary) -> None:
    manifest = Manifest(archive_dir / "manifest.jsonl", fsync=fsync)
    try:
        for entries in earliest.entries(_APPEND_LINES):
            appended = sum(manifest.append_many(entries))
            summary.documents_written += appended
            summary.already_present += len(entries) - appended
    finally:
        manifest.close()


class _EarliestEntries:
    """For each (url, sha256), the manifest line of its earliest capture, as a crawl would have appended it.

    Kept in a private SQLite database: on disk (in SQLite's temporary
    folder, $SQLITE_TMPDIR or $TMPDIR, else /var/tmp), removed when closed
    or when the process ends however it ends; memory holds its page cache
    only, whatever the number of documents. Captures of one date keep the
    order of the files and of the records in them.
    """

    def __init__(self) -> None:
        # Opened at the first entry: after the workers are forked, which must not inherit a connection.
        self._db: sqlite3.Connection | None = None

    def offer(self, entries: list[_Entry]) -> None:
        if not entries:
            return
        if self._db is None:
            self._db = self._open()
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO earliest VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
            " date = excluded.date, file = excluded.file, offset = excluded.offset, line = excluded.line"
            " WHERE (excluded.date, excluded.file, excluded.offset) < (earliest.date, earliest.file, earliest.offset)",
            entries,
        )
        self._db.execute("COMMIT")

    def entries(self, chunk: int) -> Iterator[list[dict[str, Any]]]:
        """Every kept entry, earliest capture first, ``chunk`` at a time."""
        if self._db is None:
            return
        rows = self._db.execute("SELECT line FROM earliest ORDER BY date, file, offset")
        while batch := rows.fetchmany(chunk):
            yield [json.loads(line) for (line,) in batch]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    @staticmethod
    def _open() -> sqlite3.Connection:
        db = sqlite3.connect("", isolation_level=None)
        # A scratch database: nothing to recover after a crash, so no journal and no syncs.
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-2048")
        db.execute("CREATE TABLE earliest (key BLOB PRIMARY KEY, date TEXT, file INTEGER, offset INTEGER, line BLOB)")
        return db


# --- in a worker process ----------------------------------------------------------

_setup: _WorkerSetup | None = None


class _LogBuffer(logging.Handler):
    """A worker's log records, sent back with its results: the main process logs them with its own setup."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self._lines.append((record.name, record.levelno, message))

    def take(self) -> list[tuple[str, int, str]]:
        lines, self._lines = self._lines, []
        return lines


_logs = _LogBuffer()


def _start_worker(setup: _WorkerSetup) -> None:
    global _setup
    _setup = setup
    logging.root.handlers[:] = [_logs]


def _rebuild_share(share: _Share) -> _Result:
    assert _setup is not None, "a worker starts with _start_worker"
    work = _ShareWork(_setup)
    rest: _Share = ()
    try:
        for i, part in enumerate(share):
            stopped_at = work.rebuild_part(part)
            if stopped_at is not None:
                rest = (replace(part, begin=stopped_at, start=max(part.start, stopped_at)), *share[i + 1 :])
                break
    finally:
        # Taken even from a share that fails, so that they are not sent with the next one.
        logs = _logs.take()
    return _Result(work.summary, work.texts, work.entries, logs, rest)


class _ShareWork:
    """One share in a worker: its pages extracted, their texts and manifest lines made."""

    def __init__(self, setup: _WorkerSetup) -> None:
        self.setup = setup
        self.summary = RebuildSummary(check_digests=setup.check_digests)
        self.texts: list[_Text] = []
        self.entries: list[_Entry] = []
        self.pages = 0

    def rebuild_part(self, part: _Part) -> int | None:
        """Rebuild the part's records; the offset of the record to go on from if the share is full."""
        warc_file = Path(part.path)
        for record, block, offset in _owned_records(part, self.summary):
            if self.pages >= _SHARE_DOCS:
                return offset
            self.summary.records_read += 1
            job = _job_of(record, block, offset, warc_file, self.setup.site_for, self.summary)
            if job is not None:
                self.pages += 1
                self._extract(job, part.index)
        return None

    def _extract(self, job: _Job, file_index: int) -> None:
        if job.cut:
            self.summary.skipped[f"no_document/{CUT.reason}"] += 1
            return
        try:
            rules = job.site.rules_at(job.capture.date)
            result = extract_document(job.url, job.content_type, job.body, rules, fetched=job.capture.date)
            if isinstance(result, NoDocument):
                self.summary.skipped[f"no_document/{result.reason}"] += 1
                return
            self.summary.notes.update(result.notes)
            stored, data = _text_file(job.site.name, result.text)
            entry = manifest_entry(result, url=job.url, site=job.site.name, stored=stored, capture=job.capture)
        except Exception as e:  # noqa: BLE001 - one bad page must not stop the rebuild
            message = f"{job.capture.path} ({job.url}): extraction failed: {type(e).__name__}: {e}"
            logger.error("%s", message)
            self.summary.errors.append(message)
            return
        self.texts.append((stored.path, data))
        key = pair_key(job.url, stored.sha256)
        self.entries.append((key, job.capture.date or "", file_index, job.offset, manifest_line(entry)))


def _text_file(site: str, text: str) -> tuple[StoredText, bytes]:
    """Where ``textstore.store_text`` stores a text, and its bytes: text/<site>/<t[0:2]>/<t>.txt, t their SHA-256.

    ``written`` says nothing yet: the main process writes the file, unless it is there already.
    """
    data, sha, relative = text_file(site, text)
    return StoredText(sha, relative, written=True), data


# --- reading WARC files -------------------------------------------------------------


def read_jobs(
    warc_file: Path,
    site_for: Callable[[str], Site | None],
    summary: RebuildSummary,
    progress: Callable[[int], None] | None = None,
) -> Iterator[_Job]:
    """The article jobs of one WARC file; never raises for what is in the file.

    Every record is either turned into a job, counted as skipped (not a
    response, no site, not an article, not a 200), or reported in
    ``summary.errors`` with the file and offset and skipped.
    """
    for record, block, offset in _owned_records(_Part(0, str(warc_file)), summary):
        summary.records_read += 1
        if progress:
            progress(1)
        job = _job_of(record, block, offset, warc_file, site_for, summary)
        if job is not None:
            yield job


def _owned_records(part: _Part, summary: RebuildSummary) -> Iterator[tuple[Any, bytes, int]]:
    """The records of a part, with the errors met in its range reported in ``summary``."""
    warc_file = Path(part.path)

    def report(offset: int, error: Exception) -> None:
        if part.owns(offset):
            _error(summary, warc_file, offset, error)

    for record, block, offset in _records(warc_file, report, begin=part.begin):
        if part.stop is not None and offset >= part.stop:
            return
        if offset >= part.start:
            yield record, block, offset


def _job_of(
    record: Any,
    block: bytes,
    offset: int,
    warc_file: Path,
    site_for: Callable[[str], Site | None],
    summary: RebuildSummary,
) -> _Job | None:
    """The record's article job; None if it is skipped (and counted) or broken (and reported)."""
    try:
        http, payload = _split_http(record, block)
        if not _digests_ok(record, payload, warc_file, offset, summary):
            return None
        return _job_for(record, http, payload, warc_file, offset, site_for, summary)
    except Exception as e:  # noqa: BLE001 - a broken record is reported and skipped
        _error(summary, warc_file, offset, e)
        return None


def _records(
    warc_file: Path, report: Callable[[int, Exception], None], begin: int = 0
) -> Iterator[tuple[Any, bytes, int]]:
    """Every whole record from ``begin`` on, its raw block (HTTP headers and payload) and its offset.

    The records FastWARC reads and proves come first (``_verified_records``);
    warcio reads on from the first one it could not prove. What cannot be
    read is told to ``report``, with its offset. Past a broken record,
    reading resumes at the next gzip member or WARC version line. HTTP
    headers are not parsed here (``no_record_parse``): warcio would take the
    first lines of a response without HTTP headers as a status line and
    headers, and eat the body; ``_split_http`` decides.
    """
    # A file whose first bytes are no WARC record is either not a WARC file
    # at all or one whose first record is damaged: which one, only the rest
    # of the file tells.
    held: Exception | None = None
    with warc_file.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            report(0, EOFError("empty file, no WARC records"))
            return
        start = yield from _verified_records(f, begin)
        if start is None:
            return
        # Whatever is before ``start`` was read, by FastWARC or by an earlier share.
        read_any = start > 0
        while True:
            f.seek(start)
            # WARC only: were warcio allowed to guess ARC, a damaged first line
            # would be read as an ARC header whose length swallows the records after it.
            records = WARCIterator(f, no_record_parse=True, check_digests=True)
            offset = start
            try:
                for record in records:
                    # Before the record is consumed, offset is where it starts.
                    offset = records.offset
                    if record.rec_type is None or record.length is None:
                        # A blank line where a record should start: warcio reads
                        # it as a record without headers, whose block is the rest of the file.
                        raise ValueError("Invalid WARC record: no WARC-Type or Content-Length")
                    block = record.raw_stream.read()
                    # A cut-off file reads as a short record, not as an
                    # error: the reader still expects the promised bytes.
                    if missing := getattr(record.raw_stream, "limit", 0):
                        raise EOFError(f"record truncated, {missing} bytes missing")
                    if held is not None:
                        report(0, held)
                        held = None
                    read_any = True
                    yield record, block, offset
                # warcio ends quietly at a blank line it cannot read on from
                # (a damaged first byte, garbage after the last record): what
                # is left must be nothing but whitespace.
                if _has_data(f, records.offset):
                    raise ValueError("Invalid WARC record: bytes that are no WARC record")
                break
            except Exception as e:  # noqa: BLE001 - warcio, zlib and parse errors alike
                # records.offset is still the start of the record being read
                offset = max(offset, records.offset)
                if offset == 0 and not read_any and "Invalid WARC record" in str(e):
                    held = e
                else:
                    report(offset, e)
            next_start = _next_record_start(f, offset + 1)
            if next_start is None:
                break
            start = next_start
    if held is not None:
        report(0, ValueError(f"not a WARC file ({held})"))


_PLAIN_NAME = re.compile(rb"[!-9;-~]+")
_WARC_VERSIONS = (b"WARC/1.0", b"WARC/1.1")
_NO_PROBLEMS = SimpleNamespace(problems=())


@dataclass(frozen=True)
class _VerifiedRecord:
    """A record read by FastWARC: what the rest of this module asks of a warcio record."""

    rec_type: str
    length: int
    headers: dict[str, str]  # lower-cased name: first value
    # Its block digest is checked before it is given (``_verify``).
    digest_checker = _NO_PROBLEMS

    @property
    def rec_headers(self) -> _VerifiedRecord:
        return self

    def get_header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _verified_records(f: Any, begin: int) -> Iterator[tuple[_VerifiedRecord, bytes, int]]:
    """Records of a .warc.gz read by FastWARC, each proven to be what warcio would read; returns where warcio takes over.

    FastWARC inflates and parses records about twice as fast as warcio,
    but reads some damage otherwise: it reads on through a record split
    over two gzip members, or stops quietly at a damaged member header. So
    a record it gives is used only once its gzip member is proven to hold
    that record and nothing else: the member's trailer (the CRC-32 and
    length of its inflated bytes), found just before the next record or at
    the end of the file, must be that of the record's header lines, rebuilt
    from what FastWARC parsed, followed by its block. Its header lines must
    also read the same to warcio, and its block digest match as warcio
    checks it. From the first record that fails any of this (or from
    ``begin``, if the bytes there are no gzip member), warcio reads the
    rest of the file and reports what is wrong as it always did. Returns
    None when every record to the end of the file was proven.
    """
    fd = f.fileno()
    if os.pread(fd, 2, begin) != b"\x1f\x8b":
        return begin
    f.seek(begin)
    resume = begin  # where the first record not yet given starts
    # The last record read, given only once the trailer after it is checked.
    held: tuple[_VerifiedRecord, bytes, bytes] | None = None  # record, block, the trailer its member must end with
    try:
        for fast in FastArchiveIterator(f, parse_http=False):
            offset = fast.stream_pos
            if held is not None:
                if os.pread(fd, 8, offset - 8) != held[2]:
                    return resume
                yield held[0], held[1], resume
                held = None
            resume = offset
            held = _verify(fast)
            if held is None:
                return resume
    except Exception:  # noqa: BLE001 - whatever FastWARC cannot read, warcio reads and reports
        return resume
    if held is None or os.pread(fd, 8, os.fstat(fd).st_size - 8) != held[2]:
        return resume
    yield held[0], held[1], resume
    return None


def _verify(fast: Any) -> tuple[_VerifiedRecord, bytes, bytes] | None:
    """A FastWARC record as warcio would read it, its block, and its gzip member's trailer; None if not sure."""
    headers = fast.headers
    status = headers.status_line_bytes
    if status not in _WARC_VERSIONS:
        return None
    parsed: dict[str, str] = {}
    head = [status, b"\r\n"]
    for name, value in headers.items_bytes():
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
        # As warcio splits and strips a header line, this one reads as (name, text).
        if not _PLAIN_NAME.fullmatch(name) or text != text.strip() or not text.isprintable():
            return None
        parsed.setdefault(name.decode("ascii").lower(), text)
        head += (name, b": ", value, b"\r\n")
    head.append(b"\r\n")
    rec_type, length, uri = parsed.get("warc-type"), parsed.get("content-length"), parsed.get("warc-target-uri")
    if rec_type is None or length is None or not (length.isascii() and length.isdigit()):
        return None
    if uri is not None and (uri.startswith("<") or " " in uri):
        return None  # warcio rewrites such URIs
    block = fast.reader.read()
    if len(block) != int(length) or fast.content_length != len(block):
        return None
    if rec_type != "revisit":  # whose digests warcio does not check
        digest = parsed.get("warc-block-digest")
        if digest and not _block_digest_matches(digest, block):
            return None  # warcio then reports it
        digest = parsed.get("warc-payload-digest")
        if digest and "warc-segment-number" not in parsed and not _payload_digest_readable(digest):
            return None
    raw = b"".join(head)
    crc = zlib.crc32(b"\r\n\r\n", zlib.crc32(block, zlib.crc32(raw)))
    trailer = struct.pack("<II", crc, (len(raw) + len(block) + 4) & 0xFFFFFFFF)
    return _VerifiedRecord(rec_type, len(block), parsed), block, trailer


def _block_digest_matches(declared: str, block: bytes) -> bool:
    """warcio's own test of a block digest (``check_digests``), so that both pass the same records."""
    algo = declared.partition(":")[0]
    try:
        computed = f"{algo}:{base64.b32encode(_hash(algo, block)).decode()}"
        # What warcio compares: str() of its Digester, which is this string.
        return _compare_digest_rfc_3548(computed, declared) is True
    except Exception:  # noqa: BLE001 - an unknown algorithm, a value that does not decode: warcio's to report
        return False


def _payload_digest_readable(declared: str) -> bool:
    """Whether warcio reads past this payload digest: one it cannot decode makes it raise mid-record.

    (Reading raw blocks, warcio compares the payload digest with the whole
    block's; a mismatch is no matter, ``_digests_ok`` checks payloads. Only
    whether it raises depends on the declared value alone.)
    """
    algo, sep, _ = declared.partition(":")
    if not sep:
        return True  # warcio notes it and reads on
    try:
        placeholder = f"{algo}:{base64.b32encode(_hash(algo, b'')).decode()}"
    except ValueError:
        return True  # an unknown algorithm: the same
    except Exception:  # noqa: BLE001 - a hash with no fixed length: warcio raises on it
        return False
    try:
        _compare_digest_rfc_3548(placeholder, declared)
    except Exception:  # noqa: BLE001 - binascii.Error, ValueError: what warcio would raise
        return False
    return True


def _hash(algo: str, data: bytes) -> bytes:
    """``hashlib.new(algo, data).digest()``; hashlib's own constructor where there is one, as hashlib.new
    looks the algorithm up in OpenSSL each time (10 us, a third of hashing a page)."""
    constructor = getattr(hashlib, algo, None) if algo in hashlib.algorithms_guaranteed else None
    return (constructor(data) if constructor else hashlib.new(algo, data)).digest()


def _has_data(f: Any, at: int) -> bool:
    f.seek(at)
    while chunk := f.read(_SCAN_CHUNK):
        if chunk.strip():
            return True
    return False


def _next_record_start(f: Any, after: int) -> int | None:
    """The first place at or after ``after`` where a record may begin; read in chunks, so memory stays flat."""
    # One byte before ``after`` is read too: the lookbehind needs the newline before "WARC/1.".
    base = max(after - 1, 0)
    pos = after - base
    while True:
        f.seek(base)
        window = f.read(_SCAN_CHUNK)
        found = _RESYNC.search(window, pos)
        if found is not None:
            return base + found.start()
        if len(window) < _SCAN_CHUNK:
            return None
        # The windows overlap by more than a marker's length, so none is missed across a boundary.
        base += _SCAN_CHUNK - 16
        pos = 1


def _digests_ok(record: Any, payload: bytes, warc_file: Path, offset: int, summary: RebuildSummary) -> bool:
    """Report a record whose digests do not match; False if it must be skipped (``--check-digests``)."""
    # warcio checks the block digest; its payload check assumes the payload
    # starts where the block does (no_record_parse), so that one is ours.
    problems = [p for p in record.digest_checker.problems if "block digest" in p]
    if record.rec_type == "response":
        payload_digest = record.rec_headers.get_header("WARC-Payload-Digest")
        if payload_digest and _digest_matches(payload_digest, payload) is False:
            problems.append(f"payload digest failed: {payload_digest}")
    if not problems:
        return True
    summary.digest_mismatches += 1
    fate = "record skipped (--check-digests)" if summary.check_digests else "record used anyway"
    detail = "; ".join(dict.fromkeys(problems)).encode("ascii", "backslashreplace").decode()[:300]
    message = f"{warc_file}: offset {offset}: digest mismatch: {detail}; {fate}"
    logger.error("%s", message)
    summary.errors.append(message)
    return not summary.check_digests


def _digest_matches(declared: str, data: bytes) -> bool | None:
    """Whether ``algo:value`` is the digest of ``data`` (value in base32, hex or base64); None if it cannot be read."""
    algo, _, value = declared.strip().partition(":")
    try:
        actual = _hash(algo.strip().lower().replace("-", ""), data)
    except ValueError:
        return None
    # RFC 3548 allows any of the three; the length tells which one was used.
    decoders: tuple[Callable[[str], bytes], ...] = (
        lambda v: base64.b32decode(v, casefold=True),
        lambda v: base64.b16decode(v, casefold=True),
        base64.b64decode,
    )
    for decode in decoders:
        try:
            expected = decode(value.strip())
        except (binascii.Error, ValueError):
            continue
        if len(expected) == len(actual):
            return expected == actual
    return None


def _split_http(record: Any, block: bytes) -> tuple[StatusAndHeaders | None, bytes]:
    """The HTTP status and headers of a response record, and its payload.

    A response whose block does not start with an HTTP status line has no
    HTTP headers (some tools write a page's bare body as a response): the
    whole block is the payload.
    """
    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
    if record.rec_type != "response" or not uri.startswith(("http:", "https:")) or not block.startswith(b"HTTP/"):
        return None, block
    stream = _Reader(block)
    http = _HTTP_PARSER.parse(stream)
    return http, block[stream.position :]


class _Reader:
    """Just enough of a stream for warcio's header parser, remembering where the headers end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def readline(self, limit: int | None = None) -> bytes:
        end = self.data.find(b"\n", self.position)
        end = len(self.data) if end < 0 else end + 1
        if limit is not None and limit >= 0:
            end = min(end, self.position + limit)
        line = self.data[self.position : end]
        self.position = end
        return line


def _error(summary: RebuildSummary, warc_file: Path, offset: int, e: Exception) -> None:
    # One line whatever the exception says (warcio quotes the bytes it could not read).
    detail = str(e).strip().encode("ascii", "backslashreplace").decode()
    detail = detail.replace("\r", "\\r").replace("\n", "\\n")[:300]
    message = f"{warc_file}: offset {offset}: {type(e).__name__}: {detail}"
    logger.error("skipped, unreadable: %s", message)
    summary.errors.append(message)


def _job_for(
    record: Any,
    http: StatusAndHeaders | None,
    raw: bytes,
    warc_file: Path,
    offset: int,
    site_for: Callable[[str], Site | None],
    summary: RebuildSummary,
) -> _Job | None:
    if record.rec_type != "response":
        return None
    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
    site = site_for(uri)
    if site is None:
        summary.skipped["no_site"] += 1
        return None
    if not site.is_article(uri):
        summary.skipped["not_article"] += 1
        return None
    if http is None:
        # No HTTP headers: read it as a resource record, its body as the
        # page and the record's own Content-Type as the page's. There is no
        # status to check; the record exists because the page was there.
        summary.notes["response_without_http_headers"] += 1
        logger.warning(
            "%s: offset %d: response record without HTTP headers, its whole block read as the page: %s",
            warc_file,
            offset,
            uri,
        )
        content_type = record.rec_headers.get_header("Content-Type") or ""
        if content_type.lower().startswith("application/http"):
            content_type = ""
        return _Job(site, uri, content_type, raw, _capture_ref(record, warc_file), offset)
    if http.get_statuscode() != "200":
        summary.skipped["status"] += 1
        return None
    encodings = [v.encode("latin-1") for k, v in http.headers if k.lower() == "content-encoding"]
    try:
        body = _decode_content(raw, encodings)
    except _DecompressionMaxSizeExceeded:
        # A compression bomb: the crawl refused it at DOWNLOAD_MAXSIZE, and so does the rebuild.
        summary.skipped["too_large"] += 1
        logger.warning("%s: offset %d: %s inflates past %d bytes, skipped", warc_file, offset, uri, _MAX_DECODED)
        return None
    # WARC-Truncated: the crawl kept a body its connection cut short (or another crawler marked one).
    cut = bool(record.rec_headers.get_header("WARC-Truncated")) or cut_short(raw, encodings)
    return _Job(site, uri, http.get_header("Content-Type") or "", body, _capture_ref(record, warc_file), offset, cut)


def _capture_ref(record: Any, warc_file: Path) -> CaptureRef:
    return CaptureRef(
        path=capture_path_for(warc_file),
        record_id=record.rec_headers.get_header("WARC-Record-ID"),
        date=record.rec_headers.get_header("WARC-Date"),
    )


# The crawl's own bound on an inflated body, so that both refuse the same bombs.
_MAX_DECODED = default_settings.DOWNLOAD_MAXSIZE


def _decode_content(body: bytes, encodings: list[bytes]) -> bytes:
    # Scrapy's own decoding steps, so that the rebuild parses the bytes the crawl parsed.
    if not encodings:
        return body
    to_decode, _ = HttpCompressionMiddleware._split_encodings(encodings)
    for encoding in to_decode:
        body = HttpCompressionMiddleware._decode(body, encoding, max_size=_MAX_DECODED)
    return body
