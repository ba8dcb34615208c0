"""A shared crawl trusts nothing it reads from Redis: a stranger's entries run nothing, send no request, and are refused.

Against a real redis-server, as a stranger on the same network would: entries
pushed at the front of the queue (a pickle that would run a command, JSON of
the wrong shape, an off-site URL, a callback the spider does not offer, an
oversized entry), a state row and a politeness time that no worker wrote, a
robots.txt entry overwritten between two workers. Then the ways a user
closes the Redis to strangers: a password, an ACL user, TLS.
"""

from __future__ import annotations

import json
import pickle
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.settings import Settings

from crawler.scaleout.entries import Refused, RequestCodec, Unqueueable, check_state_row
from crawler.scaleout.link import Keys, exposure_warning
from crawler.settings import REDIS_KEY_PREFIX
from crawler.store.manifest import read_manifest
from spiders.news import LISTING_DEPTH_KEY, NewsSpider
from tests.jetsite import article_path, write_article, write_index
from tests.servers import RedisServer, TlsFiles
from tests.test_scaleout import article_requests, finish, small, workers  # noqa: F401 (small: a fixture)

KEYS = Keys.for_site(Settings({"REDIS_KEY_PREFIX": REDIS_KEY_PREFIX}), "jet")
REFUSED = "Refused an entry of Redis key "


class _RunsACommand:
    """What a stranger pickles: unpickling it runs a shell command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        import os

        return (os.system, (self.command,))


def wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def every_entry(client: Any) -> list[bytes]:
    """The queue's entries and every worker's leased ones, as they are in Redis."""
    entries = list(client.zrange(KEYS.queue, 0, -1))
    for worker in client.zrange(KEYS.workers, 0, -1):
        entries += client.hkeys(KEYS.leased(worker.decode()))
    return entries


@pytest.fixture
def spider(small: dict[str, Any]) -> NewsSpider:
    return NewsSpider(site=str(small["site"]))


# --- The format, in process ------------------------------------------------------------------


def test_a_request_crosses_as_json_with_what_the_crawl_needs_and_nothing_else(spider: NewsSpider) -> None:
    codec = RequestCodec(spider, 65536)
    url = "http://127.0.0.1:1/jet/2022/05/01/story-1/"
    request = Request(
        url,
        callback=spider.parse,
        errback=spider._failed,
        priority=-3,
        headers={"If-None-Match": '"v1"', "User-Agent": "x", "Cookie": "a=b"},
        cookies={"session": "1"},
        meta={
            LISTING_DEPTH_KEY: 2,
            "handle_httpstatus_list": [304],
            "redirect_urls": ["http://127.0.0.1:1/jet/old/"],
            "redirect_times": 1,
            "proxy": "http://proxy:3128",
            "download_slot": "other",
        },
    )
    data = codec.encode(request)
    assert json.loads(data)["v"] == 1 and not data.startswith(b"\x80")
    back = codec.decode(data)
    assert (back.url, back.callback, back.errback, back.priority) == (url, spider.parse, spider._failed, -3)
    assert back.headers.get("If-None-Match") == b'"v1"'
    # The downloader's middlewares add their own again: nothing of the sender's reaches the wire.
    assert back.headers.get("User-Agent") is None and back.headers.get("Cookie") is None and not back.cookies
    assert back.meta == {
        LISTING_DEPTH_KEY: 2,
        "handle_httpstatus_list": [304],
        "redirect_urls": ["http://127.0.0.1:1/jet/old/"],
        "redirect_times": 1,
    }
    assert codec.encode(back) == data


def test_what_a_worker_writes_every_worker_reads_back(spider: NewsSpider) -> None:
    codec = RequestCodec(spider, 65536)
    page = "http://127.0.0.1:1/jet/2022/05/01/story-1/"
    # An overlong Referer is left out (the request goes without it), not written to be refused.
    long_referer = Request(page, callback=spider.parse, headers={"Referer": page + "?" + "x" * 5000})
    assert codec.decode(codec.encode(long_referer)).headers.get("Referer") is None
    # A request past the format's bounds is not queued at all: the scheduler says so and counts it.
    with pytest.raises(Unqueueable, match="not an http"):
        codec.encode(Request(page + "x" * 9000, callback=spider.parse))
    with pytest.raises(Unqueueable, match="meta redirect_urls"):
        codec.encode(Request(page, callback=spider.parse, meta={"redirect_urls": [page] * 60}))
    with pytest.raises(ValueError, match="request_callbacks"):
        codec.encode(Request(page, callback=spider.closed))


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (pickle.dumps(_RunsACommand("true")), "not a JSON request"),
        (b"[1, 2, 3]", "not a request of this crawl's format"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "code": "x"}', "unknown fields"),
        (b'{"v": 1, "url": "http://localhost:1/jet/"}', "off the site"),
        (b'{"v": 1, "url": "file:///etc/passwd"}', "not an http(s) URL"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "callback": "closed"}', "is not one of the spider's"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "callback": "__init__"}', "is not one of the spider's"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "meta": {"proxy": "http://evil:1"}}', "meta key 'proxy'"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "meta": {"redirect_urls": ["http://evil/"]}}', "off the site"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "meta": {"depth": "0"}}', "meta depth has the wrong shape"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "headers": {"Host": "evil"}}', "header 'Host'"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "headers": {"Referer": "a\\r\\nX: 1"}}', "one-line string"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "priority": 1e99}', "priority"),
        (b'{"v": 1, "url": "http://127.0.0.1:1/a", "headers": {"Referer": "' + b"x" * 70000 + b'"}}', "REDIS_ENTRY_MAX_BYTES"),
    ],
)
def test_an_entry_this_crawl_did_not_write_is_refused_saying_why(spider: NewsSpider, entry: bytes, why: str) -> None:
    with pytest.raises(Refused, match=why.replace("(", r"\(").replace(")", r"\)")):
        RequestCodec(spider, 65536).decode(entry)


def test_a_state_row_is_checked_field_by_field() -> None:
    good = json.dumps(["2026-12-01T10:00:00.5Z", '"e"', None, "a" * 64]).encode()
    assert check_state_row(good)[3] == "a" * 64
    for bad in (b"\x80\x04", b"{}", json.dumps(["yesterday", None, None, None]).encode(),
                json.dumps(["2026-12-01T10:00:00Z", None, None, "../../etc/passwd"]).encode(),
                json.dumps(["2026-12-01T10:00:00", None, None, None]).encode()):
        with pytest.raises(Refused):
            check_state_row(bad)


def test_a_redis_others_can_reach_without_a_password_is_warned_of() -> None:
    """The decision only: no connection is made (the addresses are never contacted)."""
    warning = exposure_warning("redis://10.20.30.40:6379/0", {})
    assert warning and "without a password" in warning and "requirepass" in warning
    assert exposure_warning("redis://:secret@10.20.30.40:6379/0", {}) is None
    assert exposure_warning("redis://crawler:secret@10.20.30.40:6379/0", {}) is None
    assert exposure_warning("redis://10.20.30.40:6379/0", {"password": "secret"}) is None
    assert exposure_warning("redis://127.0.0.1:6379/0", {}) is None
    assert exposure_warning("redis://localhost:6379/0", {}) is None
    assert exposure_warning("unix:///run/redis/redis.sock", {}) is None


# --- A stranger's entries in a real crawl -----------------------------------------------------


def test_a_strangers_entries_run_nothing_fetch_nothing_and_the_crawl_ends_with_every_article(
    small: dict[str, Any], tmp_path: Path
) -> None:
    redis_server = RedisServer(tmp_path / "redis")
    try:
        server, client = small["server"], redis_server.client()
        origin = server.url
        marker = tmp_path / "the-strangers-command-ran"
        # And one article of the crawl's own that moved: its redirect crosses the queue with Scrapy's redirect meta.
        write_index(small["root"], 13)
        write_article(small["root"], 14)
        moved = f'["{article_path(13)}"]\nstatus = 301\nlocation = "{{{{ORIGIN}}}}{article_path(14)}"\n'
        (small["root"] / "routes.toml").write_text(moved, encoding="utf-8")
        # Before the run: a state row and a politeness time that no worker wrote.
        client.hset(KEYS.state, origin + article_path(1), b"\x80\x04not a row")
        client.set(KEYS.polite("127.0.0.1"), "1e300")
        crew = workers(1, small["site"], tmp_path / "archive", redis_server, tmp_path, DOWNLOAD_DELAY="0.3")
        wait_for(lambda: client.exists(KEYS.run) and every_entry(client))
        ours = every_entry(client)
        strangers = [
            pickle.dumps(_RunsACommand(f"touch {marker}")),
            b"[1, 2, 3]",
            json.dumps({"v": 1, "url": f"http://localhost:{server.port}/jet/offsite/", "callback": "parse"}).encode(),
            json.dumps({"v": 1, "url": f"{origin}/jet/unknown-callback/", "callback": "closed"}).encode(),
            json.dumps({"v": 1, "url": f"{origin}/jet/proxied/", "meta": {"proxy": f"http://localhost:{server.port}"}}).encode(),
            json.dumps({"v": 1, "url": f"{origin}/jet/oversized/", "headers": {"Referer": "x" * 70000}}).encode(),
        ]
        # At the front of the queue: the lowest scores are taken first.
        client.zadd(KEYS.queue, {entry: -1e9 - i for i, entry in enumerate(strangers)})
        finish(crew)
    finally:
        redis_server.stop()
    worker = crew[0]

    assert not marker.exists()
    assert ours and all(json.loads(entry)["v"] == 1 for entry in ours), "the crawl's own entries are JSON, not pickles"
    refused = Counter(line.split(REFUSED, 1)[1].split()[0].rstrip(",") for line in worker.output.splitlines() if REFUSED in line)
    assert refused == {KEYS.queue: len(strangers), KEYS.state: 1, KEYS.polite("127.0.0.1"): 1}
    assert all(" WARNING: " + REFUSED in line for line in worker.output.splitlines() if REFUSED in line)
    assert worker.stat("redis/refused") == len(strangers) + 2
    assert "without a password" not in worker.output  # a Redis on loopback

    assert {r["host"] for r in server.requests()} == {f"127.0.0.1:{server.port}"}
    assert not [p for p in (r["path"] for r in server.requests()) if p.startswith(("/jet/offsite", "/jet/unknown", "/jet/proxied", "/jet/oversized"))]
    assert sorted(r["path"] for r in article_requests(server)) == sorted(article_path(n) for n in range(1, 15))
    stored = {e["url"] for e in read_manifest(tmp_path / "archive" / "manifest.jsonl")}
    assert stored == {origin + article_path(n) for n in (*range(1, 13), 14)}


def test_a_robots_entry_no_worker_wrote_is_refused_and_read_afresh(small: dict[str, Any], tmp_path: Path) -> None:
    redis_server = RedisServer(tmp_path / "redis")
    try:
        server, client = small["server"], redis_server.client()
        host = f"127.0.0.1:{server.port}"
        first = workers(1, small["site"], tmp_path / "archive", redis_server, tmp_path / "first", DOWNLOAD_DELAY="0.7", CONCURRENT_REQUESTS="1")
        wait_for(lambda: (client.hget(KEYS.robots, host) or b"").startswith(b"1"))
        client.hset(KEYS.robots, host, b"\x80\x04" + b"Disallow: /" * 10)
        second = workers(1, small["site"], tmp_path / "archive", redis_server, tmp_path / "second", DOWNLOAD_DELAY="0.7", CONCURRENT_REQUESTS="1")
        finish(first + second)
    finally:
        redis_server.stop()

    assert f"{REFUSED}{KEYS.robots} {host}, which this crawl did not write: not a robots.txt entry" in second[0].output
    assert second[0].stat("redis/refused") == 1
    assert server.requested_paths().count("/robots.txt") == 2  # the second worker read it itself
    assert len(read_manifest(tmp_path / "archive" / "manifest.jsonl")) == 12


# --- Who may talk to the Redis ----------------------------------------------------------------


def _crawls_the_site(small: dict[str, Any], redis_server: RedisServer, url: str, folder: Path, **settings: str) -> None:
    redis_server.url = url
    try:
        crew = workers(1, small["site"], folder / "archive", redis_server, folder, **settings)
        finish(crew)
    finally:
        redis_server.stop()
    assert len(read_manifest(folder / "archive" / "manifest.jsonl")) == 12
    assert "***@" in crew[0].output and "s3cret" not in crew[0].output


def test_a_password_url_crawls(small: dict[str, Any], tmp_path: Path) -> None:
    redis_server = RedisServer(tmp_path / "redis", password="s3cret")
    _crawls_the_site(small, redis_server, f"redis://:s3cret@127.0.0.1:{redis_server.port}/0", tmp_path)


def test_an_acl_user_crawls(small: dict[str, Any], tmp_path: Path) -> None:
    # The README's user: the project's keys only, no administrative or dangerous command.
    acl = ["default off", f"crawler on >s3cret ~{REDIS_KEY_PREFIX}:* &* +@all -@dangerous -@admin"]
    redis_server = RedisServer(tmp_path / "redis", acl=acl)
    _crawls_the_site(small, redis_server, f"redis://crawler:s3cret@127.0.0.1:{redis_server.port}/0", tmp_path)


def test_rediss_with_a_ca_and_a_client_certificate_crawls(small: dict[str, Any], tmp_path: Path) -> None:
    tls = TlsFiles(tmp_path / "tls")
    redis_server = RedisServer(tmp_path / "redis", password="s3cret", tls=tls)
    _crawls_the_site(small, redis_server, f"rediss://:s3cret@127.0.0.1:{redis_server.port}/0", tmp_path, **tls.settings())


def test_rediss_without_the_ca_is_refused_with_one_clear_line(small: dict[str, Any], tmp_path: Path) -> None:
    from tests.conftest import run_scrapy

    tls = TlsFiles(tmp_path / "tls")
    redis_server = RedisServer(tmp_path / "redis", tls=tls)
    try:
        result = run_scrapy(
            "crawl", "news", "-a", f"site={small['site']}",
            settings={"ARCHIVE_DIR": str(tmp_path / "archive"), "REDIS_URL": redis_server.url},
        )
    finally:
        redis_server.stop()
    assert result.returncode != 0
    assert "is unreachable" in result.stderr and "Traceback" not in result.stderr
    assert small["server"].requests() == []
