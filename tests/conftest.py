"""Shared fixtures: the offline demo site served over real HTTP, and the commands run as users run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ServerProcess

REPO = Path(__file__).resolve().parent.parent
DEMOSITE = REPO / "crawler" / "demosite"
SITE_ROOT = DEMOSITE / "site"
ARTICLES = tomllib.loads((DEMOSITE / "articles.toml").read_text(encoding="utf-8"))

# Politeness delays off: the fixture server is ours and on loopback.
FAST = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "ARCHIVE_FSYNC": "False",
    "TEXT_WORKERS": "2",
    "LOG_LEVEL": "INFO",
}


class FixtureServer(ServerProcess):
    """The demo site (or another root of pages) as a subprocess on 127.0.0.1; its request log is the witness."""

    def __init__(self, root: Path, log: Path) -> None:
        super().__init__("crawler.demosite", ["--port", "0", "--root", str(root), "--log", str(log)], log)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureServer]:
    server = FixtureServer(SITE_ROOT, tmp_path_factory.mktemp("server") / "requests.jsonl")
    yield server
    server.stop()


@pytest.fixture
def server(demo_server: FixtureServer) -> FixtureServer:
    demo_server.clear_log()
    return demo_server


@pytest.fixture
def editable_server(tmp_path: Path) -> Iterator[FixtureServer]:
    """A server over a private copy of the site, for tests that change pages between crawls."""
    root = tmp_path / "site"
    shutil.copytree(SITE_ROOT, root)
    server = FixtureServer(root, tmp_path / "requests.jsonl")
    yield server
    server.stop()


def section(name: str) -> dict[str, Any]:
    return ARTICLES["section"][name]


def articles(section_name: str | None = None) -> list[dict[str, Any]]:
    return [a for a in ARTICLES["article"] if section_name in (None, a["section"])]


def write_site(directory: Path, base_url: str, sections: tuple[str, ...] = ("syria", "wp"), **overrides: Any) -> Path:
    """A site file for the fixture sections on this server; overrides replace keys (None removes one)."""
    conf: dict[str, Any] = {
        "name": "fixture",
        "allowed_domains": ["127.0.0.1"],
        "start_urls": [base_url + p for s in sections for p in section(s)["start_urls"]],
        "sitemap_urls": [base_url + p for s in sections for p in section(s)["sitemap_urls"]],
        "feed_urls": [base_url + p for s in sections for p in section(s)["feed_urls"]],
        "article_pattern": "|".join(f"({section(s)['article_pattern']})" for s in sections),
        "follow_pattern": "|".join(f"({section(s)['follow_pattern']})" for s in sections),
        "boilerplate": [b for s in sections for b in section(s).get("boilerplate", [])],
    }
    conf.update(overrides)
    path = directory / f"{conf['name']}.toml"
    path.write_text(_toml(conf), encoding="utf-8")
    return path


def _toml(conf: dict[str, Any]) -> str:
    lines = []
    for key, value in conf.items():
        if value is None:
            continue
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def run_scrapy(*args: str, settings: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """A scrapy command run as a user runs it, from the project root."""
    command = [sys.executable, "-m", "scrapy", *args]
    for key, value in {**FAST, **(settings or {})}.items():
        command += ["-s", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


def crawl(site_file: Path, archive: Path, *extra: str, settings: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = run_scrapy(
        "crawl", "news", "-a", f"site={site_file}", *extra, settings={"ARCHIVE_DIR": str(archive), **(settings or {})}
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def stat(result: subprocess.CompletedProcess[str], key: str) -> int:
    """A counter from the crawl's final stats dump (Scrapy logs them on close)."""
    return counter(result.stderr, key)


def counter(log: str, key: str) -> int:
    """A counter from the stats dump in a log; 0 when the dump lacks it, which only a dump that is there can say."""
    import re

    found = re.search(rf"'{re.escape(key)}': (\d+)", log)
    if found is None:
        assert "'finish_reason': " in log, "no stats dump in the crawl's output: a missing counter would read as 0"
        return 0
    return int(found.group(1))
