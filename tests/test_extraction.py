"""Clean article text and metadata: per fixture article, and through a real crawl of the demo site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.extract.document import NoDocument, extract_document
from crawler.extract.rules import ExtractionRules
from crawler.store.manifest import REQUIRED_KEYS, read_manifest
from tests.conftest import (
    ARTICLES,
    SITE_ROOT,
    FixtureServer,
    articles,
    crawl,
    section,
    stat,
    write_site,
)

PHRASES = ARTICLES["boilerplate"]["phrases"]
BASE = "http://127.0.0.1:8765"


def extract(article: dict[str, Any]) -> Any:
    body = (SITE_ROOT / article["file"]).read_bytes()
    content_type = "text/html" if article.get("charset") == "windows-1256" else "text/html; charset=utf-8"
    rules = ExtractionRules(boilerplate=tuple(section(article["section"]).get("boilerplate", [])))
    return extract_document(BASE + article["path"], content_type, body, rules)


@pytest.mark.parametrize("article", articles(), ids=[a["id"] for a in articles()])
def test_body_text_equals_the_expected_text(article: dict[str, Any]) -> None:
    doc = extract(article)
    assert not isinstance(doc, NoDocument), doc
    assert doc.text == (SITE_ROOT / article["expected"]).read_text(encoding="utf-8")


@pytest.mark.parametrize("article", articles(), ids=[a["id"] for a in articles()])
def test_no_boilerplate_phrase_survives(article: dict[str, Any]) -> None:
    doc = extract(article)
    leaked = [p for p in PHRASES if p in doc.text]
    assert leaked == []


@pytest.mark.parametrize("article", articles(), ids=[a["id"] for a in articles()])
def test_metadata(article: dict[str, Any]) -> None:
    doc = extract(article)
    assert doc.title == article["title"]
    assert doc.published == article["published"]
    assert doc.author == article.get("author")
    assert doc.language == "ar"


def test_text_is_kept_as_written_diacritics_tatweel_digits_spaces() -> None:
    paragraph = "قالــت الوزارة إنّ عدد الطلاب بلغ ٢٠٢٢ طالباً\xa0و1500 طالبة في العام الدراسيّ الجديد، وفق بيان رسمي."
    second = "وأضافت أنّ الدراسة ستبدأ في الأول من أيلول، بمشاركة ٣٥٠ مدرسةً في المحافظات كافّة."
    page = f"<html lang='ar'><body><article><h1>عنوان</h1><p>{paragraph}</p><p>{second}</p></article></body></html>"
    doc = extract_document(BASE + "/wp/2022/01/01/x/", "text/html; charset=utf-8", page.encode())
    assert doc.text == f"{paragraph}\n\n{second}\n"


def test_text_form_nfc_blank_line_paragraphs_one_final_newline() -> None:
    import unicodedata

    for article in articles():
        text = extract(article).text
        assert unicodedata.is_normalized("NFC", text)
        assert text.endswith("\n") and not text.endswith("\n\n")
        assert "\n\n\n" not in text and not text.startswith("\n")


@pytest.mark.parametrize(
    "content_type, body, reason",
    [
        ("application/pdf", b"%PDF-1.4\n...", "not_html"),
        ("text/html; charset=utf-8", b"", "empty"),
        ("text/html; charset=utf-8", "<html><body><p>حياة</p></body></html>".encode("cp1256") * 5, "bad_charset"),
        ("text/html; charset=utf-8", b"<html><body><nav><a href='/'>x</a></nav></body></html>", "no_body"),
    ],
    ids=["pdf", "empty", "lying_charset", "no_body"],
)
def test_pages_without_a_body_are_no_document(content_type: str, body: bytes, reason: str) -> None:
    result = extract_document(BASE + "/wp/2022/01/01/x/", content_type, body)
    assert isinstance(result, NoDocument) and result.reason == reason


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, demo_server: FixtureServer) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("extraction")
    site = write_site(tmp, demo_server.url)
    archive = tmp / "archive"
    result = crawl(site, archive)
    return {"archive": archive, "result": result, "manifest": read_manifest(archive / "manifest.jsonl"), "base": demo_server.url}


def test_crawl_stores_every_article_and_describes_it(crawled: dict[str, Any]) -> None:
    archive, base = crawled["archive"], crawled["base"]
    by_url = {e["url"]: e for e in crawled["manifest"]}
    for article in articles():
        entry = by_url[base + article["path"]]
        assert set(REQUIRED_KEYS) <= set(entry)
        expected = (SITE_ROOT / article["expected"]).read_bytes()
        assert (archive / entry["path"]).read_bytes() == expected
        assert entry["title"] == article["title"] and entry["published"] == article["published"]
        assert entry["site"] == "fixture" and entry["language"] == "ar"
        assert (archive / entry["warc"]).exists() and entry["warc_record_id"].startswith("<urn:uuid:")
        assert entry["fetched_at"].endswith("Z")


def test_the_same_article_under_two_urls_is_one_text_file(crawled: dict[str, Any]) -> None:
    base = crawled["base"]
    doubles = [a for a in articles() if a.get("also_at")]
    assert doubles
    for article in doubles:
        entries = [e for e in crawled["manifest"] if e["url"] in {base + p for p in [article["path"], *article["also_at"]]}]
        assert len(entries) == 1 + len(article["also_at"])
        assert len({e["path"] for e in entries}) == 1
        assert {e["canonical_url"] for e in entries} == {base + article["path"]}


def test_pages_without_body_are_counted_not_stored(crawled: dict[str, Any]) -> None:
    result = crawled["result"]
    assert stat(result, "text/no_document/not_html") >= 1  # the PDF
    assert stat(result, "text/no_document/no_body") >= 1  # the video page
    assert stat(result, "text/no_document/not_article") >= 1  # the monthly archive, matching the article pattern
    urls = {e["url"] for e in crawled["manifest"]}
    assert not [u for u in urls if u.endswith(".pdf")]
    assert "No document from" in result.stderr


def test_recrawl_unchanged_appends_nothing_changed_article_appends_a_version(tmp_path: Path, editable_server: FixtureServer) -> None:
    site = write_site(tmp_path, editable_server.url, sections=("wp",))
    archive = tmp_path / "archive"
    crawl(site, archive)
    first = (archive / "manifest.jsonl").read_bytes()
    texts = {p: p.read_bytes() for p in (archive / "text").rglob("*.txt")}
    crawl(site, archive)
    assert (archive / "manifest.jsonl").read_bytes() == first

    article = articles("wp")[0]
    page = tmp_path / "site" / article["file"]
    html = page.read_text(encoding="utf-8")
    first_paragraph = (SITE_ROOT / article["expected"]).read_text(encoding="utf-8").split("\n\n")[0]
    assert first_paragraph in html
    page.write_text(html.replace(first_paragraph, first_paragraph + " (تحديث)", 1), encoding="utf-8")
    # Stored articles are asked again once RECRAWL_AFTER has passed: now, here.
    crawl(site, archive, settings={"RECRAWL_AFTER": "0"})
    entries = read_manifest(archive / "manifest.jsonl")
    versions = [e for e in entries if e["url"] == editable_server.url + article["path"]]
    assert len(versions) == 2 and versions[0]["sha256"] != versions[1]["sha256"]
    assert (archive / versions[1]["path"]).read_text(encoding="utf-8").startswith(first_paragraph + " (تحديث)")
    for path, data in texts.items():
        assert path.read_bytes() == data  # old versions stay
    assert (archive / "manifest.jsonl").read_bytes().startswith(first)


def test_windows_1256_page_is_decoded(crawled: dict[str, Any]) -> None:
    cp1256 = [a for a in articles() if a.get("charset") == "windows-1256"]
    assert cp1256
    by_url = {e["url"]: e for e in crawled["manifest"]}
    for article in cp1256:
        entry = by_url[crawled["base"] + article["path"]]
        text = (crawled["archive"] / entry["path"]).read_text(encoding="utf-8")
        assert text == (SITE_ROOT / article["expected"]).read_text(encoding="utf-8")


