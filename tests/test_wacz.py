"""`scrapy wacz`: a site's captures, or one run's, as a WACZ package that `wacz validate` accepts.

The archive is made by two real crawls of the demo site under one site
name (the Drupal section, then the WordPress one), so that the second run
wrote captures of its own; the packages are checked with py-wacz's own
validator and read back as ReplayWeb.page reads them: the CDXJ index, the
page list, the WARC files.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_timestamp

from tests.conftest import FixtureServer, crawl, run_scrapy, write_site


def captures(archive: Path, site: str = "fixture") -> set[Path]:
    return {p for p in (archive / "warc" / site).rglob("*.warc.gz") if not p.name.startswith(".")}


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, demo_server: FixtureServer) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("wacz")
    root = tmp / "archive"
    # One site name, two site files (each is fixture.toml): a section per run.
    for section in ("syria", "wp"):
        (tmp / section).mkdir()
    crawl(write_site(tmp / "syria", demo_server.url, sections=("syria",)), root)
    first_run = captures(root)
    wp = write_site(tmp / "wp", demo_server.url, sections=("wp",))
    crawl(wp, root)
    runs = sorted((root / "runs" / "fixture").glob("*.json"))
    assert len(runs) == 2
    second_run = captures(root) - first_run
    assert second_run and first_run
    return {"root": root, "runs": [r.stem for r in runs], "second_run": second_run, "site_file": wp, "tmp": tmp}


def wacz(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_scrapy("wacz", *args, settings={"ARCHIVE_DIR": str(archive)}, timeout=120)


def validate(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # main's return value as the exit code: `python -m wacz` exits 0 whatever it found.
        [sys.executable, "-c", "import sys; from wacz.main import main; sys.exit(main(sys.argv[1:]))", "validate", "-f", str(package)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def manifest(archive: Path) -> list[dict[str, Any]]:
    lines = (archive / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [d for d in map(json.loads, lines) if d["site"] == "fixture"]


def index_lines(package: zipfile.ZipFile) -> list[dict[str, Any]]:
    """The package's CDXJ index (ZipNum: gzip blocks, one after the other) as (urlkey, timestamp, fields)."""
    lines = gzip.decompress(package.read("indexes/index.cdx.gz")).decode("utf-8").splitlines()
    entries = []
    for line in lines:
        key, timestamp, fields = line.split(" ", 2)
        entries.append({"key": key, "timestamp": timestamp, **json.loads(fields)})
    return entries


def pages(package: zipfile.ZipFile) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *rest = package.read("pages/pages.jsonl").decode("utf-8").splitlines()
    return json.loads(header), [json.loads(line) for line in rest]


def responses(path: Path) -> list[tuple[str, str]]:
    """(URL, 14-digit timestamp) of each response record of a capture file."""
    with path.open("rb") as f:
        return [
            (r.rec_headers.get_header("WARC-Target-URI"), iso_date_to_timestamp(r.rec_headers.get_header("WARC-Date")))
            for r in ArchiveIterator(f)
            if r.rec_type == "response"
        ]


def check_package(package_path: Path, archive: Path, packed: set[Path]) -> None:
    """Valid for py-wacz, and ReplayWeb.page finds each capture and each article through it."""
    checked = validate(package_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with zipfile.ZipFile(package_path) as package:
        warcs = {n.removeprefix("archive/") for n in package.namelist() if n.startswith("archive/")}
        assert warcs == {p.name for p in packed}
        # The WARCs are stored, not deflated: replay reads records at their offsets in the zip.
        assert {package.getinfo(f"archive/{n}").compress_type for n in warcs} == {zipfile.ZIP_STORED}
        index = index_lines(package)
        assert {e["filename"] for e in index} == warcs
        indexed = {(e["url"], e["timestamp"]) for e in index}
        for path in packed:
            assert set(responses(path)) <= indexed, path
        header, listed = pages(package)
        assert header["format"] == "json-pages-1.0"
        packed_names = {p.relative_to(archive).as_posix() for p in packed}
        articles = [d for d in manifest(archive) if d["warc"] in packed_names]
        assert articles
        expected = {(d["url"], iso_date_to_timestamp(d["fetched_at"]), d["title"]) for d in articles}
        assert {(p["url"], iso_date_to_timestamp(p["ts"]), p["title"]) for p in listed} == expected
        assert len({p["id"] for p in listed}) == len(listed)
        # Each page opens on a capture of the package.
        for p in listed:
            assert (p["url"], iso_date_to_timestamp(p["ts"])) in indexed


def test_a_site_package_holds_every_capture_and_every_article(archive: dict[str, Any], tmp_path: Path) -> None:
    root = archive["root"]
    before = tree(root)
    out = tmp_path / "packages" / "fixture.wacz"
    # No --site: the archive holds one site.
    result = wacz(root, "-o", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{len(captures(root))} captures and {len(manifest(root))} pages of site fixture" in result.stdout
    check_package(out, root, captures(root))
    with zipfile.ZipFile(out) as package:
        datapackage = json.loads(package.read("datapackage.json"))
    assert datapackage["title"] == "fixture"
    assert [p.name for p in out.parent.iterdir()] == ["fixture.wacz"]
    assert tree(root) == before


def test_a_run_package_holds_that_runs_captures_only(archive: dict[str, Any], tmp_path: Path) -> None:
    root = archive["root"]
    out = tmp_path / "run.wacz"
    # The site named by its site file, as the crawl was.
    result = wacz(root, "-o", str(out), "--site", str(archive["site_file"]), "--run", archive["runs"][1])
    assert result.returncode == 0, result.stderr[-3000:]
    check_package(out, root, archive["second_run"])
    with zipfile.ZipFile(out) as package:
        _, listed = pages(package)
    assert listed and all("/wp/" in p["url"] for p in listed)


def test_overwrite_replaces_the_package(archive: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "fixture.wacz"
    out.write_bytes(b"an older package")
    result = wacz(archive["root"], "-o", str(out), "--overwrite", "--run", archive["runs"][0])
    assert result.returncode == 0, result.stderr[-3000:]
    check_package(out, archive["root"], captures(archive["root"]) - archive["second_run"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixture.wacz"]


def two_sites(root: Path, tmp: Path) -> Path:
    """A copy of the archive with a second site in it."""
    copy = tmp / "two-sites"
    shutil.copytree(root, copy)
    other = copy / "warc" / "other" / "00"
    other.mkdir(parents=True)
    shutil.copy(min(captures(copy)), other)
    return copy


BAD_INPUT = {
    "site with no captures": (["--site", "nosuchsite"], "no captures of site nosuchsite"),
    "site file that does not exist": (["--site", "missing/site.toml"], "no such site file"),
    "unknown run": (["--run", "20000101T000000.000000Z"], "site fixture has no run 20000101T000000.000000Z"),
    "run outside the site's runs": (["--run", "../../manifest"], "site fixture has no run ../../manifest"),
    "not a .wacz name": (["-o", "{out_dir}/fixture.zip"], "a WACZ package's name ends in .wacz"),
    "output exists": (["-o", "{out_dir}/taken.wacz"], "taken.wacz exists: give --overwrite to replace it"),
    "several sites, no --site": (
        ["--archive", "two-sites"],
        "holds several sites (fixture, other): choose one with --site",
    ),
    "archive with no warc/": (["--archive", "empty"], "no captures"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_a_clear_error_and_writes_nothing(archive: dict[str, Any], tmp_path: Path, case: str) -> None:
    args, message = BAD_INPUT[case]
    root = archive["root"]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "taken.wacz").write_bytes(b"someone's package")
    if "--archive" in args:
        which = args[args.index("--archive") + 1]
        root = two_sites(root, tmp_path) if which == "two-sites" else tmp_path / which
        root.mkdir(exist_ok=True)
        args = []
    args = [a.format(out_dir=out_dir) for a in args]
    if "-o" not in args:
        args = ["-o", str(out_dir / "fixture.wacz"), *args]
    before, outputs = tree(root), tree(out_dir)
    result = wacz(root, *args)
    assert result.returncode == 2, result.stderr[-3000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(out_dir) == outputs
    assert (out_dir / "taken.wacz").read_bytes() == b"someone's package"
    assert tree(root) == before


def test_a_damaged_capture_is_left_out_and_reported(archive: dict[str, Any], tmp_path: Path) -> None:
    root = tmp_path / "archive"
    shutil.copytree(archive["root"], root)
    article = manifest(root)[0]
    damaged = root / article["warc"]
    damaged.write_bytes(damaged.read_bytes()[:-200])  # the last record cut short, as by a full disk
    out = tmp_path / "fixture.wacz"
    result = wacz(root, "-o", str(out))
    assert result.returncode == 1
    assert f"Damaged capture left out: {damaged}: EOFError" in result.stderr
    assert "1 damaged capture(s) left out" in result.stderr
    # The package is still whole and valid, without it (and without its article).
    check_package(out, root, captures(root) - {damaged})
