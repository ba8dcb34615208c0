"""A site from its address alone: every article and nothing else, within twice the requests of a hand-written site file.

Four fixture sites in the shapes of WordPress, Drupal, an ASP.NET portal and
a site with neither sitemap nor feed (tests/cmssites.py), each crawled over
HTTP from its home URL with no site file, and with the site file a user
would write for it; then `scrapy newsite` on each, and a crawl with the file
it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.sites import load_site
from crawler.store.manifest import read_manifest
from crawler.urls import canonical_url
from tests.cmssites import FAMILIES, article_paths, hand_written, write_site
from tests.conftest import FixtureServer, _toml, crawl, run_scrapy

HOME = {"wordpress": "/", "drupal": "/ar", "aspnet": "/", "static": "/"}


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp(request.param)
    write_site(folder / "site", request.param)
    server = FixtureServer(folder / "site", folder / "requests.jsonl")
    expected = {canonical_url(server.url + p) for p in article_paths(request.param)}

    hand = folder / f"{request.param}.toml"
    hand.write_text(_toml(hand_written(request.param, server.url)), encoding="utf-8")
    crawl(hand, folder / "hand")
    hand_requests = len(server.requests())

    server.clear_log()
    zero = crawl_url(server.url + HOME[request.param], folder / "zero")
    yield {"name": request.param, "folder": folder, "server": server, "expected": expected, "zero": zero,
           "zero_requests": len(server.requests()), "hand_requests": hand_requests}
    server.stop()


def crawl_url(url: str, archive: Path, **settings: str) -> Any:
    result = run_scrapy("crawl", "news", "-a", f"url={url}", settings={"ARCHIVE_DIR": str(archive), **settings})
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def stored(archive: Path) -> set[str]:
    return {e["url"] for e in read_manifest(archive / "manifest.jsonl")}


def test_every_article_and_nothing_else_from_the_home_url_alone(family: Any) -> None:
    assert stored(family["folder"] / "zero") == family["expected"]
    assert stored(family["folder"] / "hand") == family["expected"]
    assert "no article_pattern; the shapes of its article URLs are learned" in family["zero"].stderr


def test_at_most_twice_the_requests_of_a_hand_written_site_file(family: Any) -> None:
    print(f"{family['name']}: zero-configuration {family['zero_requests']} requests, hand-written {family['hand_requests']}")
    assert family["zero_requests"] <= 2 * family["hand_requests"]


def test_tag_author_share_and_print_links_are_not_all_fetched(family: Any) -> None:
    paths = [r["path"] for r in family["server"].requests()]
    assert not [p for p in paths if "share=" in p or "replytocom" in p]
    if family["name"] == "wordpress":
        # Three samples of each shape that holds no article, then no more.
        assert len([p for p in paths if p.startswith("/tag/")]) <= 3
    assert len(paths) == len(set(paths)) or paths.count("/robots.txt") == 2


def test_the_corpus_of_a_zero_configuration_crawl_rebuilds_from_its_warc_files(family: Any) -> None:
    folder = family["folder"]
    home = family["server"].url + HOME[family["name"]]
    result = run_scrapy("rebuild", str(folder / "zero" / "warc"), "--site", home, settings={"ARCHIVE_DIR": str(folder / "rebuilt")})
    assert result.returncode == 0, result.stderr[-3000:]
    texts = lambda archive: {p.relative_to(archive).as_posix(): p.read_bytes() for p in (archive / "text").rglob("*.txt")}  # noqa: E731
    lines = lambda archive: sorted((archive / "manifest.jsonl").read_text(encoding="utf-8").splitlines())  # noqa: E731
    assert texts(folder / "rebuilt") == texts(folder / "zero")
    assert lines(folder / "rebuilt") == lines(folder / "zero")


def test_newsite_writes_a_site_file_that_stores_the_same_articles(family: Any) -> None:
    folder, url = family["folder"], family["server"].url + HOME[family["name"]]
    out = folder / "written.toml"
    result = run_scrapy("newsite", url, "-o", str(out), settings={"ARCHIVE_DIR": str(folder / "discovery")})
    assert result.returncode == 0, result.stderr[-4000:]
    text = out.read_text(encoding="utf-8")
    site = load_site(str(out))  # valid as written
    assert site.article_pattern is not None
    assert all(line.startswith("#") or "#" in line or not line.strip() or line.startswith("[") for line in text.splitlines())
    crawl(out, folder / "with-written")
    assert stored(folder / "with-written") == stored(folder / "zero")


def test_an_address_that_is_not_http_is_refused_before_any_request(tmp_path: Path) -> None:
    result = run_scrapy("crawl", "news", "-a", "url=ftp://example.org/", settings={"ARCHIVE_DIR": str(tmp_path / "a")})
    assert result.returncode != 0
    assert "only an http or https URL" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "a").exists()


def test_a_host_that_does_not_answer_is_said_plainly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result = run_scrapy("crawl", "news", "-a", f"url=http://127.0.0.1:{port}/",
                        settings={"ARCHIVE_DIR": str(tmp_path / "a"), "RETRY_TIMES": "0"})
    assert result.returncode == 1
    assert f"no article found from http://127.0.0.1:{port}/ (0 pages read, 1 requests failed): the address may not answer" in result.stderr
    assert f"Fetch failed (connection_refused): http://127.0.0.1:{port}/" in result.stderr
    assert not (tmp_path / "a" / "manifest.jsonl").exists() and not (tmp_path / "a" / "text").exists()


def test_a_site_with_no_article_is_said_plainly_and_stores_nothing(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(
        '<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8"><title>شركة</title></head><body>'
        "<h1>شركة للتجارة</h1><p>" + "نقدم خدمات التجارة والنقل في المدينة منذ عشرين عاماً. " * 10 + "</p></body></html>",
        encoding="utf-8",
    )
    server = FixtureServer(root, tmp_path / "requests.jsonl")
    try:
        result = run_scrapy("crawl", "news", "-a", f"url={server.url}/", settings={"ARCHIVE_DIR": str(tmp_path / "a")})
    finally:
        server.stop()
    assert result.returncode == 1
    assert "no article found" in result.stderr
    assert not (tmp_path / "a" / "manifest.jsonl").exists()
    assert list((tmp_path / "a" / "warc").rglob("*.warc.gz"))  # what was fetched is archived


def test_the_derived_site_is_named_after_its_registered_domain() -> None:
    site = load_site("https://www.example.co.uk/ar/")
    assert (site.name, site.allowed_domains, site.start_urls) == ("example_co_uk", ("example.co.uk",), ("https://www.example.co.uk/ar/",))
    assert json.dumps(site.rules.judge_articles) == "true"
