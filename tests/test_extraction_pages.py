"""Extraction on pages shaped like the themes that broke it on real sites (tests/pages/), unit and crawl."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from crawler.extract.document import NoDocument, extract_document
from crawler.extract.rules import ExtractionRules
from crawler.store.manifest import read_manifest
from tests.conftest import FixtureServer, crawl, run_scrapy, stat

PAGES = Path(__file__).parent / "pages"
INDEX = tomllib.loads((PAGES / "pages.toml").read_text(encoding="utf-8"))
BASE = "http://127.0.0.1:8765"
CRAWL_RULES = {
    "article_pattern": r"(/voice/\d{4}/\d{2}/)|(/daily/story/\d+)|(NewsDetails\.aspx)",
    "body_selector": ".story-text",
    "drop_selectors": [".promo"],
    "date_selector": ".story-date",
}


def rules_of(page: dict[str, Any]) -> ExtractionRules:
    conf = INDEX["site"][page["site"]]
    return ExtractionRules(
        body_selector=conf.get("body_selector"),
        drop_selectors=tuple(conf.get("drop_selectors", ())),
        date_selector=conf.get("date_selector"),
        article_pattern=conf.get("article_pattern"),
    )


def extract(page: dict[str, Any], rules: ExtractionRules | None = None) -> Any:
    body = (PAGES / page["file"]).read_bytes()
    content_type = page.get("content_type", "text/html; charset=utf-8")
    return extract_document(BASE + page["path"], content_type, body, rules or rules_of(page))


PAGE_LIST = INDEX["page"]
DOCUMENTS = [p for p in PAGE_LIST if "expected" in p]


@pytest.mark.parametrize("page", DOCUMENTS, ids=[p["id"] for p in DOCUMENTS])
def test_whole_body_and_nothing_else(page: dict[str, Any]) -> None:
    doc = extract(page)
    assert not isinstance(doc, NoDocument), doc
    assert doc.text == (PAGES / page["expected"]).read_text(encoding="utf-8")
    assert [phrase for phrase in page.get("must_not", []) if phrase in doc.text] == []


@pytest.mark.parametrize("page", DOCUMENTS, ids=[p["id"] for p in DOCUMENTS])
def test_title_date_author(page: dict[str, Any]) -> None:
    doc = extract(page)
    assert doc.title == page["title"]
    assert doc.published == page.get("published")
    assert doc.author == page.get("author")
    assert list(doc.notes) == page.get("notes", [])


@pytest.mark.parametrize("page", [p for p in PAGE_LIST if "no_document" in p], ids=lambda p: p["id"])
def test_pages_that_are_not_articles_give_no_document(page: dict[str, Any]) -> None:
    result = extract(page)
    assert isinstance(result, NoDocument) and result.reason == page["no_document"]


def test_without_the_site_selectors_the_promotion_and_the_update_date_get_through() -> None:
    # What the selectors are for: the generic path cannot know these two.
    page = next(p for p in PAGE_LIST if p["id"] == "selectors")
    doc = extract(page, ExtractionRules())
    assert "حمّل تطبيق" in doc.text and doc.published == "2022-03-20"
    assert (PAGES / page["expected"]).read_text(encoding="utf-8").split("\n\n")[0] in doc.text


def test_an_article_with_machine_readable_type_is_never_a_listing() -> None:
    teasers = "".join(
        f"<h3><a href='/voice/2022/03/0{i}/story-{i}/'>عنوان خبر آخر رقم {i} من أخبار المدينة</a></h3>" for i in range(1, 8)
    )
    page = (
        "<html lang='ar'><head><meta property='og:type' content='article'><title>خبر قصير</title></head><body>"
        f"<h1>خبر قصير</h1><p>افتتحت البلدية حديقة عامة جديدة في حي الصناعة.</p>{teasers}</body></html>"
    )
    doc = extract_document(BASE + "/voice/2022/03/12/short/", "text/html; charset=utf-8", page.encode(), ExtractionRules())
    assert not isinstance(doc, NoDocument), doc
    assert doc.text == "افتتحت البلدية حديقة عامة جديدة في حي الصناعة.\n"


def test_a_byline_inside_a_sentence_is_text() -> None:
    body = (
        "<p>كتب الرئيس رسالة إلى البرلمان يطلب فيها تمديد حالة الطوارئ ثلاثة أشهر أخرى، وفق ما نقلت وكالة الأنباء الرسمية.</p>"
        "<p>وقال النواب إنهم سيناقشون الطلب في جلسة الأسبوع المقبل، وسط انقسام واضح بين الكتل السياسية الممثلة فيه.</p>"
    )
    page = f"<html lang='ar'><body><article><h1>رسالة إلى البرلمان</h1>{body}</article></body></html>"
    doc = extract_document(BASE + "/x/2022/03/a/", "text/html; charset=utf-8", page.encode(), ExtractionRules())
    assert doc.text.startswith("كتب الرئيس رسالة") and doc.author is None


@pytest.fixture(scope="module")
def pages_crawl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("pages")
    server = FixtureServer(PAGES, tmp / "requests.jsonl")
    try:
        site = tmp / "pages.toml"
        conf = {
            "name": "pages",
            "allowed_domains": ["127.0.0.1"],
            "start_urls": [server.url + p for p in ("/voice/2022/03/", "/daily/index.html", "/aspnet/NewsDetails.aspx?id=4471")],
            **CRAWL_RULES,
        }
        site.write_text("\n".join(f"{k} = {_toml_value(v)}" for k, v in conf.items()) + "\n", encoding="utf-8")
        archive = tmp / "archive"
        result = crawl(site, archive)
        return {"archive": archive, "result": result, "site": site, "base": server.url, "tmp": tmp}
    finally:
        server.stop()


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "'" + value + "'"


def test_crawl_stores_the_articles_counts_the_listing_and_the_selector_fallback(pages_crawl: dict[str, Any]) -> None:
    archive, base, result = pages_crawl["archive"], pages_crawl["base"], pages_crawl["result"]
    by_url = {e["url"]: e for e in read_manifest(archive / "manifest.jsonl")}
    for page in DOCUMENTS:
        entry = by_url[base + page["path"]]
        assert (archive / entry["path"]).read_text(encoding="utf-8") == (PAGES / page["expected"]).read_text(encoding="utf-8")
        assert entry["published"] == page.get("published") and entry["author"] == page.get("author")
    assert base + "/voice/2022/03/" not in by_url
    assert stat(result, "text/no_document/not_article") == 1
    # The body selector misses on every page but the one of its template.
    assert stat(result, "text/body_selector_missed") == len(DOCUMENTS) - 1
    assert "ERROR" not in result.stderr.replace("log_count/ERROR", "")


def test_rebuild_uses_the_site_file_selectors_as_the_crawl_did(pages_crawl: dict[str, Any]) -> None:
    archive, tmp = pages_crawl["archive"], pages_crawl["tmp"]
    rebuilt = tmp / "rebuilt"
    result = run_scrapy(
        "rebuild", str(archive / "warc"), "--site", str(pages_crawl["site"]), settings={"ARCHIVE_DIR": str(rebuilt)}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    crawled = {p.relative_to(archive): p.read_bytes() for p in (archive / "text").rglob("*.txt")}
    assert {p.relative_to(rebuilt): p.read_bytes() for p in (rebuilt / "text").rglob("*.txt")} == crawled
    assert len(crawled) == len(DOCUMENTS)
    assert "body selector missed: 3" in result.stdout + result.stderr


ARTICLE_BODY = (
    "<p>افتتحت البلدية اليوم حديقة عامة جديدة في حي الصناعة بعد أشهر من أعمال التأهيل والتشجير.</p>"
    "<p>وقال رئيس البلدية إن الحديقة تضم ملعباً للأطفال ومساحات خضراء واسعة مفتوحة للأهالي طوال أيام الأسبوع.</p>"
)
EXPECTED_BODY = (
    "افتتحت البلدية اليوم حديقة عامة جديدة في حي الصناعة بعد أشهر من أعمال التأهيل والتشجير.\n\n"
    "وقال رئيس البلدية إن الحديقة تضم ملعباً للأطفال ومساحات خضراء واسعة مفتوحة للأهالي طوال أيام الأسبوع.\n"
)


@pytest.mark.parametrize(
    "page",
    [
        f"<?xml version='1.0' encoding='utf-8'?>\n<html><body><article><h1>حديقة</h1>{ARTICLE_BODY}</article></body></html>",
        f"<html><body><noscript><div class='post-body'>{ARTICLE_BODY}</div></noscript></body></html>",
        f"<html><body><a href='http://[ccpa-preferences]/x'>إعدادات</a><article>{ARTICLE_BODY}</article></body></html>",
        f"<html><body><article><!-- ad -->{ARTICLE_BODY.replace('جديدة', 'جديدة<!-- -->', 1)}</article></body></html>",
    ],
    ids=["xml_declaration", "body_in_noscript", "broken_link_host", "comment_inside_paragraph"],
)
def test_odd_but_real_markup_keeps_the_article(page: str) -> None:
    doc = extract_document(BASE + "/x/1", "text/html; charset=utf-8", page.encode(), ExtractionRules())
    assert not isinstance(doc, NoDocument), doc
    assert doc.text == EXPECTED_BODY


def test_an_archive_with_long_excerpts_is_a_listing() -> None:
    page = next(p for p in PAGE_LIST if p["id"] == "month_archive")
    html = (PAGES / page["file"]).read_text(encoding="utf-8")
    longer = html.replace("</p></div>", " " + "وتابع التقرير تفاصيل ما جرى في المدينة خلال الأيام الماضية. " * 4 + "</p></div>")
    result = extract_document(BASE + page["path"], "text/html; charset=utf-8", longer.encode(), rules_of(page))
    assert isinstance(result, NoDocument) and result.reason == "not_article", result
    assert "excerpts" in result.detail
