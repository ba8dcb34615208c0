"""The crawl frontier: a single-process crawl's pending requests wait on disk, and the run leaves no queue behind."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import pytest
from scrapy import FormRequest, Request, Spider
from scrapy.utils.test import get_crawler

from crawler.frontier import SpooledRequestQueue
from tests.conftest import FixtureServer, articles, crawl, stat, write_site


def get_paths(server: FixtureServer) -> list[str]:
    return sorted(r["path"] for r in server.requests() if r["method"] == "GET")


def manifest_urls(archive: Path) -> list[str]:
    import json

    lines = (archive / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted(json.loads(line)["url"] for line in lines)


def test_requests_wait_on_disk_and_the_crawl_is_the_one_a_memory_queue_makes(
    tmp_path: Path, server: FixtureServer
) -> None:
    site = write_site(tmp_path, server.url)
    result = crawl(site, tmp_path / "disk")
    on_disk = get_paths(server)
    server.clear_log()
    crawl(site, tmp_path / "memory", settings={"SCHEDULER": "scrapy.core.scheduler.Scheduler"})
    in_memory = get_paths(server)

    queued = stat(result, "scheduler/enqueued")
    assert queued > len(articles())
    assert stat(result, "scheduler/enqueued/disk") == queued
    assert stat(result, "scheduler/enqueued/memory") == 0
    assert stat(result, "scheduler/unserializable") == 0
    assert on_disk == in_memory
    assert manifest_urls(tmp_path / "disk") == manifest_urls(tmp_path / "memory")
    assert list((tmp_path / "disk" / "state" / "queue").iterdir()) == []


def test_a_killed_runs_queue_is_removed_and_a_running_crawls_is_kept(tmp_path: Path, server: FixtureServer) -> None:
    queues = tmp_path / "archive" / "state" / "queue"
    killed, running = queues / "run-killed", queues / "run-running"
    for queue in (killed, running):
        (queue / "p0").mkdir(parents=True)
        (queue / "p0" / "q00000").write_bytes(b"left over")
    # Another crawl (of another site) holds its queue's lock as long as it runs.
    fd = os.open(running, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        crawl(write_site(tmp_path, server.url, sections=("wp",)), tmp_path / "archive")
    finally:
        os.close(fd)
    assert not killed.exists()
    assert (running / "p0" / "q00000").read_bytes() == b"left over"
    assert sorted(p.name for p in queues.iterdir()) == ["run-running"]


def test_with_jobdir_scrapys_own_queue_is_kept_there(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url, sections=("wp",))
    result = crawl(site, tmp_path / "archive", settings={"JOBDIR": str(tmp_path / "job")})
    assert stat(result, "scheduler/enqueued/disk") == stat(result, "scheduler/enqueued") > 0
    # Scrapy's SpiderState gives the spider a `state` dict with JOBDIR: the site's state lives elsewhere.
    assert len(manifest_urls(tmp_path / "archive")) == len(articles("wp"))
    assert [p for p in (tmp_path / "job").rglob("*") if p.is_file()], "Scrapy's queue files are in JOBDIR"
    assert list((tmp_path / "archive" / "state" / "queue").glob("*")) == []


class _Spider(Spider):
    name = "queued"

    def parse(self, response: Any) -> None: ...

    def parse_sitemap(self, response: Any) -> None: ...

    def failed(self, failure: Any) -> None: ...


def test_the_queue_gives_requests_back_first_in_first_out_with_their_callbacks(tmp_path: Path) -> None:
    crawler = get_crawler(_Spider)
    spider = crawler.spider = _Spider()
    queue = SpooledRequestQueue.from_crawler(crawler, str(tmp_path / "q"))
    sent = [
        Request("https://example.com/a", callback=spider.parse_sitemap, errback=spider.failed, meta={"depth": 1}),
        Request("https://example.com/b", callback=spider.parse, headers={"If-None-Match": '"x"'}, priority=3),
        Request("https://example.com/c"),
        FormRequest("https://example.com/d", formdata={"q": "خبر"}, callback=spider.parse),
    ]
    for request in sent:
        queue.push(request)
    with pytest.raises(ValueError):  # not a method of the spider: Scrapy's scheduler keeps it in memory
        queue.push(Request("https://example.com/e", callback=lambda r: None))
    queue.close()

    queue = SpooledRequestQueue.from_crawler(crawler, str(tmp_path / "q"))
    got = [queue.pop() for _ in sent]
    assert queue.pop() is None
    for a, b in zip(sent, got, strict=True):
        assert b is not None
        assert type(b) is type(a)
        assert b.to_dict(spider=spider) == a.to_dict(spider=spider)
