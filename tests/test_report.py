"""`scrapy report` on crawled archives: the page's figures against the manifest, run reports and captures, in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import lxml.html
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import FixtureServer, crawl, run_scrapy, write_site

# The run table's columns: these keys of each run report, in this order.
RUN_KEYS = ("started", "duration_s", "pages_fetched", "captures_written", "documents_new", "documents_updated", "not_modified")
KIND_LABELS = {
    "no_document": "no document",
    "fetch_failed": "fetch failed",
    "http_status": "HTTP status",
    "download_error": "download error",
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, demo_server: FixtureServer) -> Path:
    """Two sites: "wp" (the WordPress section) crawled twice, the second run conditional (304s); "syria" once."""
    root = tmp_path_factory.mktemp("report")
    archive = root / "archive"
    wp = write_site(root, demo_server.url, sections=("wp",), name="wp")
    crawl(wp, archive)
    crawl(wp, archive, settings={"RECRAWL_AFTER": "0"})
    crawl(write_site(root, demo_server.url, sections=("syria",), name="syria"), archive)
    return archive


def report(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_scrapy("report", *args, settings={"ARCHIVE_DIR": str(archive)}, timeout=120)


def manifest(archive: Path, site: str) -> list[dict[str, Any]]:
    lines = (archive / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [entry for entry in map(json.loads, lines) if entry["site"] == site]


def runs(archive: Path, site: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((archive / "runs" / site).glob("*.json"))]


def table(page: lxml.html.HtmlElement, name: str, index: int = 0) -> list[list[str]]:
    rows = page.xpath(f'//table[@class="{name}"]')[index].xpath("./tbody/tr")
    return [[cell.text_content().strip() for cell in row.xpath("./td")] for row in rows]


def bars(page: lxml.html.HtmlElement, css: str) -> Counter[str]:
    rects = page.xpath(f'//*[local-name()="rect"][contains(@class, "{css}")]')
    return Counter({r.get("data-date"): int(r.get("data-count")) for r in rects})


def test_each_figure_of_the_page_is_the_archives(archive: Path) -> None:
    result = report(archive)
    assert result.returncode == 0, result.stderr[-3000:]
    out = archive / "report"
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "syria.html", "wp.html"]
    for name in ("index.html", "wp.html", "syria.html"):
        assert (out / name).resolve().as_uri() in result.stdout
    page_file = out / "wp.html"
    raw = page_file.read_text(encoding="utf-8")
    page = lxml.html.fromstring(raw)
    entries = manifest(archive, "wp")
    assert entries

    # Offline and self-contained: no script, no stylesheet, image or frame from anywhere.
    assert page.get("lang") == "en" and '<meta charset="utf-8">' in raw
    assert not page.xpath("//script | //link | //img | //iframe | //*[@src]")

    # Documents per day: every manifest line is in a bar of its publication day (or counted undated) and of its fetch day.
    published = Counter(e["published"][:10] for e in entries if e["published"])
    assert bars(page, "bar-pub") == published
    assert sum(published.values()) + sum(1 for e in entries if not e["published"]) == len(entries)
    assert bars(page, "bar-fetch") == Counter(e["fetched_at"][:10] for e in entries)
    figures = {dt.text_content(): dd.text_content() for dt, dd in zip(page.xpath("//dl/div/dt"), page.xpath("//dl/div/dd"), strict=True)}
    assert figures["documents"] == f"{len(entries):,}"
    assert figures["runs"] == "2"

    # Failures: summed over both run reports.
    expected: Counter[tuple[str, str]] = Counter()
    for run in runs(archive, "wp"):
        for kind, reasons in run["failures"].items():
            for reason, n in reasons.items():
                expected[KIND_LABELS[kind], reason] += n
    assert expected, "the demo site has pages that give no document and 404s"
    assert {(kind, reason): int(n) for kind, reason, n, _ in table(page, "failures")} == expected

    # Captures by status: the response records of the site's capture files, as warcio reads them.
    statuses: Counter[str] = Counter()
    for path in (archive / "warc" / "wp").rglob("*.warc.gz"):
        with path.open("rb") as f:
            statuses.update(r.http_headers.get_statuscode() for r in ArchiveIterator(f) if r.rec_type == "response")
    assert {"200", "304", "404"} <= set(statuses)
    assert {status: int(n.replace(",", "")) for status, _, n, _, _ in table(page, "captures")} == statuses

    # Largest and emptiest: sizes and titles of the manifest's texts; both links lead to the document's own files.
    sizes = sorted((archive / e["path"]).stat().st_size for e in entries)
    for index, ranked in ((0, sizes[::-1][:10]), (1, sizes[:10])):
        rows = page.xpath('//table[@class="documents"]')[index].xpath("./tbody/tr")
        assert [int(r.xpath("./td")[0].text_content().replace(",", "")) for r in rows] == ranked
        for row in rows:
            title_cell = row.xpath('./td[@class="title"]')[0]
            assert title_cell.get("dir") == "auto"
            text_href, warc_href = (a.get("href") for a in row.xpath("./td/a[text()='text' or text()='WARC']"))
            text_file = (out / unquote(text_href)).resolve()
            warc_file = (out / unquote(warc_href)).resolve()
            assert text_file.is_file() and warc_file.is_file()
            url = title_cell.xpath("./a")[0].get("href")
            doc = next(e for e in entries if e["url"] == url and (archive / e["path"]).resolve() == text_file)
            assert title_cell.text_content() == doc["title"]
            assert (archive / doc["warc"]).resolve() == warc_file

    # Runs: one row each, newest first.
    rows = table(page, "runs")
    reports = runs(archive, "wp")[::-1]
    assert len(rows) == 2
    for row, run in zip(rows, reports, strict=True):
        for key in RUN_KEYS[2:]:
            assert int(row[RUN_KEYS.index(key)].replace(",", "")) == run[key], key
        assert row[-1] == run["finish_reason"] == "finished"
    assert reports[0]["not_modified"] > 0

    # The index: one row per site, each linking to its page.
    index = lxml.html.fromstring((out / "index.html").read_text(encoding="utf-8"))
    links = {a.text_content(): a.get("href") for a in index.xpath("//table/tbody/tr/td/a")}
    assert links == {"wp": "wp.html", "syria": "syria.html"}
    site_rows = {row[0]: row for row in table(index, "sites")}
    assert site_rows["syria"][1] == f"{len(manifest(archive, 'syria')):,}"


def test_chromium_renders_the_chart_and_tables(archive: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Chromium is needed to check the page renders: apt-get install chromium"
    out = tmp_path / "pages"
    result = report(archive, "--site", "wp", "-o", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    page = out / "wp.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-3000:]
    rendered = lxml.html.fromstring(dom.stdout)
    source = lxml.html.fromstring(page.read_text(encoding="utf-8"))
    assert len(rendered.xpath("//svg")) == 2
    assert bars(rendered, "bar-pub") == bars(source, "bar-pub") and sum(bars(rendered, "bar-pub").values()) > 0
    assert bars(rendered, "bar-fetch") == bars(source, "bar-fetch")
    for name, count in (("failures", 1), ("captures", 1), ("documents", 2), ("runs", 1)):
        tables = rendered.xpath(f'//table[@class="{name}"]')
        assert len(tables) == count and all(t.xpath("./tbody/tr") for t in tables), name

    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1280 and int.from_bytes(png[20:24], "big") > 0


def test_one_site_by_its_site_file_into_a_folder_then_overwritten(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    site_file = archive.parent / "syria.toml"
    result = report(archive, "--site", str(site_file), "-o", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.name for p in out.iterdir()] == ["syria.html"]  # one site: no index
    page = lxml.html.fromstring((out / "syria.html").read_text(encoding="utf-8"))
    hrefs = [a.get("href") for a in page.xpath("//a[text()='text' or text()='WARC']")]
    assert hrefs and all((out / unquote(h)).is_file() for h in hrefs)

    (out / "syria.html").write_text("an older page", encoding="utf-8")
    again = report(archive, "--site", "syria", "-o", str(out))
    assert again.returncode != 0
    assert f"{out / 'syria.html'} exists: add --overwrite to replace it" in again.stderr
    assert (out / "syria.html").read_text(encoding="utf-8") == "an older page"

    replaced = report(archive, "--site", "syria", "-o", str(out), "--overwrite")
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert "<svg" in (out / "syria.html").read_text(encoding="utf-8")
    assert [p.name for p in out.iterdir()] == ["syria.html"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("no manifest", "is not an archive: it has no manifest.jsonl"),
        ("unknown site", "unknown site 'nosuch': "),
        ("page exists", "wp.html exists: add --overwrite to replace it"),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(archive: Path, tmp_path: Path, case: str, message: str) -> None:
    out = tmp_path / "out"
    if case == "no manifest":
        empty = tmp_path / "empty"
        (empty / "text" / "wp").mkdir(parents=True)
        result = run_scrapy("report", "-o", str(out), settings={"ARCHIVE_DIR": str(empty)})
        assert not (empty / "report").exists()
    elif case == "unknown site":
        result = report(archive, "--site", "nosuch", "-o", str(out))
        assert "holds syria, wp" in result.stderr
    else:
        out.mkdir()
        (out / "wp.html").write_text("kept", encoding="utf-8")
        result = report(archive, "-o", str(out))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    written = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert written == (["wp.html"] if case == "page exists" else [])
    if case == "page exists":
        assert (out / "wp.html").read_text(encoding="utf-8") == "kept"


def test_no_index_a_damaged_run_report_and_markup_in_a_title_are_shown_not_fatal(archive: Path, tmp_path: Path) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(archive, copy, ignore=shutil.ignore_patterns("index", "report", "state"))
    (copy / "runs" / "wp" / "99991231T000000.000000Z.json").write_text('{"started": ', encoding="utf-8")
    # On the largest text, so that it is listed.
    entry = max(manifest(copy, "wp"), key=lambda e: (copy / e["path"]).stat().st_size)
    entry.update(title='<script>alert("x")</script> & عنوان', url=entry["url"] + "?copy=1")
    with (copy / "manifest.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")

    result = report(copy, "--site", "wp")
    assert result.returncode == 0, result.stderr[-3000:]
    raw = (copy / "report" / "wp.html").read_text(encoding="utf-8")
    page = lxml.html.fromstring(raw)
    note = page.xpath('//h2[@id="captures"]/following-sibling::p[1]')[0].text_content()
    assert "No CDXJ index" in note and "scrapy index --site wp" in note
    assert "99991231T000000.000000Z.json" in page.xpath('//h2[@id="failures"]/following-sibling::p[1]')[0].text_content()
    assert len(table(page, "runs")) == 2
    assert not page.xpath("//script")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; عنوان" in raw
    assert bars(page, "bar-fetch").total() == len(manifest(copy, "wp"))
