"""For downstream users: the corpus reader, `scrapy export`, the CDXJ index and `scrapy rebuild --url`.

An archive of two sites is crawled once from the demo site (module
fixture); tests that change it crawl their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.cdx import index_path, lookup, read_index, update_index
from crawler.corpus import Corpus, CorpusError, MissingText
from crawler.store.manifest import REQUIRED_KEYS, read_manifest
from tests.conftest import REPO, FixtureServer, crawl, run_scrapy, write_site


@pytest.fixture(scope="module")
def two_sites(tmp_path_factory: pytest.TempPathFactory, demo_server: FixtureServer) -> Path:
    """One archive, two sites: the demo's Syrian section as `alpha`, its WordPress section as `beta`."""
    folder = tmp_path_factory.mktemp("two-sites")
    archive = folder / "archive"
    crawl(write_site(folder, demo_server.url, sections=("syria",), name="alpha"), archive)
    crawl(write_site(folder, demo_server.url, sections=("wp",), name="beta"), archive)
    return archive


def manifest(archive: Path) -> list[dict[str, Any]]:
    return read_manifest(archive / "manifest.jsonl")


def response_records(archive: Path, site: str) -> dict[str, str]:
    """WARC-Record-ID -> capture path, for every response record under warc/<site>/."""
    found = {}
    for path in (archive / "warc" / site).rglob("*.warc.gz"):
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    found[record.rec_headers.get_header("WARC-Record-ID")] = path.relative_to(archive).as_posix()
    return found


# --- the reader ---------------------------------------------------------------------


def test_reader_gives_every_document_with_its_text_and_its_capture(two_sites: Path) -> None:
    docs = list(Corpus(two_sites).documents())
    lines = manifest(two_sites)
    assert [d.meta for d in docs] == lines
    for doc in docs:
        assert doc.text == (two_sites / doc.path).read_text(encoding="utf-8")
        assert hashlib.sha256(doc.text.encode()).hexdigest() == doc.sha256
        # The WARC record behind it is there, under the id the document names.
        assert response_records(two_sites, doc.site)[doc.warc_record_id] == doc.warc


def test_reader_filters_by_site_and_dates(two_sites: Path) -> None:
    corpus = Corpus(two_sites)
    lines = manifest(two_sites)
    alpha = [d.url for d in corpus.documents(site="alpha")]
    assert alpha == [e["url"] for e in lines if e["site"] == "alpha"] and alpha

    published = [e["published"] for e in lines if e["published"]]
    day = sorted(published)[len(published) // 2][:10]
    on_or_after = {d.url for d in corpus.documents(published_from=day)}
    until = {d.url for d in corpus.documents(published_until=day)}
    assert on_or_after == {e["url"] for e in lines if e["published"] and e["published"][:10] >= day}
    assert until == {e["url"] for e in lines if e["published"] and e["published"][:10] <= day}
    # A date alone is its whole day, at both ends.
    assert {d.url for d in corpus.documents(published_from=day, published_until=day)} == on_or_after & until

    fetched = sorted(e["fetched_at"] for e in lines)
    assert len(list(corpus.documents(fetched_from=fetched[-1]))) == 1 + fetched[:-1].count(fetched[-1])
    assert list(corpus.documents(fetched_until="2000-01-01")) == []
    with pytest.raises(CorpusError, match="not an ISO 8601 date"):
        list(corpus.documents(published_from="yesterday"))


def test_reader_new_since_a_position_reads_only_what_a_later_crawl_added(
    tmp_path: Path, editable_server: FixtureServer
) -> None:
    archive = tmp_path / "archive"
    # Listings only: the sitemap's <lastmod> would (rightly) say the changed page is not new.
    site = write_site(tmp_path, editable_server.url, sections=("syria",), sitemap_urls=[], feed_urls=[])
    crawl(site, archive)
    corpus = Corpus(archive)
    before = corpus.position()
    assert list(corpus.documents(after=before)) == []

    # An article changes on the site; the next crawl stores its new version.
    from urllib.parse import unquote

    stored = {unquote(e["url"]) for e in manifest(archive)}
    page = next(p for p in (tmp_path / "site" / "syria").glob("*.html") if any(u.endswith("/" + p.stem) for u in stored))
    html = page.read_text(encoding="utf-8")
    time.sleep(1.1)  # Last-Modified has one-second resolution
    page.write_text(html.replace("<p>", "<p>خبر محدّث. ", 1), encoding="utf-8")
    crawl(site, archive, settings={"RECRAWL_AFTER": "0"})
    new = list(Corpus(archive).documents(after=str(before)))
    assert len(new) == 1 and "خبر محدّث" in new[0].text
    assert new[0].line == len(manifest(archive))  # line numbers are the whole manifest's


def test_reader_streams_one_document_at_a_time(tmp_path: Path) -> None:
    def peak(count: int) -> int:
        archive = tmp_path / f"a{count}"
        (archive / "text").mkdir(parents=True)
        with (archive / "manifest.jsonl").open("w", encoding="utf-8") as f:
            for n in range(count):
                (archive / "text" / f"{n}.txt").write_text(f"نص رقم {n}\n" * 20, encoding="utf-8")
                entry = dict.fromkeys(REQUIRED_KEYS, "x") | {"url": f"http://e.test/{n}", "path": f"text/{n}.txt"}
                f.write(json.dumps(entry) + "\n")
        # In a fresh interpreter: nothing else of the test run allocates while it is measured.
        script = (
            "import sys, tracemalloc\n"
            "from crawler.corpus import Corpus\n"
            "corpus = Corpus(sys.argv[1])\n"
            "for _ in corpus.documents(): pass\n"  # a first pass: imports and caches are not what is measured
            "tracemalloc.start()\n"
            "for _ in corpus.documents(): pass\n"
            "print(tracemalloc.get_traced_memory()[1])\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, str(archive)], cwd=REPO, capture_output=True, text=True, check=True
        )
        return int(result.stdout)

    # Holding the documents would cost about ten times more for ten times as many (about 3 MB here).
    small, large = peak(1000), peak(10000)
    assert large < small * 1.5 + 100_000, f"peak memory {small} bytes for 1,000 documents, {large} for 10,000"


def test_reader_refuses_what_it_cannot_read(tmp_path: Path, two_sites: Path) -> None:
    with pytest.raises(CorpusError, match="no manifest.jsonl"):
        Corpus(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(two_sites, copy)
    lost = manifest(copy)[1]
    (copy / lost["path"]).unlink()
    with pytest.raises(MissingText, match="line 2: text file"):
        list(Corpus(copy).documents())
    corpus = Corpus(copy)
    sharing = [n for n, e in enumerate(manifest(copy), 1) if e["path"] == lost["path"]]  # one text, several URLs
    assert len(list(corpus.documents(skip_missing=True))) == len(manifest(copy)) - len(sharing)
    assert [m.line for m in corpus.missing] == sharing


# --- scrapy export ------------------------------------------------------------------


def export(archive: Path, output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_scrapy("export", "-o", str(output), *extra, settings={"ARCHIVE_DIR": str(archive)})


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_export_round_trips_every_field_and_is_identical_twice(two_sites: Path, tmp_path: Path, suffix: str) -> None:
    first, second = tmp_path / f"one{suffix}", tmp_path / f"two{suffix}"
    result = export(two_sites, first)
    assert result.returncode == 0, result.stderr
    assert export(two_sites, second).returncode == 0
    assert first.read_bytes() == second.read_bytes()

    if suffix == ".jsonl":
        import pyarrow.json as pj

        from crawler.export import arrow_schema

        # The values as in the manifest (left to itself, pyarrow reads dates as timestamps).
        rows = pj.read_json(first, parse_options=pj.ParseOptions(explicit_schema=arrow_schema())).to_pylist()
    else:
        table = pq.read_table(first)
        assert table.column_names == ["text", *sorted(REQUIRED_KEYS)]
        rows = table.to_pylist()
    lines = manifest(two_sites)
    assert len(rows) == len(lines)
    for row, entry in zip(rows, lines, strict=True):
        assert row["text"] == (two_sites / entry["path"]).read_text(encoding="utf-8")
        assert {k: row[k] for k in entry} == entry


def test_export_loads_in_pandas_and_datasets(two_sites: Path, tmp_path: Path) -> None:
    for suffix in (".jsonl", ".parquet"):
        assert export(two_sites, tmp_path / f"corpus{suffix}").returncode == 0
    script = f"""
import pandas as pd
from datasets import load_dataset
a = pd.read_json({str(tmp_path / "corpus.jsonl")!r}, lines=True)
b = pd.read_parquet({str(tmp_path / "corpus.parquet")!r})
c = load_dataset("json", data_files={str(tmp_path / "corpus.jsonl")!r}, split="train", cache_dir={str(tmp_path / "hf")!r})
d = load_dataset("parquet", data_files={str(tmp_path / "corpus.parquet")!r}, split="train", cache_dir={str(tmp_path / "hf")!r})
assert list(a["text"]) == list(b["text"]) == list(c["text"]) == list(d["text"])
print(len(a), sorted(b.columns) == sorted(d.column_names))
"""
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [str(len(manifest(two_sites))), "True"]


def test_export_filters_by_site_date_and_position(two_sites: Path, tmp_path: Path) -> None:
    out = tmp_path / "beta.jsonl"
    result = export(two_sites, out, "--site", str(two_sites.parent / "beta.toml"), "--published-from", "2000-01-01")
    assert result.returncode == 0, result.stderr
    expected = [e["url"] for e in manifest(two_sites) if e["site"] == "beta" and e["published"]]
    assert [json.loads(line)["url"] for line in out.read_text(encoding="utf-8").splitlines()] == expected
    position = next(line for line in result.stdout.splitlines() if line.startswith("position: ")).split(": ")[1]
    nothing_new = tmp_path / "new.parquet"
    assert export(two_sites, nothing_new, "--after", position).returncode == 0
    assert pq.read_table(nothing_new).num_rows == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{tmp}/out.csv"], "unknown output format '.csv'"),
        (["-o", "{tmp}/out.jsonl", "--fetched-from", "2024-02-30"], "fetched: not an ISO 8601 date"),
        (["-o", "{tmp}/out.jsonl", "--after", "end"], "not a corpus position"),
    ],
)
def test_export_bad_input_is_one_clear_error_and_writes_nothing(
    two_sites: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_scrapy("export", *(a.format(tmp=tmp_path) for a in args), settings={"ARCHIVE_DIR": str(two_sites)})
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_an_archive_without_manifest_and_an_existing_file(tmp_path: Path, two_sites: Path) -> None:
    result = run_scrapy("export", "-o", str(tmp_path / "out.jsonl"), settings={"ARCHIVE_DIR": str(tmp_path / "empty")})
    assert result.returncode != 0 and "it has no manifest.jsonl" in result.stderr
    existing = tmp_path / "out.jsonl"
    existing.write_text("keep me\n")
    result = export(two_sites, existing)
    assert result.returncode != 0 and "exists: add --overwrite" in result.stderr
    assert existing.read_text() == "keep me\n"
    assert export(two_sites, existing, "--overwrite").returncode == 0
    assert len(existing.read_text(encoding="utf-8").splitlines()) == len(manifest(two_sites))


def test_export_goes_on_past_a_missing_text_file_and_says_so(tmp_path: Path, two_sites: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(two_sites, copy)
    lost = manifest(copy)[2]["path"]
    (copy / lost).unlink()
    sharing = [n for n, e in enumerate(manifest(copy), 1) if e["path"] == lost]
    out = tmp_path / "out.jsonl"
    result = export(copy, out)
    assert result.returncode == 1
    for line in sharing:
        assert f"manifest.jsonl line {line}: text file" in result.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(manifest(copy)) - len(sharing)


# --- the CDXJ index -----------------------------------------------------------------


def test_the_index_lists_every_capture_after_a_crawl(two_sites: Path) -> None:
    for site in ("alpha", "beta"):
        entries = list(read_index(two_sites, site))
        raw = index_path(two_sites, site).read_text(encoding="utf-8").splitlines()
        assert raw == sorted(raw)
        captures = {p.relative_to(two_sites).as_posix() for p in (two_sites / "warc" / site).rglob("*.warc.gz")}
        assert {e.filename for e in entries} == captures
        assert len(entries) == len(response_records(two_sites, site))
        for entry in entries:
            assert entry in lookup(two_sites, site, entry.url)
    doc = manifest(two_sites)[0]
    assert doc["warc"] in {e.filename for e in Corpus(two_sites).captures(doc["url"])}


def test_the_index_stays_right_after_a_second_crawl_without_reading_old_captures_again(
    tmp_path: Path, editable_server: FixtureServer
) -> None:
    archive = tmp_path / "archive"
    site = write_site(tmp_path, editable_server.url, sections=("wp",))
    crawl(site, archive)
    first = index_path(archive, "fixture").read_text(encoding="utf-8").splitlines(keepends=True)
    # An indexed capture made unreadable: re-reading it would fail or change its line.
    victim = archive / json.loads(first[0].split(" ", 2)[2])["filename"]
    victim.chmod(0o644)
    victim.write_bytes(b"not a WARC file")

    crawl(site, archive, settings={"RECRAWL_AFTER": "0"})
    second = index_path(archive, "fixture").read_text(encoding="utf-8").splitlines(keepends=True)
    assert set(first) <= set(second)
    assert second == sorted(second) and len(second) == len(set(second))
    files = {p.relative_to(archive).as_posix() for p in (archive / "warc" / "fixture").rglob("*.warc.gz")}
    assert {json.loads(line.split(" ", 2)[2])["filename"] for line in second} == files
    assert update_index(archive, "fixture") == 0  # nothing left to add


def test_scrapy_index_builds_the_index_of_an_archive_made_without_one(tmp_path: Path, two_sites: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(two_sites, copy)
    shutil.rmtree(copy / "index")
    result = run_scrapy("index", settings={"ARCHIVE_DIR": str(copy)})
    assert result.returncode == 0, result.stderr
    for site in ("alpha", "beta"):
        assert index_path(copy, site).read_bytes() == index_path(two_sites, site).read_bytes()
    assert "0 capture files added" in run_scrapy("index", settings={"ARCHIVE_DIR": str(copy)}).stdout


def test_rebuild_of_one_url_finds_its_captures_through_the_index(tmp_path: Path, two_sites: Path) -> None:
    doc = manifest(two_sites)[3]
    out = tmp_path / "rebuilt"
    result = run_scrapy(
        "rebuild", str(two_sites / "warc"), "--url", doc["url"], "--site", str(two_sites.parent / f"{doc['site']}.toml"),
        settings={"ARCHIVE_DIR": str(out)},
    )
    assert result.returncode == 0, result.stderr
    assert "rebuild of 1 WARC file(s)" in result.stdout
    assert (out / doc["path"]).read_bytes() == (two_sites / doc["path"]).read_bytes()
    missing = run_scrapy("rebuild", str(two_sites / "warc"), "--url", "http://127.0.0.1:1/none", settings={"ARCHIVE_DIR": str(out)})
    assert missing.returncode != 0 and "no capture of it in the index" in missing.stderr
