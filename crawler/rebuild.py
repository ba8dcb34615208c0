"""Rebuild text/ and manifest.jsonl from WARC files alone.

The main process streams records and hands article responses to worker
processes, which run the crawl's own extraction and write the text files;
the main process keeps the manifest. Memory stays flat in the size of the
archive: records are read one at a time and only a bounded number of pages
is in flight; what grows is one small entry per distinct (url, sha256)
document, needed to keep, as the crawl did, the earliest capture of each.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
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
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from warcio.archiveiterator import WARCIterator
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders

from crawler import settings as default_settings
from crawler.capture.records import CaptureRef
from crawler.extract.document import NoDocument, extract_document
from crawler.sites import Site
from crawler.store.manifest import Manifest, manifest_line, pair_key
from crawler.store.textstore import manifest_entry, store_text

logger = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc", ".warc.gz")
_BATCH_PAGES = 16
_BATCH_BYTES = 4 * 1024 * 1024
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
    check_digests: bool = False,
) -> RebuildSummary:
    """Rebuild ``text/`` and the manifest under ``archive_dir``.

    Digests are always verified, as ``warcio check`` does: a mismatch is
    reported with its file and offset and counts as an error (exit code 1).
    The record is still used unless ``check_digests`` is set, in which case
    it is skipped.
    """
    summary = RebuildSummary(check_digests=check_digests)
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
        yield from read_jobs(warc_file, site_for, summary, progress)


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
    for record, block, offset in _records(warc_file, summary):
        summary.records_read += 1
        if progress:
            progress(1)
        try:
            http, payload = _split_http(record, block)
            if not _digests_ok(record, payload, warc_file, offset, summary):
                continue
            job = _job_for(record, http, payload, warc_file, offset, site_for, summary)
        except Exception as e:  # noqa: BLE001 - a broken record is reported and skipped
            _error(summary, warc_file, offset, e)
            continue
        if job is not None:
            yield job


def _records(warc_file: Path, summary: RebuildSummary) -> Iterator[tuple[Any, bytes, int]]:
    """Every whole record, its raw block (HTTP headers and payload) and its offset.

    Past a broken record, reading resumes at the next gzip member or WARC
    version line. HTTP headers are not parsed here (``no_record_parse``):
    warcio would take the first lines of a response without HTTP headers
    as a status line and headers, and eat the body; ``_split_http`` decides.
    """
    start = 0
    read_any = False
    # A file whose first bytes are no WARC record is either not a WARC file
    # at all or one whose first record is damaged: which one, only the rest
    # of the file tells.
    held: Exception | None = None
    with warc_file.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            _error(summary, warc_file, 0, EOFError("empty file, no WARC records"))
            return
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
                        _error(summary, warc_file, 0, held)
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
                    _error(summary, warc_file, offset, e)
            next_start = _next_record_start(f, offset + 1)
            if next_start is None:
                break
            start = next_start
    if held is not None:
        _error(summary, warc_file, 0, ValueError(f"not a WARC file ({held})"))


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
        actual = hashlib.new(algo.strip().lower().replace("-", ""), data).digest()
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
        return _Job(site, uri, content_type, raw, _capture_ref(record, warc_file))
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
    return _Job(site, uri, http.get_header("Content-Type") or "", body, _capture_ref(record, warc_file))


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
