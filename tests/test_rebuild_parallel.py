"""`scrapy rebuild`'s workers: reading with FastWARC, shares of files, byte ranges of one file, texts written in batches.

The records FastWARC reads must be exactly those warcio reads, damage
included: hypothesis tests read damaged files both ways and compare
everything the rebuild would use and report. The other tests cut the work
as the rebuild does (a large file into ranges, a share stopped short) and
check that the pieces add up to the whole, each record and each error
exactly once.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crawler.rebuild as rb
from crawler.capture.records import Exchange, stage_capture
from crawler.sites import load_site
from crawler.store.atomic import RunFolder, publish_staged
from crawler.store.manifest import read_manifest
from crawler.store.textstore import store_text
from tests.conftest import write_site
from tests.test_rebuild_faults import (
    _SMALL,
    BASE,
    PAGES,
    _damaged_file,
    damages,
    expected,
    rebuilt,
    warc_record,
    write_warc,
)


@pytest.fixture(scope="module")
def site_for(tmp_path_factory: pytest.TempPathFactory) -> rb.SiteFor:
    return rb.SiteFor((load_site(str(write_site(tmp_path_factory.mktemp("parallel"), BASE))),), every_url=True)


@contextmanager
def warcio_only() -> Iterator[None]:
    """The reader as it was before FastWARC: warcio for every record."""

    def nothing_verified(f: Any, begin: int) -> Iterator[Any]:
        return begin
        yield  # a generator, as _verified_records is

    saved = rb._verified_records
    rb._verified_records = nothing_verified  # type: ignore[assignment]
    try:
        yield
    finally:
        rb._verified_records = saved


def read_all(path: Path, site_for: rb.SiteFor) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """Everything the rebuild takes from a file: its jobs, and what it counts and reports."""
    summary = rb.RebuildSummary()
    jobs = [(j.url, j.content_type, j.body, j.capture, j.offset) for j in rb.read_jobs(path, site_for, summary)]
    seen = {
        "records": summary.records_read,
        "errors": summary.errors,
        "skipped": dict(summary.skipped),
        "notes": dict(summary.notes),
        "digest_mismatches": summary.digest_mismatches,
    }
    return jobs, seen


def both_ways(path: Path, site_for: rb.SiteFor) -> tuple[Any, Any]:
    fast = read_all(path, site_for)
    with warcio_only():
        slow = read_all(path, site_for)
    return fast, slow


# --- FastWARC reads what warcio reads --------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(compress=st.booleans(), damage=damages)
def test_fastwarc_and_warcio_read_damaged_files_alike(
    compress: bool, damage: Any, site_for: rb.SiteFor, tmp_path: Path
) -> None:
    data, _, _ = _damaged_file(damage, compress)
    path = tmp_path / ("fuzz.warc.gz" if compress else "fuzz.warc")
    path.write_bytes(data)
    fast, slow = both_ways(path, site_for)
    assert fast == slow, damage


_HEADERS = [
    b"WARC-Block-Digest",
    b"WARC-Payload-Digest",
    b"WARC-Type",
    b"Content-Length",
    b"WARC-Target-URI",
    b"WARC-Segment-Number",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(_HEADERS),
    prefix=st.sampled_from(["", "sha1:", "SHA1:", "sha256:", "md5:", "nope:", "shake_128:"]),
    value=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60),
    which=st.integers(0, 2),
    revisit=st.booleans(),
)
def test_fastwarc_and_warcio_read_odd_header_values_alike(
    name: bytes, prefix: str, value: str, which: int, revisit: bool, site_for: rb.SiteFor, tmp_path: Path
) -> None:
    """Whole gzip members whose headers say odd things: where warcio would balk, FastWARC's reading is not used."""
    records = [warc_record(url, body) for url, body in _SMALL]
    head, sep, block = records[which].partition(b"\r\n\r\n")
    line = name + b": " + (prefix + value).encode()
    lines = [line if old.startswith(name + b":") else old for old in head.split(b"\r\n")]
    if line not in lines:
        lines.append(line)
    if revisit:
        lines = [old.replace(b"WARC-Type: response", b"WARC-Type: revisit") for old in lines]
    records[which] = b"\r\n".join(lines) + sep + block
    path = tmp_path / "odd.warc.gz"
    path.write_bytes(b"".join(map(_member, records)))
    fast, slow = both_ways(path, site_for)
    assert fast == slow


def _member(record: bytes, *, flag: int = 0) -> bytes:
    member = bytearray(gzip.compress(record, mtime=0))
    member[3] |= flag
    return bytes(member)


RECORDS = [warc_record(url, body) for url, body in _SMALL]


def _with_header(record: bytes, old: bytes, new: bytes) -> bytes:
    head, sep, block = record.partition(b"\r\n\r\n")
    return head.replace(old, new) + sep + block


ODD_FILES = {
    # Each record its own member: FastWARC reads them all.
    "plain": b"".join(map(_member, RECORDS)),
    # Two records in one member: warcio reports it, FastWARC would read on.
    "two records in a member": gzip.compress(RECORDS[0] + RECORDS[1], mtime=0) + _member(RECORDS[2]),
    # One record over two members: FastWARC would read it whole.
    "a record split over members": gzip.compress(RECORDS[0][:60], mtime=0)
    + gzip.compress(RECORDS[0][60:], mtime=0)
    + _member(RECORDS[1]),
    # A member header announcing extra fields it has not: FastWARC would stop quietly.
    "a bad member header": _member(RECORDS[0]) + _member(RECORDS[1], flag=0x04) + _member(RECORDS[2]),
    "bytes after the last member": b"".join(map(_member, RECORDS)) + b"\r\n\r\n",
    "garbage after the last member": b"".join(map(_member, RECORDS)) + b"not a member",
    "a cut-off last member": b"".join(map(_member, RECORDS))[:-30],
    "a wrong block digest": _member(RECORDS[0])
    + _member(_with_header(RECORDS[1], b"WARC-Block-Digest: sha1:", b"WARC-Block-Digest: sha1:A"))
    + _member(RECORDS[2]),
    "a lower-case block digest": b"".join(
        _member(r.replace(m, m.lower())) for r in RECORDS for m in [r.split(b"WARC-Block-Digest: sha1:")[1][:32]]
    ),
    "an unknown digest algorithm": _member(_with_header(RECORDS[0], b"WARC-Block-Digest: sha1:", b"WARC-Block-Digest: nope:")),
    "spaces around a header value": _member(_with_header(RECORDS[0], b"WARC-Type: response", b"WARC-Type:   response  ")),
    "a header line without a colon": _member(_with_header(RECORDS[0], b"WARC-Type: response", b"WARC-Type response")),
    "a folded header line": _member(_with_header(RECORDS[0], b"WARC-Type: response", b"WARC-Type: response\r\n X-More: a")),
    "a URI in angle brackets": _member(_with_header(RECORDS[0], b"WARC-Target-URI: ", b"WARC-Target-URI: <") .replace(
        b"story-1/\r\n", b"story-1/>\r\n", 1
    )),
    "a raw UTF-8 URI": _member(_with_header(RECORDS[0], b"/story-1/", "/خبر-1/".encode())),
    "a revisit record": _member(_with_header(RECORDS[0], b"WARC-Type: response", b"WARC-Type: revisit")),
    "WARC/1.0": b"".join(_member(r.replace(b"WARC/1.1", b"WARC/1.0", 1)) for r in RECORDS),
    "not gzip at all": b"".join(RECORDS),
}


@pytest.mark.parametrize("name", list(ODD_FILES))
def test_fastwarc_and_warcio_read_odd_files_alike(name: str, site_for: rb.SiteFor, tmp_path: Path) -> None:
    path = tmp_path / "odd.warc.gz"
    path.write_bytes(ODD_FILES[name])
    fast, slow = both_ways(path, site_for)
    assert fast == slow


def test_the_crawls_own_captures_are_all_read_by_fastwarc(tmp_path: Path) -> None:
    """The fast reader is the one a crawl's archive gets: none of its records falls back to warcio."""
    for page in PAGES:
        exchange = Exchange(
            uri=page.url,
            status=200,
            payload=page.body,
            date=datetime.now(UTC),
            reason="OK",
            response_headers=[("Content-Type", "text/html; charset=utf-8")],
        )
        # As the crawl writes it: staged by a worker, then published by the committer.
        _, staged = stage_capture(tmp_path, "demo", exchange, warcinfo_id=None, fsync=False)
        assert staged is not None
        publish_staged([staged], sync=False)
    files = rb.find_warc_files([tmp_path / "warc"])
    assert len(files) == len(PAGES)
    for path in files:
        records, resume = verified(path)
        assert [r.get_header("WARC-Type") for r, _, _ in records] == ["response", "request"], path
        assert resume is None, path  # proven to the end of the file: warcio never takes over


def verified(path: Path) -> tuple[list[Any], int | None]:
    """The records FastWARC read and proved, and where warcio would take over (None: nowhere)."""
    records = []
    with path.open("rb") as f:
        reader = rb._verified_records(f, 0)
        while True:
            try:
                records.append(next(reader))
            except StopIteration as stop:
                return records, stop.value


# --- the pieces add up to the whole ----------------------------------------------------


def _big_file(tmp_path: Path, damaged: int | None = None) -> tuple[Path, list[int]]:
    """Every demo page three times over (recaptures) in one .warc.gz; one record's deflate data zeroed if asked."""
    records = [warc_record(p.url, p.body) for _ in range(3) for p in PAGES]
    path = tmp_path / "big.warc.gz"
    offsets = write_warc(path, records)
    if damaged is not None:
        data = bytearray(path.read_bytes())
        start = offsets[damaged] + 30
        data[start : start + 40] = bytes(40)
        path.write_bytes(bytes(data))
    return path, offsets


def _read_parts(parts: list[rb._Part]) -> tuple[list[int], list[str]]:
    offsets, errors = [], []
    for part in parts:
        summary = rb.RebuildSummary()
        offsets += [offset for _, _, offset in rb._owned_records(part, summary)]
        errors += summary.errors
    return offsets, errors


@pytest.mark.parametrize("damaged", [None, 4], ids=["sound", "damaged"])
@pytest.mark.parametrize("pieces", [2, 3, 7])
def test_the_ranges_of_a_large_file_give_each_record_and_error_once(damaged: int | None, pieces: int, tmp_path: Path) -> None:
    path, _ = _big_file(tmp_path, damaged)
    whole = _read_parts([rb._Part(0, str(path))])
    size = path.stat().st_size
    step = -(-size // pieces)
    parts = [rb._Part(0, str(path), start=k * step, stop=None if k == pieces - 1 else (k + 1) * step) for k in range(pieces)]
    assert _read_parts(parts) == whole
    if damaged is not None:
        assert len(whole[1]) == 1


def test_a_large_file_is_cut_into_one_range_per_worker(tmp_path: Path) -> None:
    path, _ = _big_file(tmp_path)
    small = tmp_path / "small.warc.gz"
    write_warc(small, [warc_record(PAGES[0].url, PAGES[0].body)])
    shares = list(rb._shares([path, small], workers=2))
    assert [[(p.index, p.start, p.stop) for p in share] for share in shares] == [
        [(0, 0, -(-path.stat().st_size // 2))],
        [(0, -(-path.stat().st_size // 2), None)],
        [(1, 0, None)],
    ]


def test_a_share_stopped_short_goes_on_where_it_stopped(
    site_for: rb.SiteFor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _big_file(tmp_path, damaged=4)
    rb._start_worker(rb._WorkerSetup(site_for, check_digests=False))
    whole = rb._rebuild_share((rb._Part(0, str(path)),))
    assert not whole.rest

    monkeypatch.setattr(rb, "_SHARE_DOCS", 2)
    results, share = [], (rb._Part(0, str(path)),)
    while share:
        result = rb._rebuild_share(share)
        results.append(result)
        share = result.rest
    assert len(results) > 5
    assert [e for r in results for e in r.entries] == whole.entries
    assert [t for r in results for t in r.texts] == whole.texts
    assert [e for r in results for e in r.summary.errors] == whole.summary.errors
    assert sum(r.summary.records_read for r in results) == whole.summary.records_read


def test_one_large_damaged_file_rebuilds_on_two_workers(site_for: rb.SiteFor, tmp_path: Path) -> None:
    path, offsets = _big_file(tmp_path, damaged=4)
    out = tmp_path / "out"
    ticks: list[int] = []

    summary = rb.rebuild([path], out, site_for, workers=2, fsync=True, progress=ticks.append)

    assert len(summary.errors) == 1 and summary.errors[0].startswith(f"{path}: offset {offsets[4]}: ")
    assert summary.records_read == sum(ticks) == len(offsets) - 1
    # Each page once, from its earliest capture that could be read: the damaged one had two more.
    assert rebuilt(out) == expected(PAGES)
    assert summary.documents_written == len(PAGES)
    assert not list(out.rglob(".tmp-*")) and not list((out / "text").glob(".rebuild-*"))


def test_the_earliest_capture_of_a_document_is_the_one_listed(site_for: rb.SiteFor, tmp_path: Path) -> None:
    page = PAGES[0]
    later, earlier = warc_record(page.url, page.body), warc_record(page.url, page.body)
    earlier = earlier.replace(b"WARC-Date: 2022-02-10T08:00:00.000000Z", b"WARC-Date: 2022-01-01T08:00:00.000000Z")
    # Files in one order, dates in the other: the date decides, not the order of reading.
    write_warc(tmp_path / "a.warc.gz", [later])
    write_warc(tmp_path / "b.warc.gz", [earlier])
    out = tmp_path / "out"

    summary = rb.rebuild([tmp_path / "a.warc.gz", tmp_path / "b.warc.gz"], out, site_for, workers=2, fsync=False)

    entries = read_manifest(out / "manifest.jsonl")
    assert summary.documents_written == 1
    assert [(e["fetched_at"], e["warc"]) for e in entries] == [("2022-01-01T08:00:00.000000Z", str(tmp_path / "b.warc.gz"))]
    assert rebuilt(out) == expected([page])


# --- texts -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["نص الخبر\n", unicodedata.normalize("NFD", "أخبار\n"), "plain\n"])
def test_a_text_is_named_as_the_crawl_names_it(text: str, tmp_path: Path) -> None:
    stored = store_text(tmp_path, "site", text)
    mine, data = rb._text_file("site", text)
    assert (mine.path, mine.sha256) == (stored.path, stored.sha256)
    assert data == (tmp_path / stored.path).read_bytes()


def test_a_killed_runs_staging_folder_is_removed_and_a_running_ones_kept(tmp_path: Path) -> None:
    root = tmp_path / "text"
    stale, live = root / ".rebuild-stale", root / ".rebuild-live"
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "1").write_bytes(b"a text never published")
        os.utime(folder, (time.time() - 3600, time.time() - 3600))
    held = os.open(live, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        staging = RunFolder(root, ".rebuild-")
        assert not stale.exists() and (live / "1").exists()
        staging.remove()
        assert not staging.path.exists()
    finally:
        os.close(held)
