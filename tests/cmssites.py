"""Four small news sites in the shapes of the systems Arabic outlets run on, for crawls from their home URL alone.

Each is written into a folder that the demo server serves as a whole host
(robots.txt, sitemaps and feeds at its root) and has ARTICLES articles,
reachable from its home page, its pagination and (where the system has
them) its sitemaps and feed, among the pages a real site has beside them:
categories, tags, authors, an about and a contact page, share and print
links. ``hand_written`` is the site file a user would write for it, the
reference of the zero-configuration crawl's request count.

- ``wordpress``: permalinks /<year>/<month>/<day>/<slug>/, wp-sitemap.xml
  (posts, pages, categories, users) named in robots.txt, /feed/ announced.
- ``drupal``: /ar/news/<Arabic slug>, /sitemap.xml with taxonomy terms and
  basic pages, /rss.xml announced, JSON-LD NewsArticle, ?page=N pagination.
- ``aspnet``: NewsDetails.aspx?id=N and NewsList.aspx?cat=N&page=N, no
  sitemap, an RSS feed announced, dates only as a line of Arabic text.
- ``static``: /articles/N.html and /archive/page-N.html, neither sitemap
  nor feed nor robots.txt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crawler.demosite.make_site import sitemapindex, urlset

ARTICLES = 14
LATEST = 8  # on the home page and in the feed; the rest on page 2
FAMILIES = ("wordpress", "drupal", "aspnet", "static")
_MONTHS = ["يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر"]
_TOPICS = ["الكهرباء", "المياه", "المدارس", "الخبز", "الطرق", "المستشفى", "الأسواق"]
_SECTIONS = {"politics": "سياسة", "economy": "اقتصاد", "culture": "ثقافة"}
_TAGS = ["syria", "water", "schools", "prices"]


def _title(n: int) -> str:
    return f"تقرير رقم {n} عن أزمة {_TOPICS[n % len(_TOPICS)]} في المدينة"


def _paragraphs(n: int) -> list[str]:
    topic = _TOPICS[n % len(_TOPICS)]
    return [
        f"قال مسؤولون محليون إن أزمة {topic} في المدينة دخلت أسبوعها الثالث دون حل واضح، في التقرير رقم {n}.",
        f"وأضاف سكان تحدثوا للموقع أنهم ينتظرون منذ أيام طويلة عودة {topic} إلى أحيائهم بعد وعود متكررة.",
        "وأكدت اللجنة المختصة أنها ستعقد اجتماعاً طارئاً خلال الأيام المقبلة لبحث الحلول الممكنة مع الجهات المعنية.",
    ]


def _day(n: int) -> int:
    return n + 3


def article_paths(family: str) -> list[str]:
    return [_article_path(family, n) for n in range(1, ARTICLES + 1)]


def _article_path(family: str, n: int) -> str:
    if family == "wordpress":
        return f"/2022/01/{_day(n):02d}/report-{n}-city/"
    if family == "drupal":
        return "/ar/news/" + quote(f"تقرير-رقم-{n}-عن-المدينة")
    if family == "aspnet":
        return f"/NewsDetails.aspx?id={4400 + n}"
    return f"/articles/{100 + n}.html"


def write_site(root: Path, family: str) -> None:
    """The family's site under root, with its routes.toml."""
    site = _Site(root, family)
    getattr(site, family)()
    site.finish()


def hand_written(family: str, origin: str) -> dict[str, Any]:
    """The site file a user would write for the site, after reading its HTML."""
    conf: dict[str, Any] = {"name": family, "allowed_domains": ["127.0.0.1"]}
    if family == "wordpress":
        conf.update(start_urls=[origin + "/"], sitemap_urls=[origin + "/wp-sitemap.xml"], feed_urls=[origin + "/feed/"],
                    article_pattern=r"/\d{4}/\d{2}/\d{2}/[^/]+/$", follow_pattern="/page/")
    elif family == "drupal":
        conf.update(start_urls=[origin + "/ar"], sitemap_urls=[origin + "/sitemap.xml"], feed_urls=[origin + "/rss.xml"],
                    article_pattern="/ar/news/")
    elif family == "aspnet":
        conf.update(start_urls=[origin + "/"], feed_urls=[origin + "/rss.aspx"], article_pattern=r"NewsDetails\.aspx\?id=\d+",
                    follow_pattern=r"NewsList\.aspx")
    else:
        conf.update(start_urls=[origin + "/"], article_pattern=r"/articles/\d+\.html", follow_pattern="/archive/")
    return conf


class _Site:
    def __init__(self, root: Path, family: str) -> None:
        self.root = root
        self.family = family
        self.routes: dict[str, dict[str, str]] = {}

    # --- the four families -------------------------------------------------------------------

    def wordpress(self) -> None:
        self.file("robots.txt", "User-agent: *\nDisallow: /wp-admin/\nSitemap: {{ORIGIN}}/wp-sitemap.xml\n")
        subs = ["posts-post-1", "posts-page-1", "taxonomies-category-1", "users-1"]
        self.sitemap("/wp-sitemap.xml", sitemapindex([f"/wp-sitemap-{s}.xml" for s in subs]))
        self.sitemap("/wp-sitemap-posts-post-1.xml", urlset(article_paths("wordpress")))
        self.sitemap("/wp-sitemap-posts-page-1.xml", urlset(["/about/", "/contact/"]))
        self.sitemap("/wp-sitemap-taxonomies-category-1.xml", urlset([f"/category/{s}/" for s in _SECTIONS]))
        self.sitemap("/wp-sitemap-users-1.xml", urlset(["/author/layla/", "/author/omar/"]))
        self.feed("/feed/", "/feed/index.html")
        menu = [*(f"/category/{s}/" for s in _SECTIONS), "/about/", "/contact/"]
        self.listing("/", menu, range(1, LATEST + 1), next_page="/page/2/", feed="/feed/")
        self.listing("/page/2/", menu, range(LATEST + 1, ARTICLES + 1))
        for i, section in enumerate(_SECTIONS):
            self.listing(f"/category/{section}/", menu, range(1 + i, ARTICLES + 1, 3))
        for tag in _TAGS:
            self.listing(f"/tag/{tag}/", menu, range(1 + _TAGS.index(tag), ARTICLES + 1, 4))
        for author in ("layla", "omar"):
            self.listing(f"/author/{author}/", menu, range(1 if author == "layla" else 2, ARTICLES + 1, 2))
        self.static_page("/about/", menu, "من نحن")
        self.static_page("/contact/", menu, "اتصل بنا")
        for n in range(1, ARTICLES + 1):
            path = _article_path("wordpress", n)
            extra = (
                f'<a href="/tag/{_TAGS[n % 4]}/">#</a> <a href="/author/{"layla" if n % 2 else "omar"}/">الكاتب</a> '
                f'<a href="{path}?share=twitter">X</a> <a href="{path}?share=facebook">Facebook</a> <a href="{path}?replytocom=3#respond">رد</a>'
            )
            self.article(path, n, menu, meta=f'<meta property="og:type" content="article"><meta property="article:published_time" content="2022-01-{_day(n):02d}T08:00:00+03:00">', extra=extra)

    def drupal(self) -> None:
        self.file("robots.txt", "User-agent: *\nDisallow: /admin/\nDisallow: /user/\nSitemap: {{ORIGIN}}/sitemap.xml\n")
        terms = [f"/ar/taxonomy/term/{n}" for n in (3, 4, 5)]
        self.sitemap("/sitemap.xml", urlset(["/ar", *article_paths("drupal"), *terms, "/ar/about-us"]))
        self.feed("/rss.xml", "/rss.xml")
        menu = [*terms, "/ar/about-us"]
        self.listing("/ar", menu, range(1, LATEST + 1), next_page="/ar?page=1", feed="/rss.xml", file="ar/index.html")
        self.listing("/ar?page=1", menu, range(LATEST + 1, ARTICLES + 1), file="ar/page-1.html")
        for i, term in enumerate(terms):
            self.listing(term, menu, range(1 + i, ARTICLES + 1, 3))
        self.static_page("/ar/about-us", menu, "من نحن", file="ar/about-us.html")
        for n in range(1, ARTICLES + 1):
            jsonld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": _title(n),
                                 "datePublished": f"2022-01-{_day(n):02d}T10:00:00+02:00"}, ensure_ascii=False)
            self.article(_article_path("drupal", n), n, menu, meta=f'<script type="application/ld+json">{jsonld}</script>',
                         file=f"ar/news/{n}.html", extra=f'<a href="{terms[n % 3]}">القسم</a>')

    def aspnet(self) -> None:
        self.file("robots.txt", "User-agent: *\nDisallow: /Admin/\n")
        self.feed("/rss.aspx", "rss.xml")
        menu = [f"/NewsList.aspx?cat={c}" for c in (1, 2, 3)] + ["/About.aspx"]
        self.listing("/", menu, range(1, LATEST + 1), next_page="/NewsList.aspx?cat=0&page=2", feed="/rss.aspx", file="index.html")
        self.listing("/NewsList.aspx?cat=0&page=2", menu, range(LATEST + 1, ARTICLES + 1), file="list-0-2.html")
        for c in (1, 2, 3):
            self.listing(f"/NewsList.aspx?cat={c}", menu, range(c, ARTICLES + 1, 3), file=f"list-{c}.html")
        self.static_page("/About.aspx", menu, "عن البوابة", file="about.html")
        for n in range(1, ARTICLES + 1):
            date = f'<span class="news-date">الأربعاء {_day(n)} {_MONTHS[0]} 2022</span>'
            share = f'<a href="https://www.facebook.com/sharer.php?u={{{{ORIGIN}}}}/NewsDetails.aspx?id={4400 + n}">مشاركة</a>'
            self.article(_article_path("aspnet", n), n, menu, date_line=date, file=f"news/{4400 + n}.html", extra=share)

    def static(self) -> None:
        menu = ["/about.html"]
        self.listing("/", menu, range(1, LATEST + 1), next_page="/archive/page-2.html", file="index.html")
        self.listing("/archive/page-2.html", menu, range(LATEST + 1, ARTICLES + 1), file="archive/page-2.html")
        self.static_page("/about.html", menu, "عن الموقع", file="about.html")
        for n in range(1, ARTICLES + 1):
            time = f'<time datetime="2022-01-{_day(n):02d}">{_day(n)} {_MONTHS[0]} 2022</time>'
            self.article(_article_path("static", n), n, menu, date_line=time, file=f"articles/{100 + n}.html")

    # --- pages ---------------------------------------------------------------------------------

    def listing(self, path: str, menu: list[str], numbers: range, next_page: str | None = None,
                feed: str | None = None, file: str | None = None) -> None:
        teasers = "".join(
            f'<article class="teaser"><h2><a href="{_article_path(self.family, n)}">{_title(n)}</a></h2>'
            f"<p>{_paragraphs(n)[0][:60]}…</p></article>"
            for n in numbers
        )
        head = f'<link rel="alternate" type="application/rss+xml" title="RSS" href="{feed}">' if feed else ""
        pager = f'<a rel="next" href="{next_page}">الصفحة التالية</a>' if next_page else ""
        self.page(path, "أخبار المدينة", head, f"{_menu(menu)}<main>{teasers}</main>{pager}", file)

    def static_page(self, path: str, menu: list[str], title: str, file: str | None = None) -> None:
        prose = (
            f"<h1>{title}</h1><p>موقع إخباري مستقل يغطي شؤون المدينة وريفها منذ سنوات، ويعمل فيه فريق من الصحفيين المحليين "
            "الذين يكتبون عن حياة الناس اليومية وهمومهم.</p><p>للتواصل مع فريق التحرير يمكن مراسلتنا عبر البريد الإلكتروني "
            "أو زيارة مكتبنا في وسط المدينة خلال ساعات الدوام.</p>"
        )
        self.page(path, title, "", f"{_menu(menu)}<main>{prose}</main>", file)

    def article(self, path: str, n: int, menu: list[str], meta: str = "", date_line: str = "", extra: str = "",
                file: str | None = None) -> None:
        related = "".join(
            f'<li><a href="{_article_path(self.family, m)}">{_title(m)}</a></li>' for m in (n % ARTICLES + 1, (n + 1) % ARTICLES + 1)
        )
        body = "".join(f"<p>{p}</p>" for p in _paragraphs(n))
        main = (
            f'<main><article><h1>{_title(n)}</h1>{date_line}<div class="content">{body}</div>{extra}</article>'
            f'<aside><h3>اقرأ أيضاً</h3><ul>{related}</ul></aside></main>'
        )
        self.page(path, _title(n), meta, f"{_menu(menu)}{main}", file)

    def page(self, path: str, title: str, head: str, body: str, file: str | None) -> None:
        html = (
            f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{title} – أخبار المدينة</title>'
            f"{head}</head><body>{body}<footer>© أخبار المدينة</footer></body></html>"
        )
        if file is None:
            self.file(path.strip("/") + "/index.html" if path != "/" else "index.html", html)
        else:
            self.file(file, html)
            if path.lstrip("/") != file:
                self.routes[path] = {"file": file, "content_type": "text/html; charset=utf-8"}

    def sitemap(self, path: str, body: str) -> None:
        self.file(path.lstrip("/"), body)

    def feed(self, path: str, file: str) -> None:
        items = "".join(
            f"<item><title>{_title(n)}</title><link>{{{{ORIGIN}}}}{_article_path(self.family, n)}</link>"
            f"<pubDate>Mon, {_day(n):02d} Jan 2022 08:00:00 +0000</pubDate></item>"
            for n in range(1, LATEST + 1)
        )
        self.file(file.lstrip("/"), f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>أخبار المدينة</title>{items}</channel></rss>')
        self.routes[path] = {"file": file.lstrip("/"), "content_type": "application/rss+xml; charset=utf-8"}

    def file(self, relative: str, text: str) -> None:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def finish(self) -> None:
        lines = []
        for path, route in self.routes.items():
            lines.append(f"[{json.dumps(path)}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in route.items()]
            lines.append("")
        (self.root / "routes.toml").write_text("\n".join(lines), encoding="utf-8")


def _menu(paths: list[str]) -> str:
    return "<nav>" + " ".join(f'<a href="{p}">{p.strip("/").split("/")[-1] or "الرئيسية"}</a>' for p in ["/", *paths]) + "</nav>"
