"""The last mile of extraction, over HTTP: captions as data, pages that are no articles, bodies cut short,
UTF-8 under a legacy charset label.

A fixture site served by the demo server, crawled twice, then rebuilt from
its WARC files: what the crawl made of each page, the rebuild makes too.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo
from typing import Any

import pytest

from crawler.store.manifest import read_manifest
from tests.conftest import FixtureServer, _toml, crawl, run_scrapy, stat
from tests.test_capture import read_captures, responses

PARAGRAPHS = [
    "قالت مصادر محلية إن الأهالي في المدينة ينتظرون منذ أسابيع عودة الخدمات الأساسية إلى أحيائهم، وسط وعود متكررة من الجهات المسؤولة.",
    "وأضافت المصادر أن اللجنة المختصة ستعقد اجتماعها المقبل خلال أيام لمتابعة ملف الكهرباء والمياه في الأحياء الشرقية.",
] * 6


CAPTIONED = (
    '<figure><img src="/img/lead.jpg" alt=""><figcaption>مبنى المحافظة في المدينة (صورة أرشيفية)</figcaption></figure>'
    f"<p>{PARAGRAPHS[0]}</p>"
    '<figure class="wp-block-image"><img data-src="/img/b.jpg" src="data:image/gif;base64,R0lGOD">'
    "<figcaption>عائلات نازحة في أحد مراكز الإيواء - رويترز</figcaption></figure>"
    f"<p>{PARAGRAPHS[1]}</p>"
    '<p><img src="/img/c.jpg" width="640" height="360"></p><p>جانب من المعرض تصوير: أحمد علي</p>'
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS[2:6])
    + '<div class="image-box"><img src="/img/d.jpg"><span class="caption">الوزير خلال المؤتمر</span>'
    '<span class="photo-credit">وكالة الأنباء</span></div>'
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS[6:])
    + '<ul class="related"><li><a href="/news/whole.html"><img src="/img/thumb.jpg">خبر كامل</a></li></ul>'
)


def page(title: str, charset: str = "utf-8", body: str | None = None, dated: str = '<time datetime="2022-05-01">1 مايو 2022</time>',
         head: str = "") -> str:
    body = body if body is not None else "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f'<!DOCTYPE html><html lang="ar"><head><meta charset="{charset}"><title>{title}</title>{head}</head>'
        f"<body><article><h1>{title}</h1>{dated}{body}</article></body></html>"
    )


# A body split in two: its lead in the article's header, the rest below; the page's JSON-LD gives the whole of it.
SPLIT_PARAGRAPHS = [
    *PARAGRAPHS[:2],
    "وأشار مسؤول في البلدية إلى أن أعمال الصيانة ستبدأ الأسبوع المقبل في ثلاثة أحياء، على أن تشمل بقية المدينة لاحقا.",
    "ويشكو السكان من انقطاع الكهرباء لساعات طويلة يوميا، ما يعطل أعمالهم ويزيد من أعباء المعيشة في فصل الشتاء.",
    "وفي سياق متصل، أعلنت مديرية المياه عن خطة لإصلاح الشبكة المتضررة بتمويل من منظمات دولية خلال العام المقبل.",
    "واختتم المسؤول حديثه بالتأكيد على أن الأولوية ستكون للأحياء الأكثر تضررا، داعيا السكان إلى الصبر والتعاون.",
]
SPLIT = (
    '<header class="entry-header"><h1>الأهالي ينتظرون عودة الخدمات</h1><div class="lead-text">'
    + "".join(f"<p>{p}</p>" for p in SPLIT_PARAGRAPHS[:2])
    + '</div></header><div class="share-bar"><a href="#">فيسبوك</a></div><div class="article-body">'
    + "".join(f"<p>{p}</p>" for p in SPLIT_PARAGRAPHS[2:4])
    + '<div class="read-also"><h4>اقرأ أيضا</h4><a href="/news/whole.html">خبر كامل عن الخدمات في المدينة</a></div>'
    + "".join(f"<p>{p}</p>" for p in SPLIT_PARAGRAPHS[4:])
    + "</div>"
)
SPLIT_ACCOUNT = json.dumps({"@type": "NewsArticle", "articleBody": " ".join(SPLIT_PARAGRAPHS)}, ensure_ascii=False)


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
    pages["captioned"] = page("خبر مصور", body=CAPTIONED)
    # Said missing by its own words, and the error page a missing article is sent to, both answered 200.
    pages["missing"] = page("عذراً", body="<p>عذرا، الصفحة التي تبحث عنها غير موجودة أو ربما تم نقلها.</p>")
    (root / "Error.html").write_text(page("حدث خطأ", body="<p>نعتذر، حدث خطأ أثناء عرض الصفحة. حاول مرة أخرى لاحقا.</p>"), encoding="utf-8")
    pages["gallery"] = page("بالصور: مهرجان الربيع", body="".join(
        f'<figure><img src="/img/g{i}.jpg"><figcaption>لقطة من فعاليات المهرجان الشعبي في ساحة المدينة رقم {i} - تصوير: سامر</figcaption></figure>'
        for i in range(4)))
    pages["archive"] = page("أرشيف مايو 2022", body="".join(
        f'<div class="post"><h2><a href="/news/{name}.html">{title} في أرشيف الشهر</a></h2><div class="excerpt"><p>{PARAGRAPHS[i]}</p></div></div>'
        for i, (name, title) in enumerate((("whole", "خبر كامل"), ("captioned", "خبر مصور")))))
    pages["short"] = page("خبر وصل نصفه")
    pages["hours-ago"] = page("خبر قبل ساعات", dated='<span class="post-date">منذ ٣ ساعات</span>')
    pages["days-ago"] = page("خبر قبل يومين", dated='<div class="meta">نشر قبل يومين</div>')
    pages["summer"] = page("خبر صيفي", dated="", head='<meta property="article:published_time" content="2022-07-01T10:00:00">')
    pages["winter"] = page("خبر شتوي", dated="", head='<meta property="article:published_time" content="2022-01-15T10:00:00">')
    pages["offset"] = page("خبر بتوقيته", dated="", head='<meta property="article:published_time" content="2022-01-15T10:00:00+01:00">')
    split = page("خبر مقسوم", body="", dated="").replace("<article><h1>خبر مقسوم</h1>", "<article>" + SPLIT)
    pages["split"] = split.replace("</head>", f'<script type="application/ld+json">{SPLIT_ACCOUNT}</script></head>')
    for name, html in pages.items():
        (news / f"{name}.html").write_text(html, encoding="utf-8")
    links = [*pages, "old"]
    (root / "index.html").write_text("".join(f'<a href="/news/{n}.html">{n}</a> ' for n in links), encoding="utf-8")
    routes = '["/news/cut.html"]\ngzip = true\ngzip_cut = true\n\n["/news/whole.html"]\ngzip = true\n\n'
    routes += '["/news/short.html"]\ntruncate = true\n\n'
    routes += '["/news/old.html"]\nstatus = 302\nlocation = "/Error.aspx?aspxerrorpath=/news/old.html"\n\n'
    routes += '["/Error.aspx?aspxerrorpath=/news/old.html"]\nfile = "/Error.html"\n\n'
    # No charset in the header: the page's own <meta> label is all there is.
    routes += "".join(f'["/news/{n}.html"]\ncontent_type = "text/html"\n\n' for n in ("cp1256-label", "gb2312-label"))
    (root / "routes.toml").write_text(routes, encoding="utf-8")
    server = FixtureServer(root, tmp_path / "requests.jsonl")
    conf = {"name": "mile", "allowed_domains": ["127.0.0.1"], "start_urls": [server.url + "/"],
            "article_pattern": r"/news/[a-z0-9-]+\.html", "language": "ar", "timezone": "Asia/Damascus"}
    site_file = tmp_path / "mile.toml"
    site_file.write_text(_toml(conf), encoding="utf-8")
    yield {"server": server, "site": site_file, "folder": tmp_path}
    server.stop()


def test_a_body_cut_short_is_captured_no_document_and_fetched_again(site: Any) -> None:
    """Cut before it was sent (a gzip stream that ends early) or in transfer (fewer bytes than Content-Length)."""
    server, archive = site["server"], site["folder"] / "archive"
    first = crawl(site["site"], archive)
    stored = {e["url"].rsplit("/", 1)[1] for e in read_manifest(archive / "manifest.jsonl")}
    assert not {"cut.html", "short.html"} & stored and "whole.html" in stored
    assert stat(first, "text/no_document/truncated") == 2
    # Each attempt at the short body (the first and RETRY_TIMES more) is captured as it came, marked as cut.
    attempts = [r["path"] for r in server.requests()].count("/news/short.html")
    assert attempts == 3 and stat(first, "warc/captures_truncated") == attempts
    assert stat(first, "news/fetch_failed/data_loss") == 1
    assert f"No document from {server.url}/news/cut.html: the body was cut short in transfer" in first.stderr
    report = json.loads(sorted((archive / "runs" / "mile").glob("*.json"))[-1].read_text(encoding="utf-8"))
    assert report["failures"]["no_document"]["truncated"] == 2
    captured = {r["headers"].get_header("WARC-Target-URI"): r["headers"].get_header("WARC-Truncated") for r in responses(read_captures(archive))}
    assert captured[f"{server.url}/news/short.html"] == "disconnect" and captured[f"{server.url}/news/whole.html"] is None

    server.clear_log()
    crawl(site["site"], archive)  # RECRAWL_AFTER (6 h) keeps stored articles from being asked again
    again = [r["path"] for r in server.requests() if r["path"].startswith("/news/")]
    assert {"/news/cut.html", "/news/short.html"} <= set(again) and "/news/whole.html" not in again

    rebuilt = site["folder"] / "rebuilt"
    result = run_scrapy("rebuild", str(archive / "warc"), "--site", str(site["site"]), settings={"ARCHIVE_DIR": str(rebuilt)})
    assert result.returncode == 0, result.stderr[-3000:]
    # The same bytes twice are one capture; the short body came cut differently on each run.
    assert "skipped (no_document/truncated): " in result.stdout
    assert sorted(read_manifest(rebuilt / "manifest.jsonl"), key=json.dumps) == sorted(read_manifest(archive / "manifest.jsonl"), key=json.dumps)


def test_captions_and_credits_leave_the_body_for_the_manifest_key_images(site: Any) -> None:
    archive, url = site["folder"] / "archive", site["server"].url
    crawl(site["site"], archive)
    entries = {e["url"].rsplit("/", 1)[1]: e for e in read_manifest(archive / "manifest.jsonl")}
    entry = entries["captioned.html"]
    assert (archive / entry["path"]).read_text(encoding="utf-8") == "\n\n".join(PARAGRAPHS) + "\n"
    assert entry["images"] == [
        {"src": f"{url}/img/lead.jpg", "caption": "مبنى المحافظة في المدينة (صورة أرشيفية)", "credit": None},
        {"src": f"{url}/img/b.jpg", "caption": "عائلات نازحة في أحد مراكز الإيواء", "credit": "رويترز"},
        {"src": f"{url}/img/c.jpg", "caption": "جانب من المعرض", "credit": "أحمد علي"},
        {"src": f"{url}/img/d.jpg", "caption": "الوزير خلال المؤتمر", "credit": "وكالة الأنباء"},
    ]  # the related story's thumbnail is not the article's
    assert entries["whole.html"]["images"] == []


def test_error_pages_galleries_and_listings_give_no_document_each_with_its_reason(site: Any) -> None:
    archive = site["folder"] / "archive"
    result = crawl(site["site"], archive)
    stored = {e["url"].rsplit("/", 1)[1] for e in read_manifest(archive / "manifest.jsonl")}
    assert not {"missing.html", "gallery.html", "archive.html"} & stored
    assert not any("Error.aspx" in name for name in stored)  # the redirect's target
    assert {"whole.html", "captioned.html"} <= stored
    assert stat(result, "text/no_document/error_page") == 2
    assert stat(result, "text/no_document/gallery") == 1
    assert stat(result, "text/no_document/not_article") == 1


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


def test_dates_before_the_fetch_and_local_times_take_the_site_timezone(site: Any) -> None:
    archive = site["folder"] / "archive"
    crawl(site["site"], archive)
    entries = {e["url"].rsplit("/", 1)[1]: e for e in read_manifest(archive / "manifest.jsonl")}
    damascus = ZoneInfo("Asia/Damascus")

    def fetched(name: str) -> datetime:
        return datetime.fromisoformat(entries[name]["fetched_at"]).astimezone(damascus)

    hours = (fetched("hours-ago.html") - timedelta(hours=3)).replace(second=0, microsecond=0)
    assert entries["hours-ago.html"]["published"] == hours.isoformat()  # against the capture's WARC-Date
    assert entries["days-ago.html"]["published"] == (fetched("days-ago.html") - timedelta(days=2)).date().isoformat()
    texts = {name: (archive / e["path"]).read_text(encoding="utf-8") for name, e in entries.items()}
    assert texts["hours-ago.html"] == texts["days-ago.html"] == texts["whole.html"]  # the date lines are not text
    # Local times without an offset take the zone's offset of their day (summer time included); a given one stays.
    assert entries["summer.html"]["published"] == "2022-07-01T10:00:00+03:00"
    assert entries["winter.html"]["published"] == "2022-01-15T10:00:00+02:00"
    assert entries["offset.html"]["published"] == "2022-01-15T10:00:00+01:00"
    assert entries["whole.html"]["published"] == "2022-05-01"  # a date alone has no time to place


def test_a_split_body_is_kept_whole_where_the_page_gives_its_account_of_it(site: Any) -> None:
    archive = site["folder"] / "archive"
    crawl(site["site"], archive)
    entry = next(e for e in read_manifest(archive / "manifest.jsonl") if e["url"].endswith("/split.html"))
    # The lead in the article's header, which a reading of the page alone misses, is there; the boxes are not.
    assert (archive / entry["path"]).read_text(encoding="utf-8") == "\n\n".join(SPLIT_PARAGRAPHS) + "\n"
