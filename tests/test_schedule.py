"""Scheduled runs: one request per article, nothing downloaded twice, changes picked up, kills survived, one run at a time.

The site is a WordPress theme with Jetpack share buttons, reply links, AMP
and print variants and comment feeds, generated into a temporary folder
and served by the demo server (which answers conditional requests as a
static file server does: ETag, Last-Modified, 304).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.store.manifest import read_manifest
from tests.conftest import FAST, REPO, FixtureServer, crawl, run_scrapy
from tests.jetsite import article_path, write_article, write_index

ARTICLES = 12
@pytest.fixture
def jet(tmp_path: Path) -> Any:
    root = tmp_path / "site"
    for n in range(1, ARTICLES + 1):
        write_article(root, n)
    write_index(root, ARTICLES)
    server = FixtureServer(root, tmp_path / "requests.jsonl")
    site = tmp_path / "jet.toml"
    site.write_text(
        f'name = "jet"\nallowed_domains = ["127.0.0.1"]\nstart_urls = ["{server.url}/jet/"]\n'
        "article_pattern = '/jet/\\d{4}/\\d{2}/\\d{2}/[^/]+/'\n",
        encoding="utf-8",
    )
    yield {"root": root, "server": server, "site": site, "archive": tmp_path / "archive", "tmp": tmp_path}
    server.stop()


def article_requests(server: FixtureServer) -> list[dict[str, Any]]:
    return [r for r in server.requests() if r["path"].startswith("/jet/2022/")]


def slow_crawl(site: Path, archive: Path, delay: float) -> list[str]:
    """A crawl command slow enough to be caught mid-run: one request at a time, `delay` apart."""
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={site}"]
    settings = {**FAST, "ARCHIVE_DIR": str(archive), "DOWNLOAD_DELAY": str(delay), "CONCURRENT_REQUESTS_PER_DOMAIN": "1"}
    for key, value in settings.items():
        command += ["-s", f"{key}={value}"]
    return command


def reports(archive: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((archive / "runs" / "jet").glob("*.json"))]


def test_one_request_per_article_no_share_reply_amp_print_feed_login_or_search(jet: dict[str, Any]) -> None:
    result = crawl(jet["site"], jet["archive"])
    paths = [r["path"] for r in jet["server"].requests()]
    assert sorted(p for p in paths if p.startswith("/jet/2022/")) == sorted(article_path(n) for n in range(1, ARTICLES + 1))
    assert not [p for p in paths if "share=" in p or "replytocom" in p or "print" in p or "amp" in p or "feed" in p]
    assert not [p for p in paths if "login" in p or "?s=" in p]
    assert len(read_manifest(jet["archive"] / "manifest.jsonl")) == ARTICLES
    assert "Traceback" not in result.stderr


def test_an_article_met_under_a_second_url_is_not_fetched_again_under_its_canonical_one(jet: dict[str, Any]) -> None:
    (jet["root"] / "routes.toml").write_text(
        '["/jet/2022/05/01/old-slug/"]\nfile = "jet/2022/05/01/story-1/index.html"\n', encoding="utf-8"
    )
    write_index(jet["root"], ARTICLES, old_slug=True)
    crawl(jet["site"], jet["archive"])
    assert "/jet/2022/05/01/old-slug/" in [r["path"] for r in article_requests(jet["server"])]
    write_index(jet["root"], ARTICLES)
    jet["server"].clear_log()
    crawl(jet["site"], jet["archive"])
    assert article_requests(jet["server"]) == []


def test_second_run_downloads_no_article_again(jet: dict[str, Any]) -> None:
    crawl(jet["site"], jet["archive"])
    jet["server"].clear_log()
    crawl(jet["site"], jet["archive"])  # within RECRAWL_AFTER: articles are not asked at all
    assert article_requests(jet["server"]) == []
    crawl(jet["site"], jet["archive"], settings={"RECRAWL_AFTER": "0"})  # asked, conditionally
    asked = article_requests(jet["server"])
    assert len(asked) == ARTICLES
    assert all(r["status"] == 304 and r["if_none_match"] for r in asked)
    first, second, third = reports(jet["archive"])
    assert first["documents_new"] == ARTICLES and first["not_modified"] == 0
    assert second["skipped_not_new"] == ARTICLES and second["documents_new"] == 0
    assert third["not_modified"] == ARTICLES and third["documents_new"] == third["documents_updated"] == 0
    assert third["captures_written"] >= ARTICLES  # the 304s are captured like any response
    assert len(read_manifest(jet["archive"] / "manifest.jsonl")) == ARTICLES


def test_a_changed_and_a_new_article_are_picked_up(jet: dict[str, Any]) -> None:
    crawl(jet["site"], jet["archive"])
    time.sleep(1.1)  # Last-Modified has one-second resolution
    write_article(jet["root"], 3, extra=" (تحديث)")
    write_article(jet["root"], ARTICLES + 1)
    write_index(jet["root"], ARTICLES + 1)
    crawl(jet["site"], jet["archive"], settings={"RECRAWL_AFTER": "0"})
    entries = read_manifest(jet["archive"] / "manifest.jsonl")
    base = jet["server"].url
    assert len([e for e in entries if e["url"] == base + article_path(3)]) == 2
    assert len([e for e in entries if e["url"] == base + article_path(ARTICLES + 1)]) == 1
    last = reports(jet["archive"])[-1]
    assert last["documents_new"] == 1 and last["documents_updated"] == 1 and last["not_modified"] == ARTICLES - 1


def _documents(archive: Path) -> tuple[dict[str, bytes], list[tuple[str, str]]]:
    texts = {p.relative_to(archive).as_posix(): p.read_bytes() for p in (archive / "text").rglob("*.txt")}
    lines = sorted((e["url"], e["sha256"]) for e in read_manifest(archive / "manifest.jsonl"))
    return texts, lines


def test_a_crawl_killed_mid_run_completes_on_the_next_run(jet: dict[str, Any]) -> None:
    reference = jet["tmp"] / "reference"
    crawl(jet["site"], reference)
    jet["server"].clear_log()

    archive = jet["archive"]
    proc = subprocess.Popen(slow_crawl(jet["site"], archive, delay=0.4), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(article_requests(jet["server"])) < ARTICLES // 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed_texts, killed_lines = _documents(archive)
    assert 0 < len(killed_lines) < ARTICLES, "the kill did not land mid-run"

    crawl(jet["site"], archive)
    texts, lines = _documents(archive)
    assert (texts, lines) == _documents(reference)
    assert len(lines) == len(set(lines)) == ARTICLES
    for line in read_manifest(archive / "manifest.jsonl"):
        assert (archive / line["path"]).exists()
    assert not list(archive.rglob(".tmp-*")), "a temporary file of the killed run was left behind"
    for capture in (archive / "warc").rglob("*.warc.gz"):
        with capture.open("rb") as f:
            assert [r.rec_type for r in ArchiveIterator(f)]


def test_two_runs_of_one_site_at_once_the_second_stops_with_a_clear_message(jet: dict[str, Any]) -> None:
    archive = jet["archive"]
    first = subprocess.Popen(slow_crawl(jet["site"], archive, delay=0.3), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not jet["server"].requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_scrapy("crawl", "news", "-a", f"site={jet['site']}", settings={"ARCHIVE_DIR": str(archive)})
    assert second.returncode != 0
    assert "another crawl of this site is running" in second.stderr
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr[-3000:]
    entries = read_manifest(archive / "manifest.jsonl")
    assert sorted(e["url"] for e in entries) == sorted(jet["server"].url + article_path(n) for n in range(1, ARTICLES + 1))
    assert len(reports(archive)) == 1
