"""`scrapy rebuild`: the corpus from WARC files alone, as a user runs it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from crawler.store.manifest import read_manifest
from tests.conftest import FixtureServer, crawl, run_scrapy, write_site


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def manifest_lines(archive: Path) -> set[str]:
    path = archive / "manifest.jsonl"
    return set(path.read_text(encoding="utf-8").splitlines()) if path.exists() else set()


def rebuild(*sources: Path | str, out: Path, extra: tuple[str, ...] = (), settings: dict[str, str] | None = None) -> Any:
    return run_scrapy("rebuild", *map(str, sources), *extra, settings={"ARCHIVE_DIR": str(out), **(settings or {})})


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, demo_server: FixtureServer) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("rebuild")
    site = write_site(tmp, demo_server.url)
    archive = tmp / "archive"
    crawl(site, archive)
    assert (archive / "manifest.jsonl").exists()
    return {"archive": archive, "site": site, "tmp": tmp}


def test_rebuild_of_a_crawl_is_byte_identical(crawled: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = rebuild(crawled["archive"] / "warc", out=out, extra=("--site", str(crawled["site"]), "--workers", "2"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert tree(out / "text") == tree(crawled["archive"] / "text")
    assert manifest_lines(out) == manifest_lines(crawled["archive"])
    documents = len(manifest_lines(out))
    assert f"documents written:  {documents}" in result.stdout
    assert "errors:             0" in result.stdout


def test_rebuild_twice_changes_nothing_the_second_time(crawled: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = rebuild(crawled["archive"] / "warc", out=out, extra=("--site", str(crawled["site"])))
    assert first.returncode == 0, first.stderr[-3000:]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    second = rebuild(crawled["archive"] / "warc", out=out, extra=("--site", str(crawled["site"])))
    assert second.returncode == 0
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == before
    assert "documents written:  0" in second.stdout
    assert f"already present:    {len(manifest_lines(out))}" in second.stdout


def test_rebuild_finds_the_site_of_bundled_domains_and_skips_unknown_ones(tmp_path: Path) -> None:
    """Without --site, a record belongs to the bundled site whose domain it is in; others are skipped."""
    rolling = tmp_path / "foreign.warc.gz"
    with rolling.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        _write_response(writer, "http://unknown.example/2022/02/10/a/", b"<html><body><p>x</p></body></html>")
    result = rebuild(rolling, out=tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "skipped (no_site): 1" in result.stdout


def _write_response(writer: WARCWriter, uri: str, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders

    http = StatusAndHeaders("200 OK", headers or [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(uri, "response", payload=BytesIO(body), http_headers=http))


def _copy_responses(archive: Path, into: list[Path], gzip_flags: list[bool], versions: list[str]) -> None:
    """Every response record of a crawl, rewritten round-robin into rolling files by warcio's own writer."""
    records = []
    for path in sorted((archive / "warc").rglob("*.warc.gz")):
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    records.append((record.rec_headers, record.http_headers, record.raw_stream.read()))
    from io import BytesIO

    handles = [p.open("wb") for p in into]
    writers = [WARCWriter(h, gzip=g, warc_version=v) for h, g, v in zip(handles, gzip_flags, versions, strict=True)]
    for i, (rec_headers, http, payload) in enumerate(records):
        writer = writers[i % len(writers)]
        record = writer.create_warc_record(
            rec_headers.get_header("WARC-Target-URI"),
            "response",
            payload=BytesIO(payload),
            length=len(payload),
            http_headers=http,
            warc_headers_dict={"WARC-Date": rec_headers.get_header("WARC-Date")},
        )
        writer.write_record(record)
    for h in handles:
        h.close()


def test_rebuild_reads_rolling_warcs_of_another_tool(crawled: dict[str, Path], tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    files = [foreign / "crawl-00000.warc.gz", foreign / "crawl-00001.warc", foreign / "old-1.0.warc.gz"]
    _copy_responses(crawled["archive"], files, [True, False, True], ["1.1", "1.1", "1.0"])
    out = tmp_path / "out"
    result = rebuild(foreign, out=out, extra=("--site", str(crawled["site"])))
    assert result.returncode == 0, result.stderr[-3000:]
    assert tree(out / "text") == tree(crawled["archive"] / "text")
    crawl_entries = {(e["url"], e["sha256"]) for e in read_manifest(crawled["archive"] / "manifest.jsonl")}
    rebuilt = read_manifest(out / "manifest.jsonl")
    assert {(e["url"], e["sha256"]) for e in rebuilt} == crawl_entries
    assert {e["warc"] for e in rebuilt} <= {str(p) for p in files}


def test_corrupt_and_truncated_records_are_reported_and_the_rest_rebuilds(crawled: dict[str, Path], tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    good, damaged, cut = foreign / "a.warc.gz", foreign / "b.warc.gz", foreign / "c.warc.gz"
    _copy_responses(crawled["archive"], [good, damaged, cut], [True, True, True], ["1.1"] * 3)
    data = bytearray(damaged.read_bytes())
    members = [m.start() for m in re.finditer(b"\x1f\x8b\x08", bytes(data))]
    broken_at = members[1]
    data[broken_at + 20 : broken_at + 60] = b"\x00" * 40  # inside the second record's deflate stream
    damaged.write_bytes(bytes(data))
    cut.write_bytes(cut.read_bytes()[: -200])

    out = tmp_path / "out"
    result = rebuild(foreign, out=out, extra=("--site", str(crawled["site"])))
    assert result.returncode == 1
    assert f"{damaged}: offset {broken_at}" in result.stderr
    assert str(cut) in result.stderr
    # the records after the damaged one, and every record of the good file, are still there
    texts = tree(out / "text")
    assert len(texts) >= len(tree(crawled["archive"] / "text")) - 3
    assert not list(out.rglob(".tmp-*"))


def test_periodic_progress_lines_without_a_terminal(crawled: dict[str, Path], tmp_path: Path) -> None:
    result = rebuild(
        crawled["archive"] / "warc",
        out=tmp_path / "out",
        extra=("--site", str(crawled["site"])),
        settings={"LOGSTATS_INTERVAL": "0.001"},
    )
    assert result.returncode == 0
    assert re.search(r"rebuild: \d+ records, \d+ records/s", result.stderr)


def test_rebuild_needs_a_source_that_exists(tmp_path: Path) -> None:
    result = rebuild(tmp_path / "nope", out=tmp_path / "out")
    assert result.returncode != 0
    assert "no such WARC file or directory" in result.stderr


def test_progress_bar_with_records_per_second_on_a_terminal(crawled: dict[str, Path], tmp_path: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    from tests.conftest import REPO

    main, secondary = pty.openpty()
    # a new pty is 0 columns wide, and a bar in no columns is empty; a terminal has a width
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    command = [sys.executable, "-m", "scrapy", "rebuild", str(crawled["archive"] / "warc"), "--site", str(crawled["site"])]
    command += ["-s", f"ARCHIVE_DIR={tmp_path / 'out'}", "-s", "ARCHIVE_FSYNC=False"]
    proc = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=secondary, timeout=300)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert proc.returncode == 0
    assert re.search(rb"rebuild: .*\d+ records", seen) and b"records/s" in seen
