"""WARC captures: one fetch (request + response records) per content-named file.

Records and digests are built by warcio; this module decides what goes in
them and where the file lives.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from zlib_ng import zlib_ng
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from crawler import __version__
from crawler.cdx import written_index_lines
from crawler.store.atomic import (
    Staged,
    hashed_path,
    stage,
    staging_folder,
)

WARC_VERSION = "WARC/1.1"

# Twisted hands Scrapy the body with the chunked coding already removed; a
# record that still said "chunked" would make replay tools de-chunk a plain
# body. The fact is kept under another name, as archival crawlers do.
_RENAMED_HEADERS = {"transfer-encoding": "X-Archive-Orig-Transfer-Encoding"}


@dataclass
class Exchange:
    """One HTTP request and the response to it, as they went over the wire."""

    uri: str
    status: int
    payload: bytes
    date: datetime
    protocol: str = "HTTP/1.1"
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    method: str = "GET"
    request_target: str = "/"
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""
    ip_address: str | None = None
    # WARC-Truncated: "disconnect" for a body the connection ended before its promised length.
    truncated: str | None = None


@dataclass(frozen=True)
class CaptureRef:
    """Where a capture is stored; what the manifest points to."""

    path: str  # relative to ARCHIVE_DIR
    record_id: str  # the response record's WARC-Record-ID
    date: str  # its WARC-Date
    # Its CDXJ index lines, when the process that wrote it also indexed it (crawler.cdx).
    index_lines: tuple[str, ...] = ()


def capture_key(uri: str, status: int, payload: bytes) -> str:
    """SHA-256 of ``uri NUL status NUL payload``.

    NUL cannot occur in a URI or in a status code, so the three parts are
    joined unambiguously; the status keeps an empty 304 apart from an empty
    200 of the same URI.
    """
    digest = hashlib.sha256()
    digest.update(uri.encode("utf-8"))
    digest.update(b"\0")
    digest.update(str(status).encode("ascii"))
    digest.update(b"\0")
    digest.update(payload)
    return digest.hexdigest()


def capture_path(warc_root: Path, site: str, key: str) -> Path:
    return hashed_path(warc_root / site, key, ".warc.gz")



def warc_date(when: datetime) -> str:
    return datetime_to_iso_date(when.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def new_record_id() -> str:
    return WARCWriter(None, warc_version=WARC_VERSION)._make_warc_id()


def warcinfo_fields(site: str, crawl_start: datetime, settings: dict[str, Any]) -> dict[str, str]:
    """The warcinfo payload: who wrote the captures, when, and how."""
    fields = {
        "software": f"arshif/{__version__} (Scrapy/{version('scrapy')}; warcio/{version('warcio')})",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "hostname": socket.gethostname(),
        "isPartOf": site,
        "crawl-start": warc_date(crawl_start),
    }
    fields.update({k: str(v) for k, v in settings.items()})
    return fields


def write_capture(
    path: Path,
    exchange: Exchange,
    *,
    warcinfo_id: str | None,
    warcinfo: dict[str, str] | None = None,
    fsync: bool = True,
    index_as: str | None = None,
) -> tuple[str, Staged, list[str]] | None:
    """Write the capture file (warcinfo first when given) under a temporary name beside ``path``.

    Its response record id, the staged file and, with ``index_as`` (the
    file's name in the index), its CDXJ lines; None if ``path`` exists.
    """
    writer = WARCWriter(None, gzip=False, warc_version=WARC_VERSION)
    records = []
    if warcinfo is not None:
        info = writer.create_warcinfo_record(path.name, warcinfo)
        info.rec_headers.replace_header("WARC-Record-ID", warcinfo_id)
        info.rec_headers.replace_header("WARC-Date", warc_date(exchange.date))
        records.append(info)
    request, response = _records(writer, exchange, warcinfo_id)

    members = _GzipMembers()

    def write(f: BinaryIO) -> None:
        members.out = f
        writer.out = members
        for record in records:
            writer.write_record(record)
        writer.write_request_response_pair(request, response)

    staged = stage(path, write, fsync=fsync, staging=staging_folder(path))
    if staged is None:
        return None
    lines: list[str] = []
    if index_as is not None:
        # warcio writes a pair response first; each record is one member.
        lines = written_index_lines(zip([*records, response, request], members.spans, strict=True), index_as)
    return str(response.rec_headers.get_header("WARC-Record-ID")), staged, lines


class _GzipMembers:
    """Each record its own gzip member, as WARC tools expect, at gzip's default level.

    warcio compresses at level 9, which on news pages takes half again the
    time of level 6 for files 1% smaller; a crawl compresses every response
    it gets. zlib-ng makes the same gzip as zlib at that level, as small, in
    half the time (bench/crawl_speed.py). warcio ends each record with a
    flush, which ends the member.
    """

    def __init__(self) -> None:
        self.out: BinaryIO | None = None
        self._compressor = _gzip_compressor()
        # (offset, length) of each member written, in order: what the index names.
        self.spans: list[tuple[int, int]] = []
        self._start = self._end = 0

    def write(self, data: bytes) -> None:
        self._put(self._compressor.compress(data))

    def flush(self) -> None:
        self._put(self._compressor.flush())
        self._compressor = _gzip_compressor()
        self.spans.append((self._start, self._end - self._start))
        self._start = self._end

    def _put(self, data: bytes) -> None:
        assert self.out is not None
        self.out.write(data)
        self._end += len(data)


def _gzip_compressor() -> Any:
    return zlib_ng.compressobj(6, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS + 16)


def read_capture_ref(path: Path, archive_dir: Path) -> CaptureRef:
    """The response record of an existing capture file."""
    with path.open("rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response":
                return CaptureRef(
                    path=path.relative_to(archive_dir).as_posix(),
                    record_id=record.rec_headers.get_header("WARC-Record-ID"),
                    date=record.rec_headers.get_header("WARC-Date"),
                )
    raise ValueError(f"{path}: no response record in capture file")


def _records(writer: WARCWriter, ex: Exchange, warcinfo_id: str | None) -> tuple[Any, Any]:
    common = {"WARC-Date": warc_date(ex.date)}
    if warcinfo_id:
        common["WARC-Warcinfo-ID"] = warcinfo_id
    response_headers = {**common}
    if ex.ip_address:
        response_headers["WARC-IP-Address"] = ex.ip_address
    if ex.truncated:
        response_headers["WARC-Truncated"] = ex.truncated

    status_line = f"{ex.status} {ex.reason}".rstrip()
    http_response = StatusAndHeaders(
        status_line,
        [(_RENAMED_HEADERS.get(k.lower(), k), v) for k, v in ex.response_headers],
        protocol=ex.protocol,
    )
    response = writer.create_warc_record(
        ex.uri,
        "response",
        payload=BytesIO(ex.payload),
        length=len(ex.payload),
        http_headers=http_response,
        warc_headers_dict=response_headers,
    )
    http_request = StatusAndHeaders(
        # Twisted's client speaks HTTP/1.1 whatever the server answers with.
        f"{ex.method} {ex.request_target} HTTP/1.1", ex.request_headers, is_http_request=True
    )
    request = writer.create_warc_record(
        ex.uri,
        "request",
        payload=BytesIO(ex.request_body),
        length=len(ex.request_body),
        http_headers=http_request,
        warc_headers_dict=common,
    )
    return request, response


def stage_capture(
    archive_dir: Path,
    site: str,
    exchange: Exchange,
    *,
    warcinfo_id: str | None,
    warcinfo: dict[str, str] | None = None,
    fsync: bool = True,
    index: bool = False,
) -> tuple[CaptureRef, Staged | None]:
    """Write an exchange's capture under a temporary name; (its ref, the staged file).

    The staged file is None when the capture already exists: the ref is then
    the existing file's. With ``index``, the ref carries the capture's CDXJ
    lines, read from the bytes just written (still in the page cache): the
    index costs the worker processes, not the crawl's end. Runs in a crawl
    worker process.
    """
    key = capture_key(exchange.uri, exchange.status, exchange.payload)
    path = capture_path(archive_dir / "warc", site, key)
    rel = path.relative_to(archive_dir).as_posix()
    if not path.exists():
        written = write_capture(
            path, exchange, warcinfo_id=warcinfo_id, warcinfo=warcinfo, fsync=fsync, index_as=rel if index else None
        )
        if written is not None:
            record_id, staged, lines = written
            return CaptureRef(rel, record_id, warc_date(exchange.date), tuple(lines)), staged
    return read_capture_ref(path, archive_dir), None

