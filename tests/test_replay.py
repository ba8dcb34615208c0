"""Replay in pywb: `python -m crawler.replay ARCHIVE_DIR` serves a crawl of the demo site back, article by article.

pywb runs for real (its `wayback`, from its own venv) on a free port on
127.0.0.1, over the archive's CDXJ indexes; the articles are fetched with
urllib through pywb's replay URLs: the original bytes (`id_`), the framed
page and the rewritten page inside the frame (`mp_`).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_timestamp

from crawler.replay import find_wayback
from tests.conftest import REPO, FixtureServer, crawl, write_site


class Replay:
    """`python -m crawler.replay ARCHIVE --port 0` as a subprocess; it prints the collection's URL once pywb answers."""

    def __init__(self, archive: Path) -> None:
        wayback = find_wayback()
        assert wayback, "pywb is not installed: bash scripts/venv.sh .venv-pywb requirements/pywb.txt"
        log = archive.parent / f"{archive.name}-replay.log"
        with log.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "crawler.replay", str(archive), "--port", "0"],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not re.fullmatch(r"http://127\.0\.0\.1:\d+/archive/", self.url):
            self.stop()
            raise AssertionError(f"replay did not start: {self.url!r}\n{log.read_text()[-3000:]}")
        self.port = int(self.url.split(":")[2].split("/")[0])

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return response.status, dict(response.headers), response.read()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def articles(archive: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (archive / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def payload(archive: Path, article: dict[str, Any]) -> bytes:
    """The page as the crawl received it (content coding undone), from its WARC capture."""
    with (archive / article["warc"]).open("rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response":
                return record.content_stream().read()
    raise AssertionError(f"no response in {article['warc']}")


def visible_text(page: bytes) -> str:
    declared = re.search(rb"charset=[\"']?([\w-]+)", page)
    text = page.decode(declared.group(1).decode() if declared else "utf-8")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def paragraphs(archive: Path, article: dict[str, Any]) -> list[str]:
    text = (archive / article["path"]).read_text(encoding="utf-8")
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, demo_server: FixtureServer) -> Path:
    tmp = tmp_path_factory.mktemp("replay")
    archive = tmp / "archive"
    crawl(write_site(tmp, demo_server.url), archive)
    # The crawl keeps the index that pywb reads.
    assert (archive / "index" / "fixture.cdxj").is_file()
    return archive


@pytest.fixture(scope="module")
def replay(crawled: Path) -> Iterator[Replay]:
    server = Replay(crawled)
    yield server
    server.stop()


def test_every_article_comes_back_as_it_was_captured(crawled: Path, replay: Replay) -> None:
    docs = articles(crawled)
    assert len(docs) >= 10
    for doc in docs:
        status, headers, body = replay.get(f"{iso_date_to_timestamp(doc['fetched_at'])}id_/{doc['url']}")
        assert status == 200
        assert headers["Memento-Datetime"]
        assert body == payload(crawled, doc), doc["url"]
        page = visible_text(body)
        assert doc["title"] in page
        assert all(p in page for p in paragraphs(crawled, doc)), doc["url"]


def test_framed_and_rewritten_replay_show_the_article(crawled: Path, replay: Replay) -> None:
    for doc in articles(crawled)[:3] + [d for d in articles(crawled) if "/wp/" in d["url"]][:2]:
        timestamp = iso_date_to_timestamp(doc["fetched_at"])
        # The framed page: pywb's banner around an iframe that loads the rewritten page.
        status, _, frame = replay.get(f"{timestamp}/{doc['url']}")
        assert status == 200
        assert b"wb_frame.js" in frame and timestamp.encode() in frame
        status, _, inner = replay.get(f"{timestamp}mp_/{doc['url']}")
        assert status == 200
        assert b"wombat.js" in inner
        page = visible_text(inner)
        assert all(p in page for p in paragraphs(crawled, doc)), doc["url"]


def test_the_index_finds_every_capture_of_a_url(crawled: Path, replay: Replay) -> None:
    doc = articles(crawled)[0]
    status, _, body = replay.get(f"cdx?url={urllib.request.quote(doc['url'], safe='')}&output=json")
    assert status == 200
    found = [json.loads(line) for line in body.decode().splitlines()]
    assert [(f["url"], f["filename"]) for f in found] == [(doc["url"], doc["warc"])]


def test_an_archive_without_an_index_is_indexed_then_replayed(crawled: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(crawled, archive)
    shutil.rmtree(archive / "index")
    server = Replay(archive)
    try:
        doc = articles(archive)[0]
        status, _, body = server.get(f"{iso_date_to_timestamp(doc['fetched_at'])}id_/{doc['url']}")
        assert status == 200 and body == payload(archive, doc)
        assert (archive / "index" / "fixture.cdxj").is_file()
    finally:
        code = server.stop()
    # Stopped, pywb stops with it: nothing listens on the port any more.
    assert code == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
