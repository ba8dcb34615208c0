"""A news site that misbehaves on purpose: every fault a crawler meets in the wild, on 127.0.0.1.

``python -m tests.hostile_server --log FILE --secret FILE`` serves one site
on a free port and a "trap" listener on a second one; the first line printed
is the site's URL, the second the trap's. Every request to either is logged
as one JSON line (``"trap": true`` for the trap) before it is answered: the
tests read that log as the witness of what the crawler asked, and anything
in the trap's log is a request that should never have been sent.

The site's front page links to a few good Arabic articles and to every bad
case; its sitemaps and feeds carry the XML attacks. ``--secret`` names a
local file the XXE documents point at; the server never reads it, so its
content can only reach the archive if some parser resolved the entity.
"""

from __future__ import annotations

import argparse
import gzip
import json
import signal
import socket
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import ServerProcess

ARTICLE_PATTERN = r"/news/"
FOLLOW_PATTERN = r"/calendar"
# Inflated size of the decompression bomb: far above DOWNLOAD_MAXSIZE, from a body under 1 MiB.
BOMB_INFLATED = 512 * 1024 * 1024
# A sitemap bigger than DOWNLOAD_MAXSIZE on the wire.
HUGE_SITEMAP_BYTES = 20 * 1024 * 1024
# How long a stalling response hangs: longer than any test's DOWNLOAD_TIMEOUT.
STALL_SECONDS = 60

PARAGRAPHS = [
    "أعلنت وزارة الزراعة اليوم عن خطة جديدة لدعم المزارعين في المناطق الشمالية، تشمل توزيع البذور المحسنة وتوفير قروض ميسرة لشراء معدات الري الحديثة.",
    "وقال المتحدث باسم الوزارة في مؤتمر صحفي إن الخطة تستهدف أكثر من عشرين ألف أسرة ريفية، وإن تنفيذها سيبدأ مطلع الشهر المقبل بالتعاون مع المجالس المحلية.",
    "وأشار إلى أن موجة الجفاف التي ضربت المنطقة خلال العامين الماضيين ألحقت أضرارا كبيرة بمحاصيل القمح والشعير، ما دفع كثيرا من العائلات إلى ترك أراضيها.",
    "من جهتهم، رحب ممثلو الجمعيات الفلاحية بالخطة، لكنهم طالبوا بضمانات تكفل وصول الدعم إلى صغار المزارعين بعيدا عن المحسوبيات والإجراءات المعقدة.",
]
GOOD = {
    f"/news/good-{n}": (f"خبر جيد رقم {n}: خطة لدعم المزارعين", [f"{p} (الخبر {n})" for p in PARAGRAPHS])
    for n in (1, 2, 3)
}
# Every bad case the front page links to, by path.
BAD_ARTICLES = [
    "/news/malformed",
    "/news/truncated-html",
    "/news/deep",
    "/news/wrong-charset",
    "/news/binary",
    "/news/empty",
    "/news/cookie-wall",
    "/news/locked-story",
    "/news/paywall",
    "/news/gzip-truncated",
    "/news/bomb",
    "/news/reset",
    "/news/stall-headers",
    "/news/stall-body",
    "/news/loop-a",
    "/news/loop-endless",
    "/news/offsite-redirect",
]
SITEMAPS = ["/sitemap-index.xml", "/sitemap-malformed.xml", "/sitemap-garbage.xml", "/sitemap-huge.xml", "/sitemap-bomb.xml.gz",
            "/sitemap-laughs.xml", "/sitemap-xxe.xml"]
FEEDS = ["/feed-malformed.rss", "/feed-garbage.rss", "/feed-laughs.rss", "/feed-xxe.rss", "/feed-dtd.rss"]


def article_page(title: str, paragraphs: list[str], extra_head: str = "") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
        f"<title>{title}</title>{extra_head}</head><body><header><a href=\"/\">الرئيسية</a></header>"
        f'<article><h1>{title}</h1><div class="entry-content">{body}</div></article>'
        "<footer>جميع الحقوق محفوظة</footer></body></html>"
    )


def wall_page(title: str, inner: str) -> str:
    return (
        '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><main>{inner}</main></body></html>"
    )


COOKIE_WALL = wall_page(
    "قبل المتابعة",
    "<h1>نحن نحترم خصوصيتك</h1>"
    "<p>نستخدم ملفات تعريف الارتباط (الكوكيز) وتقنيات مشابهة لتحسين تجربتك وتحليل حركة المرور وتخصيص الإعلانات. "
    "يمكنك قبول جميع ملفات تعريف الارتباط أو إدارة تفضيلاتك.</p>"
    "<p>We use cookies to improve your experience. Accept all cookies or manage your preferences.</p>"
    '<form method="post" action="/consent"><button name="c" value="1">قبول الكل</button>'
    '<button name="c" value="0">رفض</button><a href="/privacy">سياسة الخصوصية</a></form>',
)
LOGIN_PAGE = wall_page(
    "تسجيل الدخول",
    "<h1>تسجيل الدخول</h1><p>يرجى تسجيل الدخول لمتابعة القراءة.</p>"
    '<form method="post" action="/login"><label>البريد الإلكتروني <input type="email" name="email"></label>'
    '<label>كلمة المرور <input type="password" name="password"></label>'
    '<button type="submit">دخول</button></form><p><a href="/register">إنشاء حساب جديد</a> | '
    '<a href="/forgot">نسيت كلمة المرور؟</a></p>',
)
PAYWALL = wall_page(
    "محتوى للمشتركين",
    "<h1>هذا المحتوى متاح للمشتركين فقط</h1>"
    "<p>اشترك الآن للوصول غير المحدود إلى جميع المقالات والتحليلات الحصرية. الاشتراك الشهري يبدأ من دولار واحد.</p>"
    '<p><a href="/subscribe">اشترك الآن</a> أو <a href="/login">سجل الدخول</a> إذا كنت مشتركا.</p>',
)

TRUNCATED_GZIP_PARAGRAPHS = [f"{p} (مضغوط {i})" for i, p in enumerate(PARAGRAPHS * 3)]


def gzip_truncated_body() -> bytes:
    """A gzip stream cut to 60% (no trailer), sent with a Content-Length that matches:
    the transfer is whole, the compressed body is not."""
    full = gzip.compress(article_page("خبر مضغوط مبتور", TRUNCATED_GZIP_PARAGRAPHS).encode(), mtime=0)
    return full[: len(full) * 6 // 10]


_LAUGHS_DTD = (
    '<!DOCTYPE {root} [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


class HostileSite(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], log: Path | None, secret: Path, trap: bool = False) -> None:
        super().__init__(address, _Handler)
        self.log_path = log
        self.secret = secret
        self.trap = trap
        self.trap_port = 0
        self.log_lock = threading.Lock()
        self._bomb: bytes | None = None
        self._bomb_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler hanging up on a stall, a bomb or a huge sitemap is the point, not a server error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def record(self, entry: dict[str, Any]) -> None:
        if self.log_path is None:
            return
        with self.log_lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def bomb(self) -> bytes:
        """BOMB_INFLATED bytes of spaces in a gzip body of about half a MiB, compressed in chunks (little memory)."""
        with self._bomb_lock:
            if self._bomb is None:
                compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
                head = '<html><head><meta charset="utf-8"><title>قنبلة</title></head><body><p>'.encode()
                parts = [compressor.compress(head)]
                block = b" " * (1024 * 1024)
                for _ in range(BOMB_INFLATED // len(block)):
                    parts.append(compressor.compress(block))
                parts.append(compressor.flush())
                self._bomb = b"".join(parts)
            return self._bomb


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostileSite

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.server.record(
            {
                "method": self.command,
                "path": self.path,
                "host": self.headers.get("Host", ""),
                "trap": self.server.trap,
                "user_agent": self.headers.get("User-Agent", ""),
            }
        )
        if self.server.trap:
            self._send(200, "text/plain", b"you should not be here")
            return
        path = urlsplit(self.path).path
        handler = _ROUTES.get(path)
        if handler is None and path in GOOD:
            title, paragraphs = GOOD[path]
            self._send(200, "text/html; charset=utf-8", article_page(title, paragraphs).encode())
            return
        if handler is None:
            self._send(404, "text/html; charset=utf-8", b"<html><body><h1>404</h1></body></html>")
            return
        handler(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        pass

    # --- helpers -----------------------------------------------------------
    @property
    def origin(self) -> str:
        return f"http://{self.headers.get('Host', '127.0.0.1')}"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def _send(self, status: int, content_type: str | None, body: bytes, headers: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._send(302, "text/html", b"", [("Location", location)])

    def _xml(self, text: str, content_type: str = "application/xml") -> None:
        self._send(200, content_type, text.encode())

    def _entities(self, root: str) -> str:
        """A DOCTYPE declaring a local-file and two network external entities (XXE)."""
        trap = self.server.trap_port
        return (
            f'<!DOCTYPE {root} [<!ENTITY secret SYSTEM "file://{self.server.secret}">'
            f'<!ENTITY remote SYSTEM "http://127.0.0.1:{trap}/xxe-entity">'
            f'<!ENTITY remote2 SYSTEM "http://localhost:{trap}/xxe-entity-2">]>'
        )

    # --- the site ------------------------------------------------------------
    def home(self) -> None:
        links = [*GOOD, *BAD_ARTICLES, "/calendar?page=1", f"http://localhost:{self.port}/news/good-1"]
        items = "\n".join(f'<li><h3><a href="{u}">عنوان الخبر {i}</a></h3></li>' for i, u in enumerate(links))
        self._send(200, "text/html; charset=utf-8", f'<html lang="ar"><head><meta charset="utf-8"><title>الرئيسية</title></head><body><ul>{items}</ul></body></html>'.encode())

    def robots(self) -> None:
        self._send(200, "text/plain", b"User-agent: *\nAllow: /\n")

    def malformed(self) -> None:
        # Unclosed and misnested tags, a stray </html> and attributes without quotes: browsers cope, so must we.
        title, paragraphs = "خبر بوسوم مكسورة", [f"{p} (مكسور)" for p in PARAGRAPHS]
        body = "".join(f"<p class=x><b>{p}<i></b>" for p in paragraphs)
        page = f'<html><head><meta charset=utf-8><title>{title}</title><body><div><article><h1>{title}</h2>{body}</div></span></html><p>'
        self._send(200, "text/html; charset=utf-8", page.encode())

    def truncated_html(self) -> None:
        # The markup itself stops mid-tag (the server's template died), the transfer is complete.
        page = article_page("خبر مبتور", [f"{p} (مبتور)" for p in PARAGRAPHS]).encode()
        cut = page[: page.index(b"</article>")] + b'<div class="x'
        self._send(200, "text/html; charset=utf-8", cut)

    def deep(self) -> None:
        depth = 300_000
        head = '<html><head><meta charset="utf-8"><title>عميق</title></head><body>'
        page = head.encode() + b"<div>" * depth + "<p>نص في القاع</p>".encode() + b"</div>" * depth + b"</body></html>"
        self._send(200, "text/html; charset=utf-8", page)

    def wrong_charset(self) -> None:
        # Declared UTF-8, written in windows-1256: decoding as declared gives mojibake.
        title, paragraphs = GOOD["/news/good-1"]
        page = article_page(title, paragraphs).replace('<meta charset="utf-8">', "")
        self._send(200, "text/html; charset=utf-8", page.encode("cp1256"))

    def binary(self) -> None:
        # A JPEG-like blob (deterministic bytes) labelled as HTML.
        blob = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes((i * 7919 + 13) % 256 for i in range(40_000))
        self._send(200, "text/html; charset=utf-8", blob)

    def empty(self) -> None:
        self._send(200, "text/html; charset=utf-8", b"")

    def cookie_wall(self) -> None:
        self._send(200, "text/html; charset=utf-8", COOKIE_WALL.encode())

    def login(self) -> None:
        self._send(200, "text/html; charset=utf-8", LOGIN_PAGE.encode())

    def paywall(self) -> None:
        self._send(200, "text/html; charset=utf-8", PAYWALL.encode())

    def gzip_truncated(self) -> None:
        self._send(200, "text/html; charset=utf-8", gzip_truncated_body(), [("Content-Encoding", "gzip")])

    def bomb_page(self) -> None:
        self._send(200, "text/html; charset=utf-8", self.server.bomb(), [("Content-Encoding", "gzip")])

    def reset(self) -> None:
        # Promise 100 KB, send 10 KB, then reset the connection (RST, not FIN).
        title, paragraphs = GOOD["/news/good-2"]
        body = article_page(title, paragraphs * 40).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:10_000])
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def stall_headers(self) -> None:
        time.sleep(STALL_SECONDS)
        self.close_connection = True

    def stall_body(self) -> None:
        body = article_page(*GOOD["/news/good-3"]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:200])
        self.wfile.flush()
        time.sleep(STALL_SECONDS)
        self.close_connection = True

    def loop_a(self) -> None:
        self._redirect("/news/loop-b")

    def loop_b(self) -> None:
        self._redirect("/news/loop-a")

    def loop_endless(self) -> None:
        # Every hop a new URL: no duplicate filter can see the loop, only the redirect limit.
        hop = int(parse_qs(urlsplit(self.path).query).get("hop", ["0"])[0])
        self._redirect(f"/news/loop-endless?hop={hop + 1}")

    def offsite_redirect(self) -> None:
        # Same server, another host name: not in allowed_domains, so never to be requested.
        self._redirect(f"http://localhost:{self.port}/news/good-1")

    def calendar(self) -> None:
        # An endless calendar: every page links to the next, for ever.
        page = int(parse_qs(urlsplit(self.path).query).get("page", ["1"])[0])
        html = (
            f'<html><head><meta charset="utf-8"><title>أرشيف {page}</title></head><body>'
            f'<a href="/calendar?page={page + 1}" rel="next">التالي</a></body></html>'
        )
        self._send(200, "text/html; charset=utf-8", html.encode())

    # --- sitemaps and feeds --------------------------------------------------
    def sitemap_index(self) -> None:
        # Points to itself (a loop) and to a good child.
        self._xml(
            '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.origin}/sitemap-index.xml</loc></sitemap>"
            f"<sitemap><loc>{self.origin}/sitemap-news.xml</loc></sitemap></sitemapindex>"
        )

    def sitemap_news(self) -> None:
        urls = "".join(f"<url><loc>{self.origin}{p}</loc></url>" for p in GOOD)
        self._xml(f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')

    def sitemap_malformed(self) -> None:
        self._xml('<?xml version="1.0"?><urlset><url><loc>unterminated <<<</url></urlset')

    def garbage(self) -> None:
        # Served as XML, is not: control bytes and stray markup, no element lxml can recover.
        self._send(200, "application/xml", b"\x00\x01\x02 not xml <<< \xff\xfe")

    def sitemap_huge(self) -> None:
        entry = f"<url><loc>{self.origin}/elsewhere/item</loc></url>".encode()
        count = HUGE_SITEMAP_BYTES // len(entry) + 1
        body = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + entry * count + b"</urlset>"
        self._send(200, "application/xml", body)

    def sitemap_bomb(self) -> None:
        # A gzipped sitemap file (no Content-Encoding: the spider unpacks it itself) inflating to 512 MiB.
        self._send(200, "application/x-gzip", self.server.bomb())

    def sitemap_laughs(self) -> None:
        self._xml(
            '<?xml version="1.0"?>' + _LAUGHS_DTD.format(root="urlset")
            + '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{self.origin}/news/laughs-&lol9;</loc></url></urlset>"
        )

    def sitemap_xxe(self) -> None:
        self._xml(
            '<?xml version="1.0"?>' + self._entities("urlset")
            + '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{self.origin}/news/xxe-&secret;</loc></url>"
            "<url><loc>&remote;</loc></url><url><loc>&remote2;</loc></url></urlset>"
        )

    def feed_malformed(self) -> None:
        self._xml('<?xml version="1.0"?><rss><channel><item><link>', "application/rss+xml")

    def feed_laughs(self) -> None:
        self._xml(
            '<?xml version="1.0"?>' + _LAUGHS_DTD.format(root="rss")
            + f"<rss><channel><item><title>&lol9;</title><link>{self.origin}/news/feed-laughs-&lol9;</link></item></channel></rss>",
            "application/rss+xml",
        )

    def feed_xxe(self) -> None:
        self._xml(
            '<?xml version="1.0"?>' + self._entities("rss")
            + f"<rss><channel><item><title>&secret;</title><link>{self.origin}/news/feed-xxe-&secret;</link></item>"
            "<item><link>&remote;</link></item><item><link>&remote2;</link></item></channel></rss>",
            "application/rss+xml",
        )

    def feed_dtd(self) -> None:
        # An external DTD on the trap: loading it would be a request the site file does not allow.
        self._xml(
            f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:{self.server.trap_port}/evil.dtd">'
            f"<rss><channel><item><link>{self.origin}/news/good-2</link></item></channel></rss>",
            "application/rss+xml",
        )


_ROUTES = {
    "/": _Handler.home,
    "/robots.txt": _Handler.robots,
    "/news/malformed": _Handler.malformed,
    "/news/truncated-html": _Handler.truncated_html,
    "/news/deep": _Handler.deep,
    "/news/wrong-charset": _Handler.wrong_charset,
    "/news/binary": _Handler.binary,
    "/news/empty": _Handler.empty,
    "/news/cookie-wall": _Handler.cookie_wall,
    "/news/locked-story": _Handler.login,
    "/news/paywall": _Handler.paywall,
    "/news/gzip-truncated": _Handler.gzip_truncated,
    "/news/bomb": _Handler.bomb_page,
    "/news/reset": _Handler.reset,
    "/news/stall-headers": _Handler.stall_headers,
    "/news/stall-body": _Handler.stall_body,
    "/news/loop-a": _Handler.loop_a,
    "/news/loop-b": _Handler.loop_b,
    "/news/loop-endless": _Handler.loop_endless,
    "/news/offsite-redirect": _Handler.offsite_redirect,
    "/calendar": _Handler.calendar,
    "/sitemap-index.xml": _Handler.sitemap_index,
    "/sitemap-news.xml": _Handler.sitemap_news,
    "/sitemap-malformed.xml": _Handler.sitemap_malformed,
    "/sitemap-garbage.xml": _Handler.garbage,
    "/feed-garbage.rss": _Handler.garbage,
    "/sitemap-huge.xml": _Handler.sitemap_huge,
    "/sitemap-bomb.xml.gz": _Handler.sitemap_bomb,
    "/sitemap-laughs.xml": _Handler.sitemap_laughs,
    "/sitemap-xxe.xml": _Handler.sitemap_xxe,
    "/feed-malformed.rss": _Handler.feed_malformed,
    "/feed-laughs.rss": _Handler.feed_laughs,
    "/feed-xxe.rss": _Handler.feed_xxe,
    "/feed-dtd.rss": _Handler.feed_dtd,
}


def site_file_conf(url: str) -> dict[str, Any]:
    """The site file for this server: its listing, sitemaps and feeds, everything on 127.0.0.1."""
    return {
        "name": "hostile",
        "allowed_domains": ["127.0.0.1"],
        "start_urls": [url + "/"],
        "sitemap_urls": [url + p for p in SITEMAPS],
        "feed_urls": [url + p for p in FEEDS],
        "article_pattern": ARTICLE_PATTERN,
        "follow_pattern": FOLLOW_PATTERN,
    }


class HostileProcess(ServerProcess):
    """The server as a subprocess, as the tests and bench/hostile_crawl.py run it; its request log is the witness."""

    def __init__(self, log: Path, secret: Path) -> None:
        super().__init__("tests.hostile_server", ["--log", str(log), "--secret", str(secret)], log)
        self.trap_url = self.readline()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.hostile_server", description=__doc__)
    parser.add_argument("--log", type=Path, help="append one JSON line per request to this file")
    parser.add_argument("--secret", type=Path, required=True, help="the local file the XXE entities point at")
    args = parser.parse_args()
    site = HostileSite(("127.0.0.1", 0), args.log, args.secret)
    trap = HostileSite(("127.0.0.1", 0), args.log, args.secret, trap=True)
    site.trap_port = int(trap.server_address[1])
    print(f"http://127.0.0.1:{site.server_address[1]}", flush=True)
    print(f"http://127.0.0.1:{trap.server_address[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    try:
        site.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
