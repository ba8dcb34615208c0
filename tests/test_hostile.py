"""Bad input, faults and hostile pages: the crawl goes on, ends by itself, says what went wrong, loses nothing.

One crawl (a `scrapy crawl` subprocess, as users run it) of the misbehaving
site of tests/hostile_server.py, shared by the tests of this module: its
front page links to three good Arabic articles and to every bad case, its
sitemaps and feeds carry the XML attacks. Each test reads one fault in the
crawl's log, stats, run report, archive and the server's request log.
"""

from __future__ import annotations

import gzip
import json
import resource
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings
from warcio.archiveiterator import ArchiveIterator

from crawler.extract.document import NoDocument, extract_document
from crawler.store.manifest import read_manifest
from tests.conftest import _toml, run_scrapy, stat
from tests.hostile_server import (
    COOKIE_WALL,
    GOOD,
    PARAGRAPHS,
    HostileProcess,
    article_page,
    gzip_truncated_body,
    site_file_conf,
)

# Low enough that the stalling pages cost seconds, not minutes (3 attempts each, in parallel).
TIMEOUT_S = 2
# The endless calendar is followed this many listing hops deep, and no further.
LISTING_DEPTH = 5
MAXSIZE = 16 * 1024 * 1024
# The bomb inflates to 512 MiB: a crawl that inflated it whole would pass this.
PEAK_RSS_LIMIT = 400 * 1024 * 1024

# Scrapy's defaults under the project's: what the crawls here run with.
PROJECT_SETTINGS = Settings()
PROJECT_SETTINGS.setmodule("crawler.settings", priority="project")


@dataclass
class HostileCrawl:
    server: HostileProcess
    archive: Path
    result: subprocess.CompletedProcess[str]
    secret: str
    elapsed: float
    children_peak_rss: int  # bytes, the largest of every child process waited for so far

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log(self) -> str:
        return self.result.stderr

    def report(self) -> dict[str, Any]:
        reports = sorted((self.archive / "runs" / "hostile").glob("*.json"))
        assert len(reports) == 1, reports
        return json.loads(reports[0].read_text(encoding="utf-8"))

    def manifest(self) -> dict[str, dict[str, Any]]:
        return {e["url"]: e for e in read_manifest(self.archive / "manifest.jsonl")}

    def text(self, path: str) -> str:
        entry = self.manifest()[self.url + path]
        return (self.archive / entry["path"]).read_text(encoding="utf-8")

    def paths(self, *, trap: bool = False) -> list[str]:
        return [r["path"] for r in self.server.requests() if r["trap"] == trap]

    def responses(self, path: str) -> list[Any]:
        """(HTTP headers, payload bytes) of every response record captured for this URL."""
        return [(http, payload) for _, http, payload in self._response_records(path)]

    def truncated_responses(self, path: str) -> list[tuple[str | None, bytes]]:
        """(WARC-Truncated, payload bytes) of every response record captured for this URL."""
        return [(warc.get_header("WARC-Truncated"), payload) for warc, _, payload in self._response_records(path)]

    def _response_records(self, path: str) -> list[tuple[Any, Any, bytes]]:
        found = []
        for file in (self.archive / "warc").rglob("*.warc.gz"):
            with file.open("rb") as f:
                for record in ArchiveIterator(f):
                    if record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI") == self.url + path:
                        # raw_stream: the payload as it came off the wire, not un-gzipped by warcio.
                        found.append((record.rec_headers, record.http_headers, record.raw_stream.read()))
        return found


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileCrawl]:
    tmp = tmp_path_factory.mktemp("hostile")
    # A local file the XXE entities point at. The server never reads or sends it:
    # its token can reach the archive or the log only through a parser that resolved an entity.
    secret = f"SECRET-{time.time_ns()}-do-not-archive"
    secret_file = tmp / "secret.txt"
    secret_file.write_text(secret + "\n")
    server = HostileProcess(tmp / "requests.jsonl", secret_file)
    try:
        site = tmp / "hostile.toml"
        site.write_text(_toml(site_file_conf(server.url)), encoding="utf-8")
        archive = tmp / "archive"
        started = time.monotonic()
        result = run_scrapy(
            "crawl",
            "news",
            "-a",
            f"site={site}",
            settings={
                "ARCHIVE_DIR": str(archive),
                "DOWNLOAD_TIMEOUT": str(TIMEOUT_S),
                "LISTING_DEPTH_LIMIT": str(LISTING_DEPTH),
            },
            timeout=60,
        )
        elapsed = time.monotonic() - started
        # ru_maxrss is in KiB on Linux; only children that ended count, and the server has not.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        assert result.returncode == 0, result.stderr[-4000:]
        yield HostileCrawl(server, archive, result, secret, elapsed, peak)
    finally:
        server.stop()


def body_text(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs) + "\n"


# --- The crawl as a whole ---------------------------------------------------------


def test_the_crawl_ends_by_itself_and_every_good_article_is_stored(hostile: HostileCrawl) -> None:
    # Stalling pages hang for 60 s and the calendar never ends: finishing in well under that is ending by itself.
    assert hostile.elapsed < 45
    assert hostile.report()["finish_reason"] == "finished"
    assert "Run report" in hostile.log
    for path, (title, paragraphs) in GOOD.items():
        assert hostile.text(path) == body_text(paragraphs)
        assert hostile.manifest()[hostile.url + path]["title"] == title
        assert len(hostile.responses(path)) == 1, f"{path}: one capture"


def test_a_decompression_bomb_does_not_blow_up_the_crawl_memory(hostile: HostileCrawl) -> None:
    # The crawl process and its extraction workers: 512 MiB inflated would be more than this on its own.
    assert 0 < hostile.children_peak_rss < PEAK_RSS_LIMIT, hostile.children_peak_rss


# --- Pages that are no article ---------------------------------------------------------

NO_DOCUMENT = {
    "/news/empty": "empty",
    "/news/wrong-charset": "bad_charset",
    "/news/binary": "binary",
    "/news/cookie-wall": "wall",
    "/news/locked-story": "wall",
    "/news/paywall": "wall",
}


def test_a_page_nested_300000_deep_is_read_or_refused_without_a_fault(hostile: HostileCrawl) -> None:
    # libxml2 stops building the tree at a depth limit, which its versions set differently: the
    # paragraph at the bottom is either out of its reach (no body) or read. Never an error.
    url = hostile.url + "/news/deep"
    if url in hostile.manifest():
        assert hostile.text("/news/deep") == "نص في القاع\n"
    else:
        assert f"No document from {url}: " in hostile.log
        assert stat(hostile.result, "text/no_document/error") == 0
    assert len(hostile.responses("/news/deep")) == 1


@pytest.mark.parametrize(("path", "reason"), list(NO_DOCUMENT.items()))
def test_a_page_that_is_no_article_gives_no_document_under_its_reason(hostile: HostileCrawl, path: str, reason: str) -> None:
    url = hostile.url + path
    assert f"No document from {url}: " in hostile.log
    expected = sum(1 for r in NO_DOCUMENT.values() if r == reason)
    assert stat(hostile.result, f"text/no_document/{reason}") == expected
    assert hostile.report()["failures"]["no_document"][reason] == expected
    assert url not in hostile.manifest()
    # Still archived as it came: the capture is the evidence of what the site answered.
    assert len(hostile.responses(path)) == 1


def test_the_wall_detail_names_the_kind_of_wall(hostile: HostileCrawl) -> None:
    assert f"No document from {hostile.url}/news/cookie-wall: a consent prompt" in hostile.log
    assert f"No document from {hostile.url}/news/locked-story: a login prompt" in hostile.log
    assert f"No document from {hostile.url}/news/paywall: a paywall prompt" in hostile.log


def test_malformed_and_truncated_html_still_give_their_text(hostile: HostileCrawl) -> None:
    # Not faults for a parser that reads HTML as browsers do: the article is there, and kept, every
    # word in order and nothing else. (Where misnested tags end a paragraph is the parser's recovery.)
    for path, mark in (("/news/malformed", "(مكسور)"), ("/news/truncated-html", "(مبتور)")):
        text = hostile.text(path)
        assert text.split() == body_text([f"{p} {mark}" for p in PARAGRAPHS]).split(), path
        assert text.endswith("\n") and not text.startswith("\n"), path


def test_a_wall_rule_keeps_real_articles_that_mention_cookies_logins_or_subscriptions() -> None:
    """Conservative: a cookie banner beside an article, or an article about subscribing, is an article."""
    ct = "text/html; charset=utf-8"
    banner = '<div class="cookie-banner">نستخدم ملفات تعريف الارتباط. <button>قبول الكل</button></div>'
    with_banner = article_page("خبر", PARAGRAPHS[:2]).replace("<footer>", banner + "<footer>")
    # "اشترك" also means "took part": a short report of who took part is news, not a paywall.
    took_part = article_page("خبر قصير", ["اشترك آلاف المزارعين في الوقفة الاحتجاجية أمام مبنى المحافظة صباح اليوم للمطالبة بتعويضات عن خسائر الجفاف."])
    about_login = article_page("خبر", [*PARAGRAPHS[:2], "وطالبت الوزارة المواطنين بعدم مشاركة كلمة المرور الخاصة بحساباتهم على منصة الدعم."])
    # A short report about a refusal is news, not the site refusing the crawler.
    about_denied = article_page("خبر قصير", ["قال صحفيون إن الوصول مرفوض إلى المعبر الحدودي منذ الصباح، وإن عشرات الشاحنات تنتظر دورها للعبور."])
    for page in (with_banner, took_part, about_login, about_denied):
        result = extract_document("http://127.0.0.1/news/x", ct, page.encode())
        assert not isinstance(result, NoDocument), result
    assert extract_document("http://127.0.0.1/news/x", ct, COOKIE_WALL.encode()) == NoDocument(
        "wall", "a consent prompt instead of the article"
    )
    bot_check = '<html><head><title>Just a moment...</title></head><body><h1>Checking your browser before accessing the site.</h1><p>Please complete the captcha to continue.</p></body></html>'
    assert extract_document("http://127.0.0.1/news/x", ct, bot_check.encode()).reason == "blocked"


# --- Downloads that fail ------------------------------------------------------------------

FETCH_FAILED = {
    "/news/bomb": "too_large",
    "/sitemap-huge.xml": "too_large",
    "/news/reset": "data_loss",
    "/news/stall-headers": "timeout",
    "/news/stall-body": "timeout",
    "/news/loop-a": "redirect_loop",
    "/news/loop-endless": "redirect_loop",
    "/news/offsite-redirect": "offsite_redirect",
}


@pytest.mark.parametrize(("path", "reason"), list(FETCH_FAILED.items()))
def test_a_failed_download_is_logged_with_its_url_and_reason_and_counted(hostile: HostileCrawl, path: str, reason: str) -> None:
    # The endless loop is reported at the hop where the redirect limit stopped it.
    url = hostile.url + path
    lines = [line for line in hostile.log.splitlines() if f"Fetch failed ({reason}): {url}" in line]
    assert lines, f"no 'Fetch failed ({reason})' line for {url}"
    expected = sum(1 for r in FETCH_FAILED.values() if r == reason)
    assert stat(hostile.result, f"news/fetch_failed/{reason}") == expected


def test_the_run_report_counts_network_faults_as_download_errors(hostile: HostileCrawl) -> None:
    errors = hostile.report()["failures"]["download_error"]
    # Counted by exception type (Scrapy's class names, which Scrapy may rename): each attempt at the
    # stalling pages, the first try and the retries, and the sitemap bigger than DOWNLOAD_MAXSIZE on the
    # wire (cancelled): two kinds of fault. (On a loaded machine another page may time out too.) A body
    # cut in transfer (/news/reset) is a response, captured as truncated: a fetch failure, not an error.
    attempts = sum(hostile.paths().count(p) for p in ("/news/stall-headers", "/news/stall-body"))
    assert sum(errors.values()) >= attempts + 1
    assert len(errors) >= 2
    assert hostile.report()["failures"]["fetch_failed"]["data_loss"] == 1


def test_the_run_report_lists_every_fetch_failure_by_reason(hostile: HostileCrawl) -> None:
    failures = hostile.report()["failures"]
    listed = {reason for kind in failures.values() for reason in kind}
    assert {"too_large", "redirect_loop", "offsite_redirect"} <= listed


def test_retries_are_bounded_and_a_cut_body_is_never_stored(hostile: HostileCrawl) -> None:
    for path in ("/news/reset", "/news/stall-headers", "/news/stall-body"):
        assert 1 <= hostile.paths().count(path) <= PROJECT_SETTINGS.getint("RETRY_TIMES") + 1, path
        assert hostile.url + path not in hostile.manifest()
    for path in ("/news/stall-headers", "/news/stall-body"):
        assert hostile.responses(path) == []
    # What came of each attempt at the cut body is kept as sent, marked as cut: 10 KB of the 100 promised.
    cut = hostile.truncated_responses("/news/reset")
    assert cut and all(marked == "disconnect" and len(payload) < 100_000 for marked, payload in cut)


# --- Compressed bodies -------------------------------------------------------------------


def test_a_truncated_gzip_body_is_captured_as_sent_and_gives_no_document(hostile: HostileCrawl) -> None:
    [(headers, payload)] = hostile.responses("/news/gzip-truncated")
    assert headers.get_header("Content-Encoding") == "gzip"
    assert payload == gzip_truncated_body()
    # Scrapy's gunzip keeps what inflates: the first part of the article, which is not the article.
    assert hostile.url + "/news/gzip-truncated" not in hostile.manifest()
    assert f"No document from {hostile.url}/news/gzip-truncated: the body was cut short in transfer" in hostile.log
    # This one, and the last cut body of /news/reset.
    assert stat(hostile.result, "text/no_document/truncated") == 2


def test_a_decompression_bomb_is_captured_compressed_and_gives_no_document(hostile: HostileCrawl) -> None:
    [(headers, payload)] = hostile.responses("/news/bomb")
    assert headers.get_header("Content-Encoding") == "gzip"
    assert len(payload) < 1024 * 1024
    # The capture is the bomb itself: it inflates past DOWNLOAD_MAXSIZE (checked without inflating it all).
    inflater = zlib.decompressobj(31)
    inflated, data = 0, payload
    while data and inflated <= MAXSIZE:
        inflated += len(inflater.decompress(data, 1024 * 1024))
        data = inflater.unconsumed_tail
    assert inflated > MAXSIZE
    assert hostile.url + "/news/bomb" not in hostile.manifest()
    assert f"Fetch failed (too_large): {hostile.url}/news/bomb: " in hostile.log
    # The gzipped sitemap that inflates past the cap: read no further, said so.
    assert f"Not a sitemap, ignored: {hostile.url}/sitemap-bomb.xml.gz: inflates past DOWNLOAD_MAXSIZE" in hostile.log


# --- Redirects, loops and endless listings --------------------------------------------------------


def test_redirects_to_another_domain_are_not_followed(hostile: HostileCrawl) -> None:
    # localhost is this very server under a name allowed_domains (127.0.0.1) does not hold.
    hosts = {r["host"] for r in hostile.server.requests() if not r["trap"]}
    assert hosts == {f"127.0.0.1:{hostile.server.port}"}
    assert "redirects off the site to http://localhost:" in hostile.log


def test_redirect_loops_end(hostile: HostileCrawl) -> None:
    paths = hostile.paths()
    assert paths.count("/news/loop-a") == 1 and paths.count("/news/loop-b") == 1
    # REDIRECT_MAX_TIMES hops after the first request, then given up.
    hops = PROJECT_SETTINGS.getint("REDIRECT_MAX_TIMES")
    assert len([p for p in paths if p.startswith("/news/loop-endless")]) == hops + 1
    assert "redirect loop: " in hostile.log


def test_a_sitemap_index_that_lists_itself_is_read_once(hostile: HostileCrawl) -> None:
    paths = hostile.paths()
    assert paths.count("/sitemap-index.xml") == 1
    assert paths.count("/sitemap-news.xml") == 1
    for path in GOOD:  # listed by the front page, the sitemap and a feed: fetched once
        assert paths.count(path) == 1


def test_an_endless_calendar_is_followed_to_the_listing_depth_limit_only(hostile: HostileCrawl) -> None:
    calendar = [p for p in hostile.paths() if p.startswith("/calendar")]
    assert sorted(calendar) == sorted(f"/calendar?page={n}" for n in range(1, LISTING_DEPTH + 1))
    assert f"Listing depth limit (LISTING_DEPTH_LIMIT = {LISTING_DEPTH}) reached on site hostile" in hostile.log
    assert f"{hostile.url}/calendar?page={LISTING_DEPTH + 1}" in hostile.log
    assert stat(hostile.result, "news/listing_depth_skipped") >= 1


# --- Sitemaps and feeds as attacks ------------------------------------------------------------


def test_no_external_entity_or_dtd_is_fetched(hostile: HostileCrawl) -> None:
    # The trap listens on another port: an XXE entity or external DTD resolved over the network would land here.
    assert hostile.paths(trap=True) == []
    assert not [p for p in hostile.paths() if "xxe-entity" in p or p.endswith(".dtd")]


def test_no_entity_is_expanded(hostile: HostileCrawl) -> None:
    # "&lol9;" would be a billion "lol"s, "&secret;" the local file's text. What a recovering
    # parser keeps of an entry holding one differs between libxml2 versions (none of it, or the
    # URL up to where the entity stood): either is safe, anything more is not.
    paths = hostile.paths()
    assert {"/sitemap-laughs.xml", "/feed-laughs.rss", "/sitemap-xxe.xml", "/feed-xxe.rss"} <= set(paths)
    assert not [p for p in paths if "lol" in p]
    bare = {"/news/laughs-", "/news/feed-laughs-", "/news/xxe-", "/news/feed-xxe-"}
    assert {p for p in paths if p.startswith(("/news/laughs", "/news/feed-laughs", "/news/xxe", "/news/feed-xxe"))} <= bare


def test_the_sitemap_and_feed_parsers_expand_and_resolve_nothing(tmp_path: Path) -> None:
    """The parsers the spider uses, on the same documents, in process: what they give back is tiny and bare."""
    from lxml import etree
    from scrapy.utils.sitemap import Sitemap

    from spiders.news import _FEED_PARSER
    from tests.hostile_server import _LAUGHS_DTD

    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN-in-a-local-file")
    entities = f'<!DOCTYPE {{root}} [<!ENTITY secret SYSTEM "file://{secret}">]>'
    laughs_feed = _LAUGHS_DTD.format(root="rss") + "<rss><channel><item><link>http://h/news/a-&lol9;</link></item></channel></rss>"
    xxe_feed = entities.format(root="rss") + "<rss><channel><item><link>http://h/news/b-&secret;</link></item></channel></rss>"
    for feed in (laughs_feed, xxe_feed):
        root = etree.fromstring(feed.encode(), _FEED_PARSER)
        dumped = etree.tostring(root)
        assert len(dumped) < 200 and b"lol" not in dumped and b"TOKEN" not in dumped, dumped
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    laughs_map = _LAUGHS_DTD.format(root="urlset") + f"<urlset {ns}><url><loc>http://h/news/a-&lol9;</loc></url></urlset>"
    xxe_map = entities.format(root="urlset") + f"<urlset {ns}><url><loc>http://h/news/b-&secret;</loc></url></urlset>"
    # A recovering parser may keep an entry up to where its entity stood, or drop it (libxml2
    # versions differ): nothing of the entity, nor of the file it names, is ever in it.
    for sitemap, bare in ((laughs_map, "http://h/news/a-"), (xxe_map, "http://h/news/b-")):
        entries = list(Sitemap(sitemap.encode()))
        assert all(entry == {"loc": bare} for entry in entries), entries


def test_the_secret_of_a_local_file_entity_is_nowhere(hostile: HostileCrawl) -> None:
    token = hostile.secret.encode()
    assert hostile.secret not in hostile.log and hostile.secret not in hostile.result.stdout
    assert not [r for r in hostile.server.requests() if hostile.secret in json.dumps(r)]
    files = [f for f in hostile.archive.rglob("*") if f.is_file()]
    assert any(f.suffix == ".gz" for f in files) and any(f.suffix == ".sqlite" for f in files)
    for file in files:
        data = file.read_bytes()
        assert token not in data, file
        if file.name.endswith(".gz"):
            # Every record of a capture file, inflated. (A payload the server gzipped stays gzipped
            # in there; the server never sends the token, so a payload cannot hold it either.)
            inflated = gzip.decompress(data)
            assert token not in inflated, file


def test_sitemaps_and_feeds_that_are_not_xml_are_reported_and_skipped(hostile: HostileCrawl) -> None:
    assert f"Not a sitemap, ignored: {hostile.url}/sitemap-garbage.xml" in hostile.log
    assert f"Not an RSS or Atom feed, ignored: {hostile.url}/feed-garbage.rss" in hostile.log
    # The garbage one and the gzip bomb; and the merely malformed one too, where the installed
    # libxml2's recovery makes no root of it (recovery differs between versions).
    assert 2 <= stat(hostile.result, "news/sitemap_invalid") <= 3
    assert 1 <= stat(hostile.result, "news/feed_invalid") <= 2
    # Broken, not crashed: no callback raised.
    assert "Traceback (most recent call last)" not in hostile.log
    assert stat(hostile.result, "spider_exceptions/count") == 0
