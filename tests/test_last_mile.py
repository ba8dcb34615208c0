"""The last mile of extraction, over HTTP: a body cut before it was sent, and UTF-8 under a legacy charset label.

A fixture site served by the demo server, crawled twice, then rebuilt from
its WARC files: what the crawl made of each page, the rebuild makes too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.store.manifest import read_manifest
from tests.conftest import FixtureServer, _toml, crawl, run_scrapy, stat

PARAGRAPHS = [
    "قالت مصادر محلية إن الأهالي في المدينة ينتظرون منذ أسابيع عودة الخدمات الأساسية إلى أحيائهم، وسط وعود متكررة من الجهات المسؤولة.",
    "وأضافت المصادر أن اللجنة المختصة ستعقد اجتماعها المقبل خلال أيام لمتابعة ملف الكهرباء والمياه في الأحياء الشرقية.",
] * 6


def page(title: str, charset: str = "utf-8") -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f'<!DOCTYPE html><html lang="ar"><head><meta charset="{charset}"><title>{title}</title></head>'
        f'<body><article><h1>{title}</h1><time datetime="2022-05-01">1 مايو 2022</time>{body}</article></body></html>'
    )


@pytest.fixture
def site(tmp_path: Path) -> Any:
    root = tmp_path / "site"
    news = root / "news"
    news.mkdir(parents=True)
    pages = {"whole": page("خبر كامل"), "cut": page("خبر مبتور"), "cp1256-label": page("خبر بترميز معلن خطأ", "windows-1256"),
             "gb2312-label": page("خبر آخر بترميز معلن خطأ", "gb2312")}
    # Labelled English by its template, said to be for subscribers by its metadata.
    pages["members"] = page("خبر للمشتركين").replace('lang="ar"', 'lang="en"').replace(
        "</head>", '<script type="application/ld+json">{"@type": "NewsArticle", "isAccessibleForFree": "False"}</script></head>'
    )
    for name, html in pages.items():
        (news / f"{name}.html").write_text(html, encoding="utf-8")
    (root / "index.html").write_text("".join(f'<a href="/news/{n}.html">{n}</a> ' for n in pages), encoding="utf-8")
    routes = '["/news/cut.html"]\ngzip = true\ngzip_cut = true\n\n["/news/whole.html"]\ngzip = true\n\n'
    # No charset in the header: the page's own <meta> label is all there is.
    routes += "".join(f'["/news/{n}.html"]\ncontent_type = "text/html"\n\n' for n in ("cp1256-label", "gb2312-label"))
    (root / "routes.toml").write_text(routes, encoding="utf-8")
    server = FixtureServer(root, tmp_path / "requests.jsonl")
    conf = {"name": "mile", "allowed_domains": ["127.0.0.1"], "start_urls": [server.url + "/"],
            "article_pattern": r"/news/[a-z0-9-]+\.html", "language": "ar"}
    site_file = tmp_path / "mile.toml"
    site_file.write_text(_toml(conf), encoding="utf-8")
    yield {"server": server, "site": site_file, "folder": tmp_path}
    server.stop()


def test_a_body_cut_before_it_was_sent_is_captured_no_document_and_fetched_again(site: Any) -> None:
    server, archive = site["server"], site["folder"] / "archive"
    first = crawl(site["site"], archive)
    stored = {e["url"].rsplit("/", 1)[1] for e in read_manifest(archive / "manifest.jsonl")}
    assert "cut.html" not in stored and "whole.html" in stored
    assert stat(first, "text/no_document/truncated") == 1
    assert f"No document from {server.url}/news/cut.html: the body was cut short in transfer" in first.stderr
    report = json.loads(sorted((archive / "runs" / "mile").glob("*.json"))[-1].read_text(encoding="utf-8"))
    assert report["failures"]["no_document"] == {"truncated": 1}

    server.clear_log()
    crawl(site["site"], archive)  # RECRAWL_AFTER (6 h) keeps stored articles from being asked again
    again = [r["path"] for r in server.requests() if r["path"].startswith("/news/")]
    assert "/news/cut.html" in again and "/news/whole.html" not in again

    rebuilt = site["folder"] / "rebuilt"
    result = run_scrapy("rebuild", str(archive / "warc"), "--site", str(site["site"]), settings={"ARCHIVE_DIR": str(rebuilt)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipped (no_document/truncated): 1" in result.stdout  # the same bytes twice: one capture
    assert sorted(read_manifest(rebuilt / "manifest.jsonl"), key=json.dumps) == sorted(read_manifest(archive / "manifest.jsonl"), key=json.dumps)


def test_utf8_bytes_under_a_legacy_charset_label_are_read_as_utf8(site: Any) -> None:
    archive = site["folder"] / "archive"
    result = crawl(site["site"], archive)
    texts = {e["url"].rsplit("/", 1)[1]: (archive / e["path"]).read_text(encoding="utf-8") for e in read_manifest(archive / "manifest.jsonl")}
    expected = "\n\n".join(PARAGRAPHS) + "\n"
    assert texts["cp1256-label.html"] == texts["gb2312-label.html"] == texts["whole.html"] == expected
    titles = {e["url"].rsplit("/", 1)[1]: e["title"] for e in read_manifest(archive / "manifest.jsonl")}
    assert titles["cp1256-label.html"] == "خبر بترميز معلن خطأ"
    assert stat(result, "text/utf8_despite_declared_charset") == 2


def test_free_access_comes_from_the_metadata_and_the_site_file_language_overrides_the_pages(site: Any) -> None:
    archive = site["folder"] / "archive"
    crawl(site["site"], archive)
    entries = {e["url"].rsplit("/", 1)[1]: e for e in read_manifest(archive / "manifest.jsonl")}
    assert entries["members.html"]["free_access"] is False
    assert entries["whole.html"]["free_access"] is None  # the page does not say
    assert {e["language"] for e in entries.values()} == {"ar"}  # members.html says "en"


def test_a_site_file_language_must_be_an_iso_639_1_code() -> None:
    from crawler.sites import SiteFileError, parse_site

    base = {"name": "s", "allowed_domains": ["example.org"], "start_urls": ["https://example.org/"]}
    assert parse_site({**base, "language": "ar"}).rules.language == "ar"
    for bad in ("arabic", "AR", "ar-EG", 1):
        with pytest.raises(SiteFileError, match="language"):
            parse_site({**base, "language": bad})
