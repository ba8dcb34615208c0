"""A synthetic news site of N article pages of 40-80 KB, served from disk by nginx.

    .venv/bin/python bench/synthetic_site.py DIR --articles 3000   # writes DIR/site, DIR/site.toml

The pages are the demo site's two themes (Drupal under /syria/node/N,
WordPress under /wp/2022/01/N/), with the demo's article paragraphs in a new
order per page, and around them what makes a real news page weigh 40-80 KB:
inline scripts and styles, a long menu, "آخر الأخبار" and "الأكثر قراءة"
lists. A robots.txt points to a sitemap index of 1,000 URLs per sitemap;
the home page lists the latest articles.

The pages are generated once per DIR and article count, and reused.
``nginx(root)`` serves them on a free port of 127.0.0.1 for as long as a
``with`` block lasts (Debian's nginx package: ``apt-get install nginx-light``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.demosite.make_site import syria_article, wp_article  # noqa: E402

DEMO_SITE = ROOT / "crawler" / "demosite" / "site"
PER_SITEMAP = 1000
MIN_SIZE, MAX_SIZE = 40_000, 80_000
ORIGIN_MARK = "{{ORIGIN}}"

SITE_FILE = """name = "synthetic"
allowed_domains = ["127.0.0.1"]
start_urls = ["{origin}/"]
sitemap_urls = ["{origin}/robots.txt"]
article_pattern = '/(syria/node/\\d+|wp/\\d{{4}}/\\d{{2}}/\\d+/)$'
body_selector = "div.field--name-body, div.entry-content"
drop_selectors = [".share-links", ".font-size-controls", ".field--name-field-tags", ".sharedaddy", ".jp-relatedposts", ".tags-links"]
date_selector = ".field--name-created, .entry-meta .posted-on"
"""


def _paragraphs() -> list[str]:
    paragraphs: list[str] = []
    for path in sorted(DEMO_SITE.rglob("*.expected.txt")):
        paragraphs += [p for p in path.read_text(encoding="utf-8").split("\n\n") if len(p) > 80]
    return paragraphs


def article_path(n: int) -> str:
    return f"/syria/node/{n}" if n % 2 == 0 else f"/wp/2022/01/{n}/"


def _file_for(path: str) -> str:
    return path.strip("/") + ("/index.html" if path.endswith("/") else "")


def _article(n: int, paragraphs: list[str], rng: random.Random) -> dict:
    body = [("p", p) for p in rng.sample(paragraphs, rng.randint(10, 24))]
    title = f"{rng.choice(paragraphs)[:60].rsplit(' ', 1)[0]} ({n})"
    # Dated and typed as news in the head, as the SEO plugins of both CMS write it.
    common = {"id": f"n{n}", "title": title, "body": body, "published": "2022-01-20", "meta_date": "2022-01-20T10:00:00+02:00"}
    if n % 4 < 2:
        common |= {"jsonld": True, "author": "فريق التحرير"}
    if n % 2 == 0:
        return {**common, "section": "syria", "slug": f"node/{n}", "date_line": "2022.01.20 | 10:00 دمشق"}
    return {**common, "section": "wp", "date_path": "2022/01", "slug": str(n), "date_line": "20 يناير، 2022", "author": "فريق التحرير"}


def _padding(n: int, total: int, paragraphs: list[str], rng: random.Random, size: int) -> tuple[str, str]:
    """What a real news page carries around its article, about ``size`` bytes of it.

    Theme CSS and a script's settings in the head; a mega-menu, "آخر الأخبار"
    and "الأكثر قراءة" lists after the article: markup that compresses as a
    real page's does, not random bytes, and about 100-150 links a page (the
    public pages of bench/data have a median of 131).
    """
    words = rng.choice(paragraphs).split()
    css = "".join(
        f".td-block-{i} .entry-title a{{color:#{rng.randrange(0x1000000):06x};font-size:{12 + i % 9}px;margin:0 {i % 7}px}}\n"
        for i in range(size // 160)
    )
    config = ",".join(f'"{w}_{i}":{{"id":{i},"slug":"section-{i % 40}","enabled":true}}' for i, w in enumerate(words * 4))
    head = f"<style>{css}</style>\n<script>var td_config={{{config}}};</script>"
    blocks, used = [], len(head)
    while used < size:
        kind = rng.choice(("آخر الأخبار", "الأكثر قراءة", "أقسام"))
        items = "".join(
            f'<li class="menu-item menu-item-type-post"><a href="{article_path(m)}">'
            f"{rng.choice(paragraphs)[:70].rsplit(' ', 1)[0]}</a></li>"
            for m in rng.sample(range(total), min(total, 20))
        )
        block = f'<aside class="widget td-block"><h2 class="widget-title">{kind}</h2><ul>{items}</ul></aside>'
        blocks.append(block)
        used += len(block.encode("utf-8"))
    return head, "\n".join(blocks)


def _page(n: int, total: int, paragraphs: list[str], rng: random.Random) -> str:
    a = _article(n, paragraphs, rng)
    page = syria_article(a) if a["section"] == "syria" else wp_article(a)
    target = rng.randint(MIN_SIZE, MAX_SIZE)
    missing = max(0, target - len(page.encode("utf-8")) - 2000)
    head_extra, aside = _padding(n, total, paragraphs, rng, missing)
    page = page.replace("</head>", head_extra + "\n</head>", 1).replace("</body>", aside + "\n</body>", 1)
    return page


def make_site(root: Path, articles: int, seed: int = 1) -> Path:
    """Write the site under root/site (once per article count); return that folder."""
    site = root / "site"
    done = root / "site.json"
    if done.exists() and json.loads(done.read_text()) == {"articles": articles, "seed": seed}:
        return site
    if site.exists():
        shutil.rmtree(site)
    rng = random.Random(seed)
    paragraphs = _paragraphs()
    paths = []
    for n in range(articles):
        path = article_path(n)
        paths.append(path)
        target = site / _file_for(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_page(n, articles, paragraphs, rng), encoding="utf-8")
    maps = []
    for i in range(0, len(paths), PER_SITEMAP):
        name = f"sitemap-{i // PER_SITEMAP + 1}.xml"
        maps.append(name)
        urls = "".join(f"<url><loc>{ORIGIN_MARK}{p}</loc><lastmod>2022-01-20</lastmod></url>\n" for p in paths[i : i + PER_SITEMAP])
        (site / name).write_text(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        )
    index = "".join(f"<sitemap><loc>{ORIGIN_MARK}/{m}</loc></sitemap>\n" for m in maps)
    (site / "sitemap.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{index}</sitemapindex>\n'
    )
    (site / "robots.txt").write_text(f"User-agent: *\nAllow: /\nSitemap: {ORIGIN_MARK}/sitemap.xml\n")
    latest = "".join(f'<li><a href="{p}">خبر {p}</a></li>' for p in paths[-20:])
    (site / "index.html").write_text(
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>موقع تجريبي</title></head>'
        f"<body><ul>{latest}</ul></body></html>\n",
        encoding="utf-8",
    )
    done.write_text(json.dumps({"articles": articles, "seed": seed}))
    return site


def site_file(root: Path, origin: str) -> Path:
    path = root / "site.toml"
    path.write_text(SITE_FILE.format(origin=origin), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def nginx(site: Path, workers: int = 1) -> Iterator[str]:
    """nginx serving ``site`` on 127.0.0.1; yields the origin. ``{{ORIGIN}}`` in sitemaps becomes it."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx not found: apt-get install nginx-light")
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="nginx-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(
            f"""daemon off;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type text/html;
    types {{ text/html html; text/xml xml; text/plain txt; }}
    charset utf-8;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
    server {{
        listen 127.0.0.1:{port};
        root {site};
        location / {{
            sub_filter_types text/xml text/plain;
            sub_filter '{ORIGIN_MARK}' '{origin}';
            sub_filter_once off;
            try_files $uri $uri/index.html $uri/ =404;
        }}
    }}
}}
"""
        )
        proc = subprocess.Popen([binary, "-c", str(conf), "-e", f"{tmp}/error.log"], stderr=subprocess.PIPE)
        try:
            _wait_for(port, proc)
            yield origin
        finally:
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"nginx did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise SystemExit("nginx did not start listening within 10 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--serve", action="store_true", help="serve it with nginx until interrupted")
    args = parser.parse_args()
    site = make_site(args.dir, args.articles)
    print(f"{args.articles} articles in {site}")
    if args.serve:
        with nginx(site) as origin:
            print(f"serving on {origin}; site file {site_file(args.dir, origin)}")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()


if __name__ == "__main__":
    main()
