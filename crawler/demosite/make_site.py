"""Regenerates site/ (pages, sitemaps, feeds, routes) and articles.toml from content.py.

    python -m crawler.demosite.make_site

The output is committed; this script is how it was made. Article pages are
wrapped in the markup of two real CMS themes (Drupal for /syria/, WordPress
for /wp/), with their boilerplate where those themes put it: inside the
article wrapper or right next to it. The expected text of each page is
written next to it as <page>.expected.txt.
"""

from __future__ import annotations

import gzip
import html
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crawler.demosite.content import articles, expected_text

HERE = Path(__file__).resolve().parent
SITE = HERE / "site"

SYRIA_NAME = "تلفزيون سوريا"
WP_NAME = "الاتحاد برس"
E = html.escape


def url_path(a: dict[str, Any]) -> str:
    """The path as the crawler requests it: percent-encoded UTF-8, uppercase hex."""
    if a["section"] == "syria":
        return "/syria/" + quote(a["slug"])
    return f"/wp/{a['date_path']}/{quote(a['slug'])}/"


def raw_path(a: dict[str, Any]) -> str:
    """The same path with Arabic letters as they are, as many CMS write hrefs."""
    if a["section"] == "syria":
        return "/syria/" + a["slug"]
    return f"/wp/{a['date_path']}/{a['slug']}/"


def page_file(a: dict[str, Any]) -> str:
    if a["section"] == "syria":
        return f"syria/{a['slug']}.html"
    return f"wp/{a['date_path']}/{a['slug']}/index.html"


def body_html(a: dict[str, Any]) -> str:
    out = []
    for kind, value in a["body"]:
        if kind == "p":
            out.append(f"<p>{E(value)}</p>")
        elif kind in ("h2", "h3"):
            out.append(f"<{kind}>{E(value)}</{kind}>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{E(i)}</li>" for i in value) + "</ul>")
        elif kind == "quote":
            out.append(f"<blockquote><p>{E(value)}</p></blockquote>")
        elif kind == "table":
            rows = "".join("<tr>" + "".join(f"<td>{E(c)}</td>" for c in row) + "</tr>" for row in value)
            out.append(f"<table class=\"prices\"><tbody>{rows}</tbody></table>")
        elif kind == "read_also":
            out.append(f'<p><strong>اقرأ أيضاً: </strong><a href="/wp/2022/01/24/coalition-isis-attacks-weaker/">{E(value)}</a></p>')
        elif kind == "dateline":
            out.append(f"<p><strong>{E(value)}</strong></p>")
    return "\n".join(out)


def jsonld(a: dict[str, Any], site_name: str) -> str:
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "Organization", "name": site_name},
            {
                "@type": "NewsArticle",
                "headline": a["title"],
                "datePublished": a["meta_date"],
                "author": {"@type": "Person", "name": a.get("jsonld_author") or a.get("author")},
                "inLanguage": "ar",
            },
        ],
    }
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def head(a: dict[str, Any], title: str, site_name: str, charset: str = "utf-8") -> str:
    meta = []
    if charset == "utf-8":
        meta.append('<meta charset="utf-8">')
    else:
        meta.append(f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">')
    meta += [
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{E(title)} | {site_name}</title>" if a["section"] == "syria" else f"<title>{E(title)} - {site_name}</title>",
        f'<meta property="og:site_name" content="{site_name}">',
        f'<meta property="og:title" content="{E(title)}">',
        '<meta property="og:type" content="article">',
        f'<link rel="canonical" href="{{{{ORIGIN}}}}{url_path(a)}">',
        '<link rel="stylesheet" href="/assets/theme.css">',
    ]
    if a.get("meta_date"):
        meta.append(f'<meta property="article:published_time" content="{a["meta_date"]}">')
    if a.get("author") and a["section"] == "wp":
        meta.append(f'<meta name="author" content="{E(a["author"])}">')
    if a.get("jsonld"):
        meta.append(jsonld(a, site_name))
    return "<head>\n" + "\n".join(meta) + "\n</head>"


SYRIA_HEADER = """<header class="site-header">
<div class="logo"><a href="/syria/">تلفزيون سوريا</a></div>
<nav class="main-menu"><ul>
<li><a href="/syria/">الرئيسية</a></li><li><a href="/syria/news">أخبار</a></li>
<li><a href="/syria/news?page=1">تقارير</a></li><li><a href="/syria/programs">برامج</a></li>
</ul></nav>
</header>
<div class="live-coverage-banner"><a href="/syria/live"><span class="icon">icon</span> <span>التغطية الحية</span></a></div>"""

SYRIA_FOOTER = """<aside class="region-sidebar">
<div class="block-latest"><h2>الأكثر قراءة</h2><ul>
<li><a href="/syria/news">ارتفاع أسعار المحروقات في مناطق الشمال السوري</a></li>
<li><a href="/syria/news">اجتماع أممي لبحث ملف المعتقلين</a></li>
</ul></div>
</aside>
<footer class="site-footer"><p>جميع الحقوق محفوظة © تلفزيون سوريا 2022</p>
<ul class="footer-links"><li><a href="/syria/about">من نحن</a></li><li><a href="/syria/contact">اتصل بنا</a></li></ul></footer>"""


def syria_article(a: dict[str, Any]) -> str:
    parts = [f'<h1 class="page-title"><span>{E(a["title"])}</span></h1>']
    meta = []
    if a.get("date_line"):
        meta.append(f'<div class="field field--name-created">{E(a["date_line"])}</div>')
    if a.get("time_element"):
        meta.append(f'<div class="submitted"><time datetime="{a["time_element"]}">20 شباط</time></div>')
    parts.append('<div class="article-meta">' + "".join(meta) + "</div>")
    if a.get("image"):
        parts.append(
            f'<div class="field field--name-field-image"><a href="/files/{a["image"]}">{a["image"]}</a>'
            f'<img src="/files/{a["image"]}" alt="">'
            f'<div class="field--name-field-image-caption">{E(a["caption"])}</div></div>'
        )
    if a.get("source"):
        parts.append(f'<div class="field field--name-field-source">{E(a["source"])}</div>')
    if a.get("author"):
        parts.append(f'<div class="field field--name-field-author"><a rel="author" href="/syria/author/1">{E(a["author"])}</a></div>')
    parts.append('<div class="font-size-controls"><button class="increase">+A</button><span>حجم الخط</span><button class="decrease">-A</button></div>')
    parts.append(f'<div class="field field--name-body clearfix text-formatted">\n{body_html(a)}\n</div>')
    parts.append(
        '<div class="share-links"><span>شارك المقال على:</span> <a href="#">فيسبوك</a> <a href="#">تويتر</a> <a href="#">واتساب</a></div>'
    )
    parts.append('<div class="field field--name-field-tags"><a href="/syria/tags/1">داعش</a> <a href="/syria/tags/2">التحالف الدولي</a></div>')
    return (
        f'<!DOCTYPE html>\n<html lang="ar" dir="rtl">\n{head(a, a["title"], SYRIA_NAME)}\n<body class="path-node page-node-type-article">\n'
        f"{SYRIA_HEADER}\n<main role=\"main\"><article class=\"node node--type-article node--view-mode-full\">\n"
        + "\n".join(parts)
        + f"\n</article></main>\n{SYRIA_FOOTER}\n</body>\n</html>\n"
    )


def syria_video_page() -> str:
    a = {"section": "syria", "slug": "فيديو-جولة-في-أسواق-دمشق-القديمة", "title": "فيديو: جولة في أسواق دمشق القديمة"}
    return (
        f'<!DOCTYPE html>\n<html lang="ar" dir="rtl">\n{head(a, a["title"], SYRIA_NAME)}\n<body>\n{SYRIA_HEADER}\n'
        f'<main><article class="node node--type-video"><h1 class="page-title">{E(a["title"])}</h1>'
        '<div class="field--name-field-video"><video controls src="/files/souq.mp4"></video></div>'
        '<div class="share-links"><span>شارك المقال على:</span> <a href="#">فيسبوك</a></div>'
        f"</article></main>\n{SYRIA_FOOTER}\n</body>\n</html>\n"
    )


WP_SIDEBAR = """<aside id="secondary" class="widget-area">
<section class="widget widget_categories"><h2 class="widget-title">تقارير وتحقيقات</h2><ul>
<li><a href="/wp/category/reports/">تقارير</a></li></ul></section>
<section class="widget widget_recent_entries"><h2 class="widget-title">آخر الأخبار</h2><ul>
<li><a href="/wp/2022/01/27/%D9%85%D9%87%D8%B1%D8%AC%D8%A7%D9%86-%D8%AB%D9%82%D8%A7%D9%81%D9%8A-%D9%81%D9%8A-%D8%B9%D8%A7%D9%85%D9%88%D8%AF%D8%A7/">مهرجان ثقافي في عامودا يحتفي بالتراث المحلي</a></li>
<li><a href="/wp/2022/01/26/raqqa-bread-prices/">ارتفاع سعر ربطة الخبز في الرقة</a></li>
<li><a href="/wp/2022/01/25/women-initiative-qamishli/">مبادرة نسائية لدعم التعليم في القامشلي</a></li>
<li><a href="/wp/2022/01/24/hasakah-families-displaced/">نزوح مئات العائلات من أحياء الحسكة الجنوبية</a></li>
<li><a href="/wp/2022/01/24/coalition-isis-attacks-weaker/">التحالف الدولي: هجمات داعش الأخيرة جعلتها أضعف</a></li>
</ul></section>
<section class="widget widget_text"><h2 class="widget-title">مساحة نسوية</h2><div class="textwidget"><p>مساحة للكتابة النسوية في الجزيرة السورية.</p></div></section>
<section class="widget widget_archive"><h2 class="widget-title">أرشيف الاتحاد</h2><ul><li><a href="/wp/2022/01/">يناير 2022</a></li></ul></section>
</aside>"""

WP_HEADER = """<header id="masthead" class="site-header">
<p class="site-title"><a href="/wp/" rel="home">الاتحاد برس</a></p>
<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">
<li class="menu-item"><a href="/wp/">الرئيسية</a></li>
<li class="menu-item"><a href="/wp/category/reports/">تقارير وتحقيقات</a></li>
<li class="menu-item"><a href="/wp/category/women/">مساحة نسوية</a></li>
</ul></nav></header>"""

WP_FOOTER = """<footer id="colophon" class="site-footer"><div class="site-info">© 2022 الاتحاد برس</div></footer>"""


def wp_related() -> str:
    return """<div class="post-share"><span class="share-title">شارك المقال على:</span>
<a class="facebook" href="#">فيسبوك</a><a class="twitter" href="#">تويتر</a></div>
<div class="related-posts"><h3 class="related-title">مقالات ذات صلة:</h3><ul>
<li><a href="/wp/2022/01/23/%D9%82%D8%B3%D8%AF-%D8%AA%D8%B9%D9%84%D9%86-%D8%A7%D9%84%D8%B3%D9%8A%D8%B7%D8%B1%D8%A9-%D8%B9%D9%84%D9%89-%D9%85%D8%AD%D9%8A%D8%B7-%D8%B3%D8%AC%D9%86-%D8%BA%D9%88%D9%8A%D8%B1%D8%A7%D9%86/">قسد تعلن السيطرة على محيط سجن غويران</a></li>
<li><a href="/wp/2022/01/24/hasakah-families-displaced/">نزوح مئات العائلات من أحياء الحسكة الجنوبية</a></li>
<li><a href="/wp/2022/01/26/report.pdf">تقرير مفصل عن أحداث سجن الصناعة (PDF)</a></li>
</ul></div>"""


def wp_article(a: dict[str, Any]) -> str:
    charset = a.get("charset", "utf-8")
    meta = []
    if a.get("date_line"):
        meta.append(f'<span class="posted-on">{E(a["date_line"])}</span>')
    if a.get("author"):
        meta.append(f'<span class="byline">بقلم: <a class="url fn n" href="/wp/author/x/">{E(a["author"])}</a></span>')
    figure = ""
    if a.get("figure"):
        src, caption = a["figure"]
        figure = (
            f'<figure class="wp-block-image size-large"><img src="/wp/wp-content/uploads/{src}" alt="">'
            f"<figcaption>{E(caption)}</figcaption></figure>\n"
        )
    if a.get("classic_caption"):
        src, caption = a["classic_caption"]
        figure += (
            f'<div id="attachment_77" class="wp-caption aligncenter"><img src="/wp/wp-content/uploads/{src}" alt="">'
            f'<p class="wp-caption-text">{E(caption)}</p></div>\n'
        )
    appended = wp_related() if a.get("related") else ""
    if a.get("inline_related"):
        appended += (
            '<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>ذات صلة</em></h3>'
            '<div class="jp-relatedposts-items"><p class="jp-relatedposts-post-title"><a href="/wp/2022/01/24/hasakah-families-displaced/">'
            "نزوح مئات العائلات من أحياء الحسكة الجنوبية</a></p>"
            '<p class="jp-relatedposts-post-title"><a href="/wp/2022/01/26/raqqa-bread-prices/">ارتفاع سعر ربطة الخبز في الرقة</a></p></div></div>'
        )
    tag_classes = "category-reports tag-daesh tag-social"
    return (
        f'<!DOCTYPE html>\n<html lang="ar" dir="rtl">\n{head(a, a["title"], WP_NAME, charset)}\n'
        f'<body class="post-template-default single single-post">\n<div id="page" class="site">\n{WP_HEADER}\n'
        f'<div id="content" class="site-content"><main id="main" class="site-main">\n'
        f'<article id="post-101" class="post-101 post type-post status-publish format-standard hentry {tag_classes}">\n'
        f'<header class="entry-header"><h1 class="entry-title">{E(a["title"])}</h1>\n'
        f'<div class="entry-meta">{"".join(meta)}</div></header>\n'
        f'<div class="entry-content">\n{figure}{body_html(a)}\n{appended}</div>\n'
        f'<footer class="entry-footer">'
        f'<span class="tags-links">الوسوم: <a href="/wp/tag/hasakah/" rel="tag">الحسكة</a></span></footer>\n'
        f"</article>\n"
        '<div id="comments" class="comments-area"><h2 class="comments-title">التعليقات (3)</h2>'
        '<div id="respond" class="comment-respond"><h3 id="reply-title">أضف تعليقك</h3>'
        '<form action="/wp/wp-comments-post.php" method="post"><textarea name="comment"></textarea></form></div></div>\n'
        f"</main>\n{WP_SIDEBAR}\n</div>\n{WP_FOOTER}\n</div>\n</body>\n</html>\n"
    )


def listing(title: str, site: str, links: list[tuple[str, str]], extra_head: str = "", pager: str = "") -> str:
    items = "\n".join(f'<li class="views-row"><h3><a href="{E(href)}">{E(text)}</a></h3></li>' for href, text in links)
    header, footer = (SYRIA_HEADER, SYRIA_FOOTER) if site == "syria" else (WP_HEADER, WP_SIDEBAR + WP_FOOTER)
    return (
        f'<!DOCTYPE html>\n<html lang="ar" dir="rtl">\n<head><meta charset="utf-8"><title>{E(title)}</title>{extra_head}</head>\n'
        f"<body>\n{header}\n<main><h1>{E(title)}</h1><ul class=\"listing\">\n{items}\n</ul>\n{pager}</main>\n{footer}\n</body>\n</html>\n"
    )


def urlset(paths: list[str]) -> str:
    urls = "".join(f"<url><loc>{{{{ORIGIN}}}}{p}</loc><lastmod>2022-02-20</lastmod></url>\n" for p in paths)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'


def sitemapindex(paths: list[str]) -> str:
    maps = "".join(f"<sitemap><loc>{{{{ORIGIN}}}}{p}</loc></sitemap>\n" for p in paths)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{maps}</sitemapindex>\n'


def write(path: str, text: str | bytes, encoding: str = "utf-8") -> None:
    target = SITE / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))


def main() -> None:
    if SITE.exists():
        shutil.rmtree(SITE)
    arts = articles()
    by_id = {a["id"]: a for a in arts}
    routes: dict[str, dict[str, Any]] = {'/wp/': {"prefix": True, "gzip": True}}

    for a in arts:
        page = syria_article(a) if a["section"] == "syria" else wp_article(a)
        charset = a.get("charset", "utf-8")
        write(page_file(a), page, "cp1256" if charset == "windows-1256" else "utf-8")
        write(page_file(a).removesuffix(".html").removesuffix("/index") + ".expected.txt", expected_text(a))
        route = dict(a.get("route", {}))
        if charset == "windows-1256":
            route["content_type"] = "text/html"
        for other in a.get("also_at", []):
            routes[other] = {"file": page_file(a)}
        if route:
            routes[url_path(a)] = route
    video = "فيديو-جولة-في-أسواق-دمشق-القديمة"
    write(f"syria/{video}.html", syria_video_page())

    syria = [a for a in arts if a["section"] == "syria"]
    wp = [a for a in arts if a["section"] == "wp"]

    # --- /syria/ (Drupal): home, /news pager with ?page=N, node alias, sitemap, Atom feed
    write(
        "syria/index.html",
        listing(
            "تلفزيون سوريا",
            "syria",
            [(raw_path(by_id["s1"]), by_id["s1"]["title"]), (url_path(by_id["s2"]) + "?utm_source=facebook&utm_medium=social", by_id["s2"]["title"]),
             (raw_path(by_id["s3"]) + "#comments", by_id["s3"]["title"]), ("/syria/news", "المزيد من الأخبار"),
             ("/private/2022/02/internal-memo/", "مذكرة داخلية"), ("/syria/node/9001", "معاينة خبر قبل النشر")],
        ),
    )
    write(
        "syria/news.html",
        listing(
            "أخبار",
            "syria",
            [(url_path(a), a["title"]) for a in syria[:3]] + [("/syria/" + quote(video), "فيديو: جولة في أسواق دمشق القديمة")],
            pager='<ul class="pager"><li class="pager__item--next"><a href="/syria/news?page=1" rel="next">التالي ›</a></li></ul>',
        ),
    )
    routes["/syria/news?page=1"] = {"file": "syria/news-page-1.html"}
    write(
        "syria/news-page-1.html",
        listing(
            "أخبار - الصفحة 2",
            "syria",
            [(url_path(a), a["title"]) for a in syria[3:]] + [("/syria/node/1234", by_id["s2"]["title"])],
            pager='<ul class="pager"><li><a href="/syria/news?page=2" rel="next">التالي ›</a></li></ul>',
        ),
    )
    routes["/syria/news?page=2"] = {"file": "syria/news-page-2.html"}
    write(
        "syria/news-page-2.html",
        listing("أخبار - الصفحة 3", "syria", [(raw_path(by_id["s1"]) + "?fbclid=IwAR0xyz", by_id["s1"]["title"])]),
    )
    write("syria/sitemap.xml", urlset([url_path(a) for a in syria] + ["/syria/node/9001"]))
    entries = "".join(
        f'<entry><title>{E(a["title"])}</title><link rel="alternate" href="{{{{ORIGIN}}}}{url_path(a)}"/>'
        f"<id>{{{{ORIGIN}}}}{url_path(a)}</id><updated>2022-02-20T00:00:00Z</updated></entry>\n"
        for a in syria
    )
    write(
        "syria/atom.xml",
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>تلفزيون سوريا</title>'
        '<link rel="self" href="{{ORIGIN}}/syria/atom.xml"/><id>{{ORIGIN}}/syria/</id><updated>2022-02-20T00:00:00Z</updated>\n'
        f"{entries}</feed>\n",
    )

    # --- /wp/ (WordPress): home, /page/N/, a category, monthly archive, sitemap index with a gz child, RSS
    home_links = [(url_path(a), a["title"]) for a in wp[:3]] + [
        (url_path(by_id["w1"]) + "?utm_source=twitter", by_id["w1"]["title"]),
        (url_path(by_id["w3"]) + "#respond", by_id["w3"]["title"]),
        ("/wp/?p=101", "رابط قصير"),
        ("/wp/2022/01/20/deleted-story/", "خبر محذوف"),
        ("{{OTHER_ORIGIN}}/wp/2022/01/27/offsite-story/", "خبر من موقع آخر"),
        ("/wp/wp-admin/post.php?post=101", "تحرير"),
        ("/private/2022/01/secret/", "سري"),
        ("/wp/2022/01/28/embargoed-story/", "خبر محظور النشر حتى موعده"),
    ]
    next_page = '<nav class="navigation pagination"><a class="next page-numbers" href="/wp/page/2/">التالي</a></nav>'
    write("wp/index.html", listing("الاتحاد برس", "wp", home_links, '<link rel="next" href="/wp/page/2/">', next_page))
    write(
        "wp/page/2/index.html",
        listing(
            "الاتحاد برس - الصفحة 2",
            "wp",
            [(url_path(a), a["title"]) for a in wp[3:5]] + [("/wp/category/reports/", "تقارير وتحقيقات")],
            '<link rel="next" href="/wp/page/3/">',
            '<nav class="navigation pagination"><a class="next page-numbers" href="/wp/page/3/">التالي</a></nav>',
        ),
    )
    routes["/wp/page/2/"] = {"chunked": True}
    write("wp/page/3/index.html", listing("الاتحاد برس - الصفحة 3", "wp", [(raw_path(a), a["title"]) for a in wp[5:]]))
    write("wp/category/reports/index.html", listing("تقارير وتحقيقات", "wp", [(url_path(by_id["w1"]), by_id["w1"]["title"]), (url_path(by_id["w4"]) + "?fbclid=abc", by_id["w4"]["title"])]))
    write("wp/2022/01/index.html", listing("أرشيف يناير 2022", "wp", [(url_path(a), a["title"]) for a in wp]))
    routes["/wp/?p=101"] = {"status": 301, "location": "{{ORIGIN}}" + url_path(by_id["w2"])}
    routes["/wp/2022/01/20/deleted-story/"] = {"status": 404, "reason": "Story Removed"}
    write("wp/2022/01/26/report.pdf", _tiny_pdf())
    routes["/wp/2022/01/26/report.pdf"] = {"gzip": False}
    write("wp/wp-sitemap.xml", sitemapindex(["/wp/wp-sitemap-posts-post-1.xml", "/wp/wp-sitemap-posts-post-2.xml.gz"]))
    write("wp/wp-sitemap-posts-post-1.xml", urlset([url_path(a) for a in wp[:3]] + ["/wp/2022/01/28/embargoed-story/"]))
    write("wp/wp-sitemap-posts-post-2.xml.gz", gzip.compress(urlset([url_path(a) for a in wp[3:]]).encode(), mtime=0))
    routes["/wp/wp-sitemap-posts-post-2.xml.gz"] = {"gzip": False}
    items = "".join(
        f"<item><title>{E(a['title'])}</title><link>{{{{ORIGIN}}}}{url_path(a)}</link>"
        f"<guid isPermaLink=\"false\">{{{{ORIGIN}}}}/wp/?p={i}</guid></item>\n"
        for i, a in enumerate(wp, 100)
    )
    write(
        "wp/feed.rss",
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>{WP_NAME}</title>'
        f"<link>{{{{ORIGIN}}}}/wp/</link><description>أخبار</description>\n{items}</channel></rss>\n",
    )
    routes["/wp/feed/"] = {"file": "wp/feed.rss"}
    write("private/2022/01/secret/index.html", listing("سري", "wp", []))
    write("private/2022/02/internal-memo/index.html", listing("سري", "syria", []))

    # --- shared: robots.txt, portal, root sitemap index, a truncated response
    write(
        "robots.txt",
        "User-agent: *\nDisallow: /private/\nDisallow: /wp/wp-admin/\n"
        "# unpublished: previews and embargoed stories\nDisallow: /syria/node/9\nDisallow: /wp/2022/01/28/\n\n"
        "Sitemap: {{ORIGIN}}/sitemap.xml\n",
    )
    write("syria/node/9001.html", syria_video_page())
    write("wp/2022/01/28/embargoed-story/index.html", listing("محظور", "wp", []))
    write("index.html", listing("بوابة الأخبار", "syria", [("/syria/", SYRIA_NAME), ("/wp/", WP_NAME)]))
    write("sitemap.xml", sitemapindex(["/syria/sitemap.xml", "/wp/wp-sitemap.xml"]))
    routes["/broken/"] = {"file": "wp/2022/01/index.html", "truncate": True}

    lines = ["# Generated by make_site.py: how the demo server answers paths that are not plain files.", ""]
    for path, conf in routes.items():
        lines.append(f"[{json.dumps(path, ensure_ascii=False)}]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in conf.items()]
        lines.append("")
    write("routes.toml", "\n".join(lines))
    _write_index(arts)


def _write_index(arts: list[dict[str, Any]]) -> None:
    sections = {
        "syria": {
            "start_urls": ["/syria/"],
            "sitemap_urls": ["/syria/sitemap.xml"],
            "feed_urls": ["/syria/atom.xml"],
            "article_pattern": r"/syria/([^/?#]*%D[89]%[0-9A-F]{2}[^/?#]*|node/\d+)$",
            "follow_pattern": r"/syria/news",
            "boilerplate": ["التغطية الحية", "حجم الخط", "إسطنبول - متابعات"],
        },
        "wp": {
            "start_urls": ["/wp/"],
            "sitemap_urls": ["/wp/wp-sitemap.xml"],
            "feed_urls": ["/wp/feed/"],
            "article_pattern": r"/wp/(\d{4}/\d{2}/|\?p=\d+$)",
            "follow_pattern": r"/wp/(page/\d+|category/[^/]+)/",
            "boilerplate": ["مقالات ذات صلة", "أرشيف الاتحاد", "مساحة نسوية", "تقارير وتحقيقات"],
        },
    }
    phrases = [
        "شارك المقال على", "مقالات ذات صلة", "آخر الأخبار", "حجم الخط", "التغطية الحية", "إسطنبول - متابعات",
        "أرشيف الاتحاد", "مساحة نسوية", "تقارير وتحقيقات", "أضف تعليقك", "اقرأ أيضاً", "التعليقات (3)", "الأكثر قراءة",
        "على رأس الأولويات - AFP", "jnwd-amyrkywn", "عائلات نازحة في أحد مراكز الإيواء", "دمشق - وكالات", "حلب - خاص",
        "جميع الحقوق محفوظة", "الوسوم", "فيسبوك", "+A", "-A", "icon", "2022.02.10 | 10:00", "بقلم",
        "ريف إدلب - متابعات", "ذات صلة", "جانب من معرض الصور في المهرجان", "نزوح مئات العائلات من أحياء الحسكة الجنوبية",
    ]
    out = ["# Generated by make_site.py: the demo site's articles, what the tests are parametrized over.", ""]
    out.append("[boilerplate]")
    out.append(f"phrases = {json.dumps(phrases, ensure_ascii=False)}")
    out.append("")
    for name, conf in sections.items():
        out.append(f"[section.{name}]")
        out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in conf.items()]
        out.append("")
    for a in arts:
        out.append("[[article]]")
        entry = {
            "id": a["id"],
            "section": a["section"],
            "path": url_path(a),
            "file": page_file(a),
            "expected": page_file(a).removesuffix(".html").removesuffix("/index") + ".expected.txt",
            "title": a["title"],
            "published": a["published"],
            "charset": a.get("charset", "utf-8"),
            "also_at": a.get("also_at", []),
        }
        if a.get("author"):
            entry["author"] = a["author"]
        out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in entry.items()]
        out.append("")
    (HERE / "articles.toml").write_text("\n".join(out), encoding="utf-8")


def _tiny_pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


if __name__ == "__main__":
    main()
