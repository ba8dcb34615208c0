"""One crawl, several worker processes, one real redis-server: each URL once, nothing lost, the same archive.

Every test starts redis-server (Debian's package) on 127.0.0.1 and runs
`scrapy crawl` worker processes against a generated site served by the
demo server, whose request log says what was fetched and when. The
archive they write together is compared with that of one process alone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from crawler.scaleout.link import Keys
from crawler.scaleout.queue import queue_status
from crawler.settings import REDIS_KEY_PREFIX
from crawler.store.manifest import read_manifest
from tests.conftest import FAST, REPO, FixtureServer, counter, crawl, run_scrapy
from tests.jetsite import article_path, write_article, write_index, write_paged_index
from tests.servers import RedisServer

ARTICLES = 240
PER_PAGE = 20
# Fast to notice a killed worker and to end a run: the defaults (30 s, 5 s) are for real crawls.
SHARED = {"REDIS_LEASE_TIMEOUT": "2", "REDIS_IDLE_CLOSE": "2", "REDIS_TICK_INTERVAL": "0.2"}


def _site(root: Path, server: FixtureServer, folder: Path) -> Path:
    site = folder / "jet.toml"
    site.write_text(
        f'name = "jet"\nallowed_domains = ["127.0.0.1"]\nstart_urls = ["{server.url}/jet/"]\n'
        "article_pattern = '/jet/2022/05/\\d+/story-\\d+/'\nfollow_pattern = '/jet/page/\\d+/'\n",
        encoding="utf-8",
    )
    return site


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A site of ARTICLES articles on paged listings, and the archive one process alone makes of it."""
    folder = tmp_path_factory.mktemp("big")
    root = folder / "site"
    for n in range(1, ARTICLES + 1):
        write_article(root, n)
    write_paged_index(root, ARTICLES, PER_PAGE)
    server = FixtureServer(root, folder / "requests.jsonl")
    site = _site(root, server, folder)
    reference = folder / "reference"
    crawl(site, reference)
    yield {"server": server, "site": site, "reference": reference}
    server.stop()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Twelve articles on one listing."""
    root = tmp_path / "site"
    for n in range(1, 13):
        write_article(root, n)
    write_index(root, 12)
    server = FixtureServer(root, tmp_path / "requests.jsonl")
    yield {"server": server, "site": _site(root, server, tmp_path), "root": root}
    server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


class Worker:
    """`scrapy crawl news` as one worker of a shared crawl, in its own process group."""

    def __init__(self, site: Path, archive: Path, redis_url: str, log: Path, **settings: str) -> None:
        command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={site}"]
        merged = {**FAST, **SHARED, "ARCHIVE_DIR": str(archive), "REDIS_URL": redis_url, **settings}
        for key, value in merged.items():
            command += ["-s", f"{key}={value}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait(self, timeout: float = 240) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def freeze(self) -> None:
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.proc.pid, signal.SIGCONT)

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def stat(self, key: str) -> int:
        return counter(self.output, key)


def workers(n: int, site: Path, archive: Path, redis: RedisServer, folder: Path, **settings: str) -> list[Worker]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Worker(site, archive, redis.url, folder / f"worker-{i}.log", **settings) for i in range(n)]


def holding_leases(crew: list[Worker], redis: RedisServer) -> Worker | None:
    """A worker that holds leased requests right now, as `scrapy queue` would show it (worker names carry the pid)."""
    status = queue_status(redis.client(), Keys.for_site(Settings({"REDIS_KEY_PREFIX": REDIS_KEY_PREFIX}), "jet"))
    pids = {int(name.split(":")[1]) for name, (_, held) in status.workers.items() if held}
    return next((w for w in crew if w.proc.pid in pids), None)


def finish(crew: list[Worker]) -> None:
    for worker in crew:
        code = worker.wait()
        assert code == 0, worker.output[-4000:]
        assert "Traceback" not in worker.output, worker.output[-4000:]


def documents(archive: Path) -> tuple[dict[str, bytes], list[str]]:
    """The text tree, and the manifest lines without what differs between two fetches of one page."""
    texts = {p.relative_to(archive).as_posix(): p.read_bytes() for p in (archive / "text").rglob("*.txt")}
    lines = sorted(
        json.dumps({k: v for k, v in e.items() if k not in ("fetched_at", "warc_record_id")}, sort_keys=True)
        for e in read_manifest(archive / "manifest.jsonl")
    )
    return texts, lines


def article_requests(server: FixtureServer) -> list[dict[str, Any]]:
    return [r for r in server.requests() if r["path"].startswith("/jet/2022/")]


def test_three_workers_fetch_each_url_once_share_the_work_and_write_the_single_process_archive(
    big: dict[str, Any], redis_server: RedisServer, tmp_path: Path
) -> None:
    big["server"].clear_log()
    archive = tmp_path / "archive"
    crew = workers(3, big["site"], archive, redis_server, tmp_path, CONCURRENT_REQUESTS="4")
    finish(crew)

    paths = Counter(r["path"] for r in big["server"].requests())
    assert {p: n for p, n in paths.items() if n > 1} == {}  # robots.txt included: read once, shared
    assert "/robots.txt" in paths
    assert sorted(p for p in paths if p.startswith("/jet/2022/")) == sorted(article_path(n) for n in range(1, ARTICLES + 1))
    assert sum("this worker seeds the shared queue" in w.output for w in crew) == 1

    shares = [w.stat("item_scraped_count") for w in crew]
    assert sum(shares) == ARTICLES
    assert min(shares) >= ARTICLES // 8, f"articles per worker: {shares}"

    assert documents(archive) == documents(big["reference"])
    assert len(read_manifest(archive / "manifest.jsonl")) == ARTICLES


def test_a_worker_killed_mid_crawl_loses_no_request(big: dict[str, Any], redis_server: RedisServer, tmp_path: Path) -> None:
    big["server"].clear_log()
    archive = tmp_path / "archive"
    # Slow enough (one request per 20 ms across the crawl) to kill a worker with requests in hand.
    crew = workers(3, big["site"], archive, redis_server, tmp_path, DOWNLOAD_DELAY="0.02")
    deadline = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < deadline:
        time.sleep(0.05)
        if len(article_requests(big["server"])) < ARTICLES // 4:
            continue
        victim = holding_leases(crew, redis_server)
        if victim is None:
            continue
        # Frozen, it cannot give its requests back between the look and the kill.
        victim.freeze()
        if holding_leases([victim], redis_server) is None:
            victim.thaw()
            victim = None
    assert victim is not None and victim.proc.poll() is None, "no worker held requests mid-crawl"
    survivors = [w for w in crew if w is not victim]
    victim.kill()
    finish(survivors)

    assert any("back in the queue" in w.output for w in survivors), "the killed worker held no lease"
    assert sum(w.stat("redis/requeued_from_stopped_workers") for w in survivors) > 0
    assert documents(archive) == documents(big["reference"])
    assert len(read_manifest(archive / "manifest.jsonl")) == ARTICLES


def test_workers_share_one_politeness_delay_per_site(small: dict[str, Any], redis_server: RedisServer, tmp_path: Path) -> None:
    delay = 0.25
    crew = workers(3, small["site"], tmp_path / "archive", redis_server, tmp_path, DOWNLOAD_DELAY=str(delay))
    finish(crew)
    times = sorted(r["time"] for r in small["server"].requests())
    assert len(times) >= 14  # robots.txt, the listing, twelve articles
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Three workers each keeping the delay alone would send up to three requests at once.
    assert min(gaps) >= delay * 0.8, f"gaps between requests: {[round(g, 3) for g in gaps]}"


def test_redis_unreachable_at_start_is_one_clear_error_and_no_request(small: dict[str, Any], tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"redis://127.0.0.1:{port}/0"
    result = run_scrapy(
        "crawl", "news", "-a", f"site={small['site']}", settings={"ARCHIVE_DIR": str(tmp_path / "archive"), "REDIS_URL": url}
    )
    assert result.returncode != 0
    assert f"Redis at {url} is unreachable" in result.stderr
    assert "Traceback" not in result.stderr
    assert small["server"].requests() == []


def test_redis_lost_mid_crawl_stops_the_worker_cleanly_and_a_restart_continues(big: dict[str, Any], tmp_path: Path) -> None:
    big["server"].clear_log()
    redis_server = RedisServer(tmp_path / "redis", appendonly=True)
    archive = tmp_path / "archive"
    try:
        (worker,) = workers(1, big["site"], archive, redis_server, tmp_path, DOWNLOAD_DELAY="0.02")
        deadline = time.monotonic() + 120
        while len(article_requests(big["server"])) < ARTICLES // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        redis_server.kill()
        assert worker.wait(timeout=120) == 1
        assert f"Redis at {redis_server.url} was lost" in worker.output
        assert "Traceback" not in worker.output, worker.output[-4000:]
        stored = read_manifest(archive / "manifest.jsonl")
        assert 0 < len(stored) < ARTICLES, "Redis was not lost mid-crawl"
        for line in stored:
            assert (archive / line["path"]).exists() and (archive / line["warc"]).exists()

        redis_server.start()
        (again,) = workers(1, big["site"], archive, redis_server, tmp_path / "again", DOWNLOAD_DELAY="0")
        finish([again])
        assert "seeds the shared queue" not in again.output  # the run goes on where it was
        assert documents(archive) == documents(big["reference"])
    finally:
        redis_server.stop()


def test_the_state_lives_in_redis_and_comes_back_from_the_archive(small: dict[str, Any], redis_server: RedisServer, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    finish(workers(2, small["site"], archive, redis_server, tmp_path))
    assert len(article_requests(small["server"])) == 12

    small["server"].clear_log()
    finish(workers(2, small["site"], archive, redis_server, tmp_path / "second"))
    assert article_requests(small["server"]) == [], "the second run asked for stored articles again"

    redis_server.client().flushall()  # a Redis that lost its data
    crew = workers(1, small["site"], archive, redis_server, tmp_path / "third")
    finish(crew)
    assert "restored from the archive: 12 URLs" in crew[0].output
    assert article_requests(small["server"]) == []
    assert len(read_manifest(archive / "manifest.jsonl")) == 12


def test_queue_command_shows_pending_seen_leased_and_workers(small: dict[str, Any], redis_server: RedisServer, tmp_path: Path) -> None:
    (worker,) = workers(1, small["site"], tmp_path / "archive", redis_server, tmp_path, DOWNLOAD_DELAY="0.3")
    deadline = time.monotonic() + 60
    while len(article_requests(small["server"])) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    during = run_scrapy("queue", str(small["site"]), settings={"REDIS_URL": redis_server.url})
    assert during.returncode == 0, during.stderr
    assert "run:      under way" in during.stdout
    assert "workers alive: 1" in during.stdout
    leased = int(re.search(r"leased:\s+(\d+)", during.stdout).group(1))
    pending = int(re.search(r"pending:\s+(\d+)", during.stdout).group(1))
    assert leased >= 1 and leased + pending <= 12
    finish([worker])

    after = run_scrapy("queue", str(small["site"]), settings={"REDIS_URL": redis_server.url})
    assert "run:      none" in after.stdout
    assert re.search(r"pending:\s+0\n", after.stdout) and re.search(r"leased:\s+0\n", after.stdout)
    assert "workers alive: 0" in after.stdout
    assert int(re.search(r"seen:\s+(\d+)", after.stdout).group(1)) == 13  # the listing and twelve articles


def test_without_redis_url_nothing_imports_redis(small: dict[str, Any], tmp_path: Path) -> None:
    script = f"""
import sys
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings
settings = get_project_settings()
settings.setdict({{**{FAST!r}, "ARCHIVE_DIR": {str(tmp_path / "archive")!r}}}, priority="cmdline")
process = CrawlerProcess(settings)
process.crawl("news", site={str(small["site"])!r})
process.start()
print(sorted(m for m in sys.modules if m.split(".")[0] in ("redis", "scrapy_redis", "crawler")
             and (m.startswith(("redis", "scrapy_redis")) or m.startswith("crawler.scaleout."))))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert len(article_requests(small["server"])) == 12
