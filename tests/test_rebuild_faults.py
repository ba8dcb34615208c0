"""`scrapy rebuild` on bad input: every fault reported with its file and offset, every other record still rebuilt.

The WARC files here are written byte by byte by the test (records of the
demo site's article pages, with their digests), so that each fault is
exactly the one named: a cut-off file, a wrong digest, a file that is not a
WARC, an empty file, a response record with no HTTP headers. The demo
pages have expected texts, so "still rebuilt" means the right text, not
just some text. A hypothesis test then feeds damaged records to the
function that reads a WARC file, in-process.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.rebuild import RebuildSummary, read_jobs
from crawler.sites import load_site
from crawler.store.manifest import read_manifest
from tests.conftest import ARTICLES, SITE_ROOT, run_scrapy, write_site

BASE = "http://127.0.0.1:8765"


@dataclass(frozen=True)
class Page:
    url: str
    body: bytes
    text_sha256: str  # of the expected text: what the rebuild must store for this page


def demo_pages() -> list[Page]:
    # utf-8 pages only: the windows-1256 page needs its server's headers, which are not the point here.
    return [
        Page(
            BASE + a["path"],
            (SITE_ROOT / a["file"]).read_bytes(),
            hashlib.sha256((SITE_ROOT / a["expected"]).read_bytes()).hexdigest(),
        )
        for a in ARTICLES["article"]
        if a["charset"] == "utf-8"
    ]


PAGES = demo_pages()


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def warc_record(url: str, body: bytes, *, http: bool = True, record_type: str = "response") -> bytes:
    """One WARC/1.1 record, uncompressed, with correct block and payload digests."""
    if http:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
        block, content_type = head.encode() + body, "application/http; msgtype=response"
    else:
        # What some tools write: the page's bytes as the whole block, the page's type as the record's.
        block, content_type = body, "text/html; charset=utf-8"
    headers = [
        "WARC/1.1",
        f"WARC-Type: {record_type}",
        # Named from the URL, not random: the same record gives the same bytes, so hypothesis can replay a failure.
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url + str(http))}>",
        "WARC-Date: 2022-02-10T08:00:00.000000Z",
        f"WARC-Target-URI: {url}",
        f"WARC-Payload-Digest: {_digest(body)}",
        f"WARC-Block-Digest: {_digest(block)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(block)}",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def write_warc(path: Path, records: Sequence[bytes], *, compress: bool = True) -> list[int]:
    """The records, one gzip member each when compressed; the offset of each."""
    offsets, data = [], b""
    for record in records:
        offsets.append(len(data))
        data += gzip.compress(record, mtime=0) if compress else record
    path.write_bytes(data)
    return offsets


@pytest.fixture(scope="module")
def site_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_site(tmp_path_factory.mktemp("faults"), BASE)


def rebuild(*sources: Path, out: Path, site_file: Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return run_scrapy(
        "rebuild", *map(str, sources), "--site", str(site_file), "--workers", "1", *extra, settings={"ARCHIVE_DIR": str(out)}
    )


def rebuilt(out: Path) -> dict[str, str]:
    """url -> sha256 of what the rebuild stored, after checking the text file is there and named by its bytes."""
    found = {}
    for entry in read_manifest(out / "manifest.jsonl"):
        text = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(text).hexdigest() == entry["sha256"]
        found[entry["url"]] = entry["sha256"]
    return found


def expected(pages: Sequence[Page]) -> dict[str, str]:
    return {p.url: p.text_sha256 for p in pages}


def good_file(tmp_path: Path) -> Path:
    """A sound file beside the damaged one: its records must all rebuild whatever happens next to them."""
    path = tmp_path / "good.warc.gz"
    write_warc(path, [warc_record(p.url, p.body) for p in PAGES[:3]])
    return path


@pytest.mark.parametrize("compress", [True, False], ids=["warc.gz", "warc"])
def test_a_cut_off_file_reports_the_cut_record_and_rebuilds_the_others(compress: bool, site_file: Path, tmp_path: Path) -> None:
    damaged = tmp_path / ("cut.warc.gz" if compress else "cut.warc")
    pages = PAGES[3:]
    offsets = write_warc(damaged, [warc_record(p.url, p.body) for p in pages], compress=compress)
    damaged.write_bytes(damaged.read_bytes()[:-300])
    out = tmp_path / "out"

    result = rebuild(good_file(tmp_path), damaged, out=out, site_file=site_file)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("  error: ")]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"  error: {damaged}: offset {offsets[-1]}: ")
    assert "errors:             1" in result.stdout
    assert rebuilt(out) == expected(PAGES[:-1])
    assert not list(out.rglob(".tmp-*"))


def _wrong_digest(record: bytes) -> bytes:
    # One base32 letter of each declared digest changed: the bytes are intact, the digests lie.
    head, sep, block = record.partition(b"\r\n\r\n")
    lines = []
    for line in head.split(b"\r\n"):
        if line.startswith((b"WARC-Payload-Digest: sha1:", b"WARC-Block-Digest: sha1:")):
            line = line[:-1] + (b"A" if line[-1:] != b"A" else b"B")
        lines.append(line)
    return b"\r\n".join(lines) + sep + block


@pytest.mark.parametrize("check", [False, True], ids=["default", "check-digests"])
def test_a_wrong_digest_is_reported_and_used_unless_digests_are_checked(check: bool, site_file: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "digest.warc.gz"
    pages = PAGES[3:6]
    records = [warc_record(p.url, p.body) for p in pages]
    records[1] = _wrong_digest(records[1])
    offsets = write_warc(damaged, records)
    out = tmp_path / "out"

    result = rebuild(good_file(tmp_path), damaged, out=out, site_file=site_file, extra=("--check-digests",) if check else ())

    # As `warcio check`: a digest that does not match is a failure, exit code 1, whatever is done with the record.
    assert result.returncode == 1
    line = f"error: {damaged}: offset {offsets[1]}: digest mismatch: "
    assert line in result.stderr
    assert "block digest failed" in result.stderr and "payload digest failed" in result.stderr
    fate = "skipped" if check else "used"
    assert f"digest mismatches:  1 ({fate})" in result.stdout
    kept = [p for p in PAGES[:6] if not (check and p == pages[1])]
    assert rebuilt(out) == expected(kept)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.warc", "هذا ليس ملف WARC\nnot a WARC either\n".encode()),
        ("page.warc.gz", gzip.compress(b"<html><body>a gzipped page</body></html>\n", mtime=0)),
        ("empty.warc.gz", b""),
    ],
    ids=["text", "gzipped-text", "empty"],
)
def test_a_file_that_is_no_warc_is_reported_in_one_line(name: str, content: bytes, site_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    out = tmp_path / "out"

    result = rebuild(good_file(tmp_path), bad, out=out, site_file=site_file)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("  error: ")]
    what = "EOFError: empty file, no WARC records" if not content else "ValueError: not a WARC file"
    assert len(errors) == 1 and errors[0].startswith(f"  error: {bad}: offset 0: {what}"), errors
    assert rebuilt(out) == expected(PAGES[:3])


def test_a_response_without_http_headers_is_read_as_its_body(site_file: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.warc"
    pages = PAGES[3:6]
    records = [warc_record(p.url, p.body, http=(i != 1)) for i, p in enumerate(pages)]
    offsets = write_warc(mixed, records, compress=False)
    out = tmp_path / "out"

    result = rebuild(good_file(tmp_path), mixed, out=out, site_file=site_file)

    # Nothing is wrong with the bytes: the page is rebuilt, and the log says how it was read.
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{mixed}: offset {offsets[1]}: response record without HTTP headers" in result.stderr
    assert "response without http headers: 1" in result.stdout
    assert rebuilt(out) == expected(PAGES[:6])


# --- fuzzing the reader -------------------------------------------------------

_SMALL = [
    (f"{BASE}/wp/2022/01/0{i}/story-{i}/", f"<html><body><p>نص الخبر رقم {i}</p></body></html>".encode())
    for i in range(1, 4)
]


@dataclass(frozen=True)
class Damage:
    kind: str  # "flip" (bytes xored), "cut" (the file ends early) or "garble" (garbage over a record's WARC headers)
    at: float  # where, as a fraction of the file (of the record's headers for "garble")
    data: bytes  # the xor mask or the garbage


damages = st.builds(
    Damage,
    st.sampled_from(["flip", "cut", "garble"]),
    st.floats(0, 1, allow_nan=False),
    st.binary(min_size=1, max_size=24),
)


def _damaged_file(damage: Damage, compress: bool) -> tuple[bytes, list[tuple[int, int]], tuple[int, int]]:
    """The file's bytes, each record's span in it, and the span the damage touched."""
    records = [warc_record(url, body) for url, body in _SMALL]
    garbled = -1
    if damage.kind == "garble":
        # Garbage over the WARC header lines of one record, before it is
        # compressed: a gzip member that is whole but holds a broken record.
        garbled = min(int(damage.at * len(records)), len(records) - 1)
        record = records[garbled]
        header_end = record.index(b"\r\n\r\n")
        at = int(damage.at * header_end)
        records[garbled] = record[:at] + damage.data[: header_end - at] + record[at + len(damage.data) :]
    members = [gzip.compress(r, mtime=0) if compress else r for r in records]
    spans, offset = [], 0
    for member in members:
        spans.append((offset, offset + len(member)))
        offset += len(member)
    data = b"".join(members)
    if damage.kind == "garble":
        return data, spans, spans[garbled]
    if damage.kind == "cut":
        at = int(damage.at * len(data))
        return data[:at], spans, (at, len(data))
    at = min(int(damage.at * len(data)), len(data) - 1)
    flipped = bytes(b ^ (m or 1) for b, m in zip(data[at:], damage.data, strict=False))
    return data[:at] + flipped + data[at + len(flipped) :], spans, (at, at + len(flipped))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(compress=st.booleans(), damage=damages)
def test_the_reader_never_raises_on_damaged_records(compress: bool, damage: Damage, site_file: Path, tmp_path: Path) -> None:
    data, spans, (start, end) = _damaged_file(damage, compress)
    path = tmp_path / ("fuzz.warc.gz" if compress else "fuzz.warc")
    path.write_bytes(data)
    site = load_site(str(site_file))
    summary = RebuildSummary()

    jobs = list(read_jobs(path, lambda _url: site, summary))  # must not raise

    bodies = {job.url: job.body for job in jobs}
    # Every record the damage did not touch is still rebuilt: those before
    # it, and in a .warc.gz, where each record is its own gzip member and
    # reading resumes at the next one, those after it too. (In a plain .warc
    # a damaged Content-Length may swallow the records after it.)
    for (url, body), (rec_start, rec_end) in zip(_SMALL, spans, strict=True):
        after = compress and rec_start >= end and damage.kind != "cut"
        if rec_end <= start or after:
            assert bodies.get(url) == body, (damage, summary.errors)
    # Whatever could not be read is reported with its file and offset.
    assert all(e.startswith(f"{path}: offset ") for e in summary.errors)
    if data and not jobs:
        assert summary.errors or summary.records_read, damage
