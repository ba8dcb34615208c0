"""The offline demo site: two Arabic news sections served over HTTP/1.1 on loopback.

Files under the root are served as they are, read at each request (tests
edit pages between crawls). ``routes.toml`` in the root says what is not a
plain file: redirects, error statuses (404, or a route's own 403, 503...), aliases, a missing charset, chunked or
truncated bodies (cut on the wire, or a gzip stream cut before sending), repeated Set-Cookie headers, a reason phrase of the
server's own, and the path prefixes served
gzip-compressed. Every request is logged as one JSON line before it is
answered; the tests read that log as the witness of what the crawler asked.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
import time
import tomllib
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path(__file__).resolve().parent / "site"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".gz": "application/x-gzip",
    ".pdf": "application/pdf",
}
_TEXT_SUFFIXES = (".html", ".xml", ".rss", ".txt")
_CHUNK = 300


class DemoSite(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path, log: Path | None) -> None:
        super().__init__(address, _Handler)
        self.root = root
        self.log_path = log
        self._log_lock = threading.Lock()

    def routes(self) -> dict[str, Any]:
        path = self.root / "routes.toml"
        return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def record(self, entry: dict[str, Any]) -> None:
        if self.log_path is None:
            return
        with self._log_lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DemoSite

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        status, headers, body, route = self._resolve()
        self.server.record(
            {
                "time": time.time(),
                "method": self.command,
                "path": self.path,
                "host": self.headers.get("Host", ""),
                "status": status,
                "user_agent": self.headers.get("User-Agent", ""),
                "accept_encoding": self.headers.get("Accept-Encoding", ""),
                "if_none_match": self.headers.get("If-None-Match", ""),
                "if_modified_since": self.headers.get("If-Modified-Since", ""),
            }
        )
        self._send(status, headers, body, route)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        logger.debug(format, *args)

    def _resolve(self) -> tuple[int, list[tuple[str, str]], bytes, dict[str, Any]]:
        routes = self.server.routes()
        path = urlsplit(self.path).path
        route: dict[str, Any] = {}
        for prefix, conf in routes.items():
            if conf.get("prefix") and path.startswith(prefix):
                route.update(conf)
        for key in (self.path, unquote(self.path)):
            if key in routes and not routes[key].get("prefix"):
                route.update(routes[key])
                break
        status = int(route.get("status", 200))
        if status in (301, 302, 307, 308):
            return status, [("Location", self._fill(route["location"].encode()).decode())], b"", route
        file = self._file(route.get("file") or unquote(path)) if status == 200 else None
        if file is None:
            body = self._fill(
                '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>404</title></head>'
                "<body><h1>الصفحة غير موجودة</h1></body></html>".encode()
            )
            # A route's own error status (403, 429, 503: a site refusing the crawler), else not found.
            return (status if status >= 400 else 404), [("Content-Type", "text/html; charset=utf-8")], body, route
        body = file.read_bytes()
        if file.suffix in _TEXT_SUFFIXES:
            body = self._fill(body)
        content_type = route.get("content_type") or _TYPES.get(file.suffix, "application/octet-stream")
        # Validators, as a static file server gives them; a conditional request for an unchanged file gets 304.
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        mtime = int(file.stat().st_mtime)
        validators = [("ETag", etag), ("Last-Modified", formatdate(mtime, usegmt=True))]
        if self._unchanged(etag, mtime):
            return 304, validators, b"", {k: v for k, v in route.items() if k not in ("chunked", "gzip", "truncate")}
        headers = [("Content-Type", content_type), *validators]
        headers += [("Set-Cookie", cookie) for cookie in route.get("set_cookies", [])]
        return status, headers, body, route

    def _unchanged(self, etag: str, mtime: int) -> bool:
        if match := self.headers.get("If-None-Match"):
            return etag in (m.strip() for m in match.split(","))
        if since := self.headers.get("If-Modified-Since"):
            try:
                return mtime <= int(parsedate_to_datetime(since).timestamp())
            except (TypeError, ValueError):
                return False
        return False

    def _file(self, relative: str) -> Path | None:
        root = self.server.root.resolve()
        relative = relative.lstrip("/")
        candidates = [root / relative / "index.html", root / f"{relative}.html", root / relative]
        if relative == "" or relative.endswith("/"):
            candidates = [root / relative / "index.html"]
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved.is_file() and resolved.is_relative_to(root) and not resolved.name.endswith(".expected.txt"):
                return resolved
        return None

    def _fill(self, body: bytes) -> bytes:
        host = self.headers.get("Host", "127.0.0.1")
        port = host.rsplit(":", 1)[1] if ":" in host else "80"
        body = body.replace(b"{{ORIGIN}}", f"http://{host}".encode())
        return body.replace(b"{{OTHER_ORIGIN}}", f"http://localhost:{port}".encode())

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, route: dict[str, Any]) -> None:
        if route.get("gzip") and "gzip" in self.headers.get("Accept-Encoding", "") and body:
            body = gzip.compress(body, mtime=0)  # mtime=0: the same page gives the same bytes
            if route.get("gzip_cut"):
                # The gzip stream cut to 60%, sent whole with a length that matches: a body cut before it was sent.
                body = body[: len(body) * 6 // 10]
            headers.append(("Content-Encoding", "gzip"))
        self.send_response(status, route.get("reason") or HTTPStatus(status).phrase)
        for name, value in headers:
            self.send_header(name, value)
        if route.get("chunked"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                for i in range(0, len(body), _CHUNK):
                    piece = body[i : i + _CHUNK]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            return
        if route.get("truncate"):
            # Promise the whole body, send half, hang up: a transfer cut short.
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if status != 304:  # a 304 has no body, and so no length
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def serve(host: str, port: int, root: Path, log: Path | None) -> DemoSite:
    return DemoSite((host, port), root, log)
