"""WARC capture: every exchange of a crawl of the demo site, read back with warcio."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.capture.records import capture_key
from crawler.extract.document import extract_document
from crawler.sites import load_site
from crawler.store.manifest import read_manifest
from tests.conftest import SITE_ROOT, FixtureServer, crawl, run_scrapy, stat, write_site

BIN = Path(sys.executable).parent
ROUTES = tomllib.loads((SITE_ROOT / "routes.toml").read_text(encoding="utf-8"))


def routes_with(flag: str) -> list[str]:
    return [path for path, conf in ROUTES.items() if isinstance(conf, dict) and conf.get(flag)]


def read_captures(archive: Path) -> list[dict[str, Any]]:
    """Every capture file, its records in order."""
    return [c for path in sorted((archive / "warc").rglob("*.warc.gz")) for c in read_captures_of(path)]


def read_captures_of(path: Path) -> list[dict[str, Any]]:
    """One capture file, its records in order."""
    with path.open("rb") as f:
        records = [
            {"type": r.rec_type, "headers": r.rec_headers, "http": r.http_headers, "payload": r.raw_stream.read()}
            for r in ArchiveIterator(f, check_digests=True)
        ]
    return [{"path": path, "records": records}]


def responses(captures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for c in captures for r in c["records"] if r["type"] == "response"]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, demo_server: FixtureServer) -> dict[str, Any]:
    """One crawl of both demo sections; the server log of exactly that crawl."""
    tmp = tmp_path_factory.mktemp("capture")
    demo_server.clear_log()
    site = write_site(tmp, demo_server.url)
    archive = tmp / "archive"
    result = crawl(site, archive)
    return {
        "result": result,
        "archive": archive,
        "site": site,
        "log": demo_server.requests(),
        "captures": read_captures(archive),
        "server": demo_server,
    }


def test_warcio_check_passes_on_every_file(crawled: dict[str, Any]) -> None:
    files = [str(c["path"]) for c in crawled["captures"]]
    assert len(files) > 20
    result = subprocess.run([str(BIN / "warcio"), "check", "-v", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_each_file_is_one_request_response_pair_named_by_its_capture_key(crawled: dict[str, Any]) -> None:
    for capture in crawled["captures"]:
        kinds = [r["type"] for r in capture["records"]]
        assert sorted(k for k in kinds if k != "warcinfo") == ["request", "response"], capture["path"]
        response = next(r for r in capture["records"] if r["type"] == "response")
        request = next(r for r in capture["records"] if r["type"] == "request")
        uri = response["headers"].get_header("WARC-Target-URI")
        status = int(response["http"].get_statuscode())
        assert capture["path"].name == capture_key(uri, status, response["payload"]) + ".warc.gz"
        assert capture["path"].parent.name == capture["path"].name[:2]
        assert response["headers"].protocol == "WARC/1.1"
        assert request["headers"].get_header("WARC-Concurrent-To") == response["headers"].get_header("WARC-Record-ID")
        assert request["headers"].get_header("WARC-Target-URI") == uri
        assert response["headers"].get_header("WARC-IP-Address") == "127.0.0.1"


def test_one_warcinfo_first_and_every_record_points_to_it(crawled: dict[str, Any]) -> None:
    infos = [r for c in crawled["captures"] for r in c["records"] if r["type"] == "warcinfo"]
    assert len(infos) == 1
    info = infos[0]
    holder = next(c for c in crawled["captures"] if any(r["type"] == "warcinfo" for r in c["records"]))
    assert holder["records"][0]["type"] == "warcinfo"
    fields = info["payload"].decode()
    for needed in ("software: arshif/", "hostname: ", "isPartOf: fixture", "crawl-start: ", "scrapy-USER_AGENT: arshif/"):
        assert needed in fields
    info_id = info["headers"].get_header("WARC-Record-ID")
    for capture in crawled["captures"]:
        for record in capture["records"]:
            if record["type"] != "warcinfo":
                assert record["headers"].get_header("WARC-Warcinfo-ID") == info_id


def test_every_request_that_got_a_response_has_its_capture(crawled: dict[str, Any]) -> None:
    by_target: dict[tuple[str, int], list[bytes]] = {}
    for response in responses(crawled["captures"]):
        key = (response["headers"].get_header("WARC-Target-URI"), int(response["http"].get_statuscode()))
        by_target.setdefault(key, []).append(response["payload"])
    base = crawled["server"].url
    for entry in crawled["log"]:
        key = (base + entry["path"], entry["status"])
        assert key in by_target, f"no capture of {key}"
    # robots.txt, a redirect, a 404, sitemaps and feeds are all there
    statuses = {status for _, status in by_target}
    assert {200, 301, 404} <= statuses
    assert (base + "/robots.txt", 200) in by_target


def test_payloads_are_the_bytes_the_server_sent(crawled: dict[str, Any]) -> None:
    """Fetch each captured 200 again as the crawler did; same bytes on the wire (the pages are static)."""
    import urllib.request

    checked = 0
    for response in responses(crawled["captures"]):
        if response["http"].get_statuscode() != "200":
            continue
        uri = response["headers"].get_header("WARC-Target-URI")
        request = urllib.request.Request(uri, headers={"Accept-Encoding": "gzip, deflate"})
        with urllib.request.urlopen(request) as live:
            assert live.read() == response["payload"], uri
        checked += 1
    assert checked > 20


def test_gzip_responses_keep_content_encoding_and_compressed_bytes(crawled: dict[str, Any]) -> None:
    gzipped = [r for r in responses(crawled["captures"]) if r["http"].get_header("Content-Encoding") == "gzip"]
    assert gzipped, "the /wp/ section is served gzipped"
    for response in gzipped:
        assert response["payload"][:2] == b"\x1f\x8b"
        digest = response["headers"].get_header("WARC-Payload-Digest")
        algorithm, value = digest.split(":", 1)
        assert algorithm == "sha1"
        expected = hashlib.sha1(response["payload"]).digest()
        import base64

        assert base64.b32decode(value) == expected
        gzip.decompress(response["payload"])  # whole and valid


def test_chunked_responses_are_dechunked_and_say_so(crawled: dict[str, Any]) -> None:
    chunked_paths = routes_with("chunked")
    assert chunked_paths
    base = crawled["server"].url
    found = 0
    for response in responses(crawled["captures"]):
        uri = response["headers"].get_header("WARC-Target-URI")
        http = response["http"]
        assert http.get_header("Transfer-Encoding") is None, uri
        if any(uri == base + _quoted(p) for p in chunked_paths):
            found += 1
            assert http.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
            assert http.get_header("Content-Length") is None
            body = response["payload"]
            if http.get_header("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert body.lstrip().lower().startswith((b"<!doctype", b"<html")), "no chunk-size lines in the payload"
        elif http.get_statuscode() == "200":
            assert http.get_header("Content-Length") == str(len(response["payload"])), uri
    assert found == len(chunked_paths)


def test_status_line_and_repeated_headers(crawled: dict[str, Any]) -> None:
    cookie_paths = routes_with("set_cookies")
    assert cookie_paths
    base = crawled["server"].url
    for response in responses(crawled["captures"]):
        http = response["http"]
        assert http.protocol == "HTTP/1.1"
        status = http.get_statuscode()
        reason = http.statusline.split(" ", 1)[1]
        uri = response["headers"].get_header("WARC-Target-URI")
        if uri.endswith("/deleted-story/"):
            assert reason == "Story Removed"  # the server's own phrase, not a standard one
        else:
            assert reason == {"200": "OK", "301": "Moved Permanently", "404": "Not Found"}[status]
        if uri in {base + _quoted(p) for p in cookie_paths}:
            cookies = [v for k, v in http.headers if k.lower() == "set-cookie"]
            expected = ROUTES[next(p for p in cookie_paths if base + _quoted(p) == uri)]["set_cookies"]
            assert cookies == expected


def test_decoded_records_equal_the_bodies_scrapy_parsed(tmp_path: Path, server: FixtureServer) -> None:
    """A spider that records sha256(response.body) as Scrapy hands it over, against the WARC read back."""
    urls = [server.url + p for p in ("/wp/", "/syria/", "/robots.txt", "/wp/feed/", "/wp/wp-sitemap.xml")]
    urls += [server.url + _quoted(p) for p in routes_with("chunked")]
    out = tmp_path / "bodies.jsonl"
    archive = tmp_path / "archive"
    result = run_scrapy(
        "runspider",
        str(Path(__file__).parent / "body_spider.py"),
        "-a",
        "urls=" + " ".join(urls),
        "-o",
        str(out),
        settings={"ARCHIVE_DIR": str(archive), "ROBOTSTXT_OBEY": "False"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    parsed = {e["url"]: e["sha256"] for e in map(json.loads, out.read_text().splitlines())}
    assert len(parsed) == len(set(urls))
    decoded = {}
    for path in (archive / "warc").rglob("*.warc.gz"):
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    decoded[uri] = hashlib.sha256(record.content_stream().read()).hexdigest()
    for url, sha in parsed.items():
        assert decoded[url] == sha, url


def test_recrawl_of_an_unchanged_site_writes_no_new_capture(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url, sections=("wp",))
    archive = tmp_path / "archive"
    first = crawl(site, archive)
    files = {p: p.stat().st_mtime_ns for p in (archive / "warc").rglob("*.warc.gz")}
    assert files
    second = crawl(site, archive)
    assert {p: p.stat().st_mtime_ns for p in (archive / "warc").rglob("*.warc.gz")} == files
    assert "warc/captures_written" not in second.stderr
    assert "warc/captures_existing" in second.stderr and "warc/captures_written" in first.stderr
    assert not list((archive / "warc").rglob(".tmp-*"))


def test_cdxj_indexer_indexes_every_response(crawled: dict[str, Any], tmp_path: Path) -> None:
    files = [str(c["path"]) for c in crawled["captures"]]
    index = tmp_path / "index.cdxj"
    result = subprocess.run([str(BIN / "cdxj-indexer"), "-o", str(index), *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = index.read_text().splitlines()
    import json

    indexed = {(json.loads(line.split(" ", 2)[2])["url"], json.loads(line.split(" ", 2)[2]).get("status")) for line in lines}
    for response in responses(crawled["captures"]):
        key = (response["headers"].get_header("WARC-Target-URI"), response["http"].get_statuscode())
        assert key in indexed, key


def _quoted(path: str) -> str:
    from crawler.urls import canonical_url

    return canonical_url("http://x" + path)[len("http://x") :]


@pytest.mark.parametrize("fail_on_dataloss", ["True", "False"], ids=["fail_on_dataloss", "allow_dataloss"])
def test_a_response_cut_short_is_captured_as_truncated_or_not_at_all(tmp_path: Path, server: FixtureServer, fail_on_dataloss: str) -> None:
    """Off (the default here), the body is kept as sent and marked; on, Scrapy drops it and nothing is captured."""
    from tests.conftest import stat

    broken = server.url + "/broken/"
    site = write_site(tmp_path, server.url, start_urls=[broken], sitemap_urls=[], feed_urls=[], article_pattern="/broken/")
    archive = tmp_path / "archive"
    result = crawl(site, archive, settings={"DOWNLOAD_FAIL_ON_DATALOSS": fail_on_dataloss, "RETRY_TIMES": "0"})
    assert "/broken/" in server.requested_paths()
    captured = {r["headers"].get_header("WARC-Target-URI"): r for r in responses(read_captures(archive))}
    assert server.url + "/robots.txt" in captured
    assert captured[server.url + "/robots.txt"]["headers"].get_header("WARC-Truncated") is None
    if fail_on_dataloss == "True":
        assert broken not in captured
        return
    record = captured[broken]
    assert record["headers"].get_header("WARC-Truncated") == "disconnect"
    promised = int(record["http"].get_header("Content-Length"))
    assert 0 < len(record["payload"]) < promised  # what came, not what was promised
    assert stat(result, "warc/captures_truncated") == 1


def test_the_same_url_status_and_payload_twice_is_one_file(tmp_path: Path, server: FixtureServer) -> None:
    """robots.txt is fetched by the robots middleware and again as a sitemap source: one capture."""
    site = write_site(tmp_path, server.url, start_urls=[], feed_urls=[], sitemap_urls=[server.url + "/robots.txt"])
    archive = tmp_path / "archive"
    crawl(site, archive, settings={"TEXT_ENABLED": "False"})
    assert server.requested_paths().count("/robots.txt") >= 2
    robots = [r for r in responses(read_captures(archive)) if r["headers"].get_header("WARC-Target-URI").endswith("/robots.txt")]
    assert len(robots) == 1


def test_an_article_crosses_to_the_workers_once_and_its_text_is_the_one_its_capture_gives(crawled: dict[str, Any]) -> None:
    """The job that captures an article also reads it, decoding a gzipped body as Scrapy would (crawler.capture.reading)."""
    result = crawled["result"]
    captured = stat(result, "warc/captures_written") + stat(result, "warc/captures_existing")
    assert stat(result, "news/article_response") > 10
    # One job per capture: none more for reading the articles.
    assert stat(result, "workers/jobs") == captured
    archive = crawled["archive"]
    rules = load_site(str(crawled["site"])).rules
    encodings = set()
    for entry in read_manifest(archive / "manifest.jsonl"):
        [response] = responses(read_captures_of(archive / entry["warc"]))
        encoding = response["http"].get_header("Content-Encoding")
        content_type = response["http"].get_header("Content-Type") or ""
        body = gzip.decompress(response["payload"]) if encoding == "gzip" else response["payload"]
        document = extract_document(entry["url"], content_type, body, rules)
        assert (archive / entry["path"]).read_text(encoding="utf-8") == document.text, entry["url"]
        encodings.add(encoding)
    assert encodings == {None, "gzip"}
