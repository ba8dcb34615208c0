"""A generated WordPress site with Jetpack share buttons, reply links, AMP and print variants and comment feeds.

Written into a folder that the demo server then serves; the tests change it between crawls.
"""

from __future__ import annotations

from pathlib import Path

PARAGRAPH = "قالت مصادر محلية إن الأهالي في المدينة ينتظرون منذ أسابيع عودة الخدمات الأساسية إلى أحيائهم، وسط وعود متكررة من الجهات المسؤولة."


def article_path(n: int) -> str:
    return f"/jet/2022/05/{n:02d}/story-{n}/"


def write_article(root: Path, n: int, extra: str = "") -> None:
    path = article_path(n)
    page = f"""<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>خبر رقم {n} – صوت المدينة</title><link rel="canonical" href="{path}">
<link rel="amphtml" href="{path}amp/"><link rel="alternate" type="application/rss+xml" href="{path}feed/">
</head><body><article class="post"><h1>خبر رقم {n}</h1>
<div class="entry-content"><p>{PARAGRAPH} ({n}){extra}</p><p>وأضافت المصادر أن اللجنة المختصة ستعقد اجتماعها المقبل خلال أيام لمتابعة الملف رقم {n}.</p></div>
<div class="sharedaddy"><a href="{path}?share=twitter&amp;nb=1">X</a> <a href="{path}?share=facebook&amp;nb=1">Facebook</a>
<a href="{path}?share=telegram&amp;nb=1">Telegram</a> <a href="{path}?share=jetpack-whatsapp&amp;nb=1">WhatsApp</a></div>
<a href="{path}?print=1">طباعة</a> <a href="{path}amp/">AMP</a> <a href="{path}?replytocom=7#respond">رد</a>
<a href="/jet/wp-login.php?redirect_to={path}">دخول</a> <a href="/jet/?s=%D8%AE%D8%A8%D8%B1">بحث</a>
</article></body></html>"""
    target = root / path.strip("/") / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")


def write_index(root: Path, count: int, old_slug: bool = False) -> None:
    """One listing page, /jet/, linking to articles 1..count."""
    paths = [article_path(n) for n in range(1, count + 1)]
    if old_slug:
        paths[0] = "/jet/2022/05/01/old-slug/"  # served with story-1's page, whose canonical link is story-1
    links = "".join(f'<li><a href="{p}">خبر رقم {n}</a></li>' for n, p in enumerate(paths, 1))
    (root / "jet").mkdir(parents=True, exist_ok=True)
    (root / "jet" / "index.html").write_text(
        f'<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8"><title>صوت المدينة</title></head><body><ul>{links}</ul></body></html>',
        encoding="utf-8",
    )




def write_paged_index(root: Path, count: int, per_page: int) -> None:
    """Listing pages /jet/, /jet/page/2/, ... each linking to per_page articles and to the next page."""
    pages = (count + per_page - 1) // per_page
    for page in range(1, pages + 1):
        numbers = range((page - 1) * per_page + 1, min(page * per_page, count) + 1)
        links = "".join(f'<li><a href="{article_path(n)}">خبر رقم {n}</a></li>' for n in numbers)
        if page < pages:
            links += f'<li><a href="/jet/page/{page + 1}/">التالي</a></li>'
        folder = root / "jet" if page == 1 else root / "jet" / "page" / str(page)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(
            f'<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8"><title>صوت المدينة</title></head><body><ul>{links}</ul></body></html>',
            encoding="utf-8",
        )
