"""Rebuild text/ and manifest.jsonl from WARC files alone.

The main process streams records and hands article responses to worker
processes, which run the crawl's own extraction and write the text files;
the main process keeps the manifest. Memory stays flat in the size of the
archive: records are read one at a time and only a bounded number of pages
is in flight; what grows is one small entry per distinct (url, sha256)
document, needed to keep, as the crawl did, the earliest capture of each.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from warcio.archiveiterator import ArchiveIterator

from crawler.capture.records import CaptureRef
from crawler.extract.document import NoDocument, extract_document
from crawler.sites import Site
from crawler.store.manifest import Manifest, manifest_line, pair_key
from crawler.store.textstore import manifest_entry, store_text

logger = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc", ".warc.gz")
_BATCH_PAGES = 16
_BATCH_BYTES = 4 * 1024 * 1024


@dataclass
class RebuildSummary:
    records_read: int = 0
    documents_written: int = 0
    already_present: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"records read:       {self.records_read}",
            f"documents written:  {self.documents_written}",
            f"already present:    {self.already_present}",
        ]
        out += [f"skipped ({reason}): {n}" for reason, n in sorted(self.skipped.items())]
        out += [f"{note.replace('_', ' ')}: {n}" for note, n in sorted(self.notes.items())]
        out.append(f"errors:             {len(self.errors)}")
        return out


@dataclass(frozen=True)
class _Job:
    """One article response, as extraction needs it; small enough to pickle to a worker."""

    site: Site
    url: str
    content_type: str
    body: bytes
    capture: CaptureRef


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
) -> RebuildSummary:
    summary = RebuildSummary()
    files = find_warc_files(sources)
    workers = workers or os.cpu_count() or 1
    earliest = _EarliestEntries(archive_dir)
    context = get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        in_flight: set[Future[Any]] = set()
        for batch in _batches(_jobs(files, site_for, summary, progress)):
            in_flight.add(pool.submit(_extract_and_store, batch, str(archive_dir), fsync))
            if len(in_flight) >= workers * 2:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                _collect(done, earliest, summary)
        _collect(in_flight, earliest, summary)
    manifest = Manifest(archive_dir / "manifest.jsonl", fsync=fsync)
    try:
        for entry in earliest.entries():
            if manifest.append(entry):
                summary.documents_written += 1
            else:
                summary.already_present += 1
    finally:
        manifest.close()
        earliest.close()
    return summary


def _jobs(
    files: list[Path],
    site_for: Callable[[str], Site | None],
    summary: RebuildSummary,
    progress: Callable[[int], None] | None,
) -> Iterator[_Job]:
    for warc_file in files:
        for record, payload, offset in _records(warc_file, summary):
            summary.records_read += 1
            if progress:
                progress(1)
            try:
                job = _job_for(record, payload, warc_file, site_for, summary)
            except Exception as e:  # noqa: BLE001 - a broken record is reported and skipped
                _error(summary, warc_file, offset, e)
                continue
            if job is not None:
                yield job


def _records(warc_file: Path, summary: RebuildSummary) -> Iterator[tuple[Any, bytes, int]]:
    """Every whole record, its raw payload and its offset; past a broken one, resume at the next gzip member."""
    start = 0
    with warc_file.open("rb") as f:
        while True:
            f.seek(start)
            records = ArchiveIterator(f)
            offset = start
            try:
                for record in records:
                    # Before the record is consumed, offset is where it starts.
                    offset = records.offset
                    payload = record.raw_stream.read()
                    # A cut-off file reads as a short record, not as an
                    # error: the reader still expects the promised bytes.
                    if missing := getattr(record.raw_stream, "limit", 0):
                        raise EOFError(f"record truncated, {missing} bytes missing")
                    yield record, payload, offset
                return
            except Exception as e:  # noqa: BLE001 - warcio, zlib and parse errors alike
                # records.offset is still the start of the record being read
                offset = max(offset, records.offset)
                _error(summary, warc_file, offset, e)
            start = _next_gzip_member(f, offset + 1)
            if start is None:
                return


def _next_gzip_member(f: Any, after: int) -> int | None:
    # Each record of a .warc.gz is its own gzip member; a member header is
    # where reading can start again. An uncompressed file has no such marks.
    f.seek(after)
    data = f.read()
    found = data.find(b"\x1f\x8b\x08")
    return None if found < 0 else after + found


def _error(summary: RebuildSummary, warc_file: Path, offset: int, e: Exception) -> None:
    detail = str(e).encode("ascii", "backslashreplace").decode()[:300]
    message = f"{warc_file}: offset {offset}: {type(e).__name__}: {detail}"
    logger.error("skipped, unreadable: %s", message)
    summary.errors.append(message)


def _job_for(
    record: Any, raw: bytes, warc_file: Path, site_for: Callable[[str], Site | None], summary: RebuildSummary
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
    http = record.http_headers
    if http is None or http.get_statuscode() != "200":
        summary.skipped["status"] += 1
        return None
    encodings = [v.encode("latin-1") for k, v in http.headers if k.lower() == "content-encoding"]
    body = _decode_content(raw, encodings)
    capture = CaptureRef(
        path=capture_path_for(warc_file),
        record_id=record.rec_headers.get_header("WARC-Record-ID"),
        date=record.rec_headers.get_header("WARC-Date"),
    )
    return _Job(site, uri, http.get_header("Content-Type") or "", body, capture)


def _decode_content(body: bytes, encodings: list[bytes]) -> bytes:
    # Scrapy's own decoding steps, so that the rebuild parses the bytes the crawl parsed.
    if not encodings:
        return body
    to_decode, _ = HttpCompressionMiddleware._split_encodings(encodings)
    for encoding in to_decode:
        body = HttpCompressionMiddleware._decode(body, encoding, max_size=0)
    return body


def _batches(jobs: Iterable[_Job]) -> Iterator[list[_Job]]:
    """Jobs in groups, so that the cost of sending work to a process is paid per group, not per page."""
    batch: list[_Job] = []
    size = 0
    for job in jobs:
        batch.append(job)
        size += len(job.body)
        if len(batch) >= _BATCH_PAGES or size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _extract_and_store(batch: list[_Job], archive_dir: str, fsync: bool) -> list[tuple[str, Any]]:
    results: list[tuple[str, Any]] = []
    for job in batch:
        try:
            result = extract_document(job.url, job.content_type, job.body, job.site.rules)
            if isinstance(result, NoDocument):
                results.append((f"no_document/{result.reason}", None))
                continue
            results.extend((f"note/{note}", None) for note in result.notes)
            stored = store_text(Path(archive_dir), job.site.name, result.text, fsync=fsync)
            entry = manifest_entry(result, url=job.url, site=job.site.name, stored=stored, capture=job.capture)
            results.append(("document", entry))
        except Exception as e:  # noqa: BLE001 - one bad page must not stop the rebuild
            results.append(("error", f"{job.capture.path} ({job.url}): extraction failed: {type(e).__name__}: {e}"))
    return results


def _collect(done: Iterable[Future[Any]], earliest: _EarliestEntries, summary: RebuildSummary) -> None:
    for future in done:
        for outcome, value in future.result():
            if outcome == "error":
                logger.error("%s", value)
                summary.errors.append(value)
            elif outcome == "document":
                earliest.offer(value)
            elif outcome.startswith("note/"):
                summary.notes[outcome.removeprefix("note/")] += 1
            else:
                summary.skipped[outcome] += 1


class _EarliestEntries:
    """For each (url, sha256), the entry of its earliest capture, as a crawl would have appended it.

    Lines are spilled to a temporary file; memory holds only a key, a date
    and an offset per document.
    """

    def __init__(self, archive_dir: Path) -> None:
        archive_dir.mkdir(parents=True, exist_ok=True)
        self._spill = tempfile.TemporaryFile(dir=archive_dir, prefix=".rebuild-")
        self._best: dict[bytes, tuple[str, int, int]] = {}

    def offer(self, entry: dict[str, Any]) -> None:
        key = pair_key(entry["url"], entry["sha256"])
        date = entry["fetched_at"] or ""
        held = self._best.get(key)
        if held is not None and held[0] <= date:
            return
        line = manifest_line(entry)
        offset = self._spill.seek(0, os.SEEK_END)
        self._spill.write(line)
        self._best[key] = (date, offset, len(line))

    def entries(self) -> Iterator[dict[str, Any]]:
        for _date, offset, length in sorted(self._best.values()):
            self._spill.seek(offset)
            yield json.loads(self._spill.read(length))

    def close(self) -> None:
        self._spill.close()


def log_progress(every: float) -> Callable[[int], None]:
    """Periodic log lines with records/s, for runs with no terminal attached."""
    start = last = time.monotonic()
    count = 0

    def tick(n: int) -> None:
        nonlocal last, count
        count += n
        now = time.monotonic()
        if now - last >= every:
            logger.info("%d records read, %.0f records/s", count, count / (now - start))
            last = now

    return tick
