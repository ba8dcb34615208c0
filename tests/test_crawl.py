"""The news spider on the demo site over real HTTP: discovery, robots.txt, canonical URLs, domains, limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FixtureServer, articles, crawl, stat, write_site


def article_paths(section_name: str) -> set[str]:
    return {a["path"] for a in articles(section_name)}


def fetched(server: FixtureServer) -> list[str]:
    return [r["path"] for r in server.requests() if r["method"] == "GET"]


def items(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


DISCOVERY = {
    "listings": {"sitemap_urls": [], "feed_urls": []},
    "sitemaps": {"start_urls": [], "feed_urls": []},
    "feeds": {"start_urls": [], "sitemap_urls": []},
}


@pytest.mark.parametrize("section_name", ["syria", "wp"])
@pytest.mark.parametrize("path_kind", list(DISCOVERY))
def test_every_article_is_found_through_each_discovery_path(
    tmp_path: Path, server: FixtureServer, section_name: str, path_kind: str
) -> None:
    overrides = DISCOVERY[path_kind]
    site = write_site(tmp_path, server.url, sections=(section_name,), **overrides)
    out = tmp_path / "items.jsonl"
    crawl(site, tmp_path / "archive", "-o", f"{out}:jsonl", settings={"FEED_EXPORT_FIELDS": "url,site", "TEXT_ENABLED": "False"})
    requested = set(fetched(server))
    missing = article_paths(section_name) - requested
    assert not missing, f"{path_kind} did not lead to {sorted(missing)}"
    urls = {i["url"] for i in items(out)}
    assert {server.url + p for p in article_paths(section_name)} <= urls
    assert {i["site"] for i in items(out)} == {"fixture"}


def test_gzipped_child_sitemap_of_an_index_is_read(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url, sections=("wp",), **DISCOVERY["sitemaps"])
    crawl(site, tmp_path / "archive", settings={"TEXT_ENABLED": "False"})
    requested = fetched(server)
    gz_children = [p for p in requested if p.endswith(".xml.gz")]
    assert gz_children
    import gzip
    import re

    from tests.conftest import SITE_ROOT

    listed = gzip.decompress((SITE_ROOT / gz_children[0].lstrip("/")).read_bytes()).decode()
    locs = {loc.replace("{{ORIGIN}}", "") for loc in re.findall(r"<loc>(.*?)</loc>", listed)}
    assert locs and locs <= set(requested)


def test_robots_txt_disallowed_paths_are_never_requested(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url)
    result = crawl(site, tmp_path / "archive", settings={"TEXT_ENABLED": "False"})
    requested = fetched(server)
    assert "/robots.txt" in requested
    disallowed = ("/private/", "/wp/wp-admin/", "/syria/node/9", "/wp/2022/01/28/")
    assert not [p for p in requested if p.startswith(disallowed)]
    # article links to disallowed paths were there, were requested by the spider, and refused
    assert stat(result, "robotstxt/forbidden") >= 2


def test_tracking_variants_and_fragments_fetch_an_article_once(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url)
    crawl(site, tmp_path / "archive", settings={"TEXT_ENABLED": "False"})
    requested = fetched(server)
    assert not [p for p in requested if "utm_" in p or "fbclid" in p or "#" in p]
    article_requests = [p for p in requested if p in article_paths("syria") | article_paths("wp")]
    assert len(article_requests) == len(set(article_requests))
    assert set(article_requests) == article_paths("syria") | article_paths("wp")


def test_arabic_links_raw_and_percent_encoded_are_one_url(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url, sections=("syria",))
    crawl(site, tmp_path / "archive", settings={"TEXT_ENABLED": "False"})
    requested = fetched(server)
    syria = [p for p in requested if p in article_paths("syria")]
    assert len(syria) == len(set(syria)) == len(article_paths("syria"))
    assert all(p.isascii() for p in requested), "every request path is percent-encoded"


def test_off_domain_links_are_not_followed(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url)
    crawl(site, tmp_path / "archive", settings={"TEXT_ENABLED": "False"})
    hosts = {r["host"] for r in server.requests()}
    assert hosts == {f"127.0.0.1:{server.port}"}


def test_max_pages_caps_the_requests(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url, max_pages=5)
    crawl(site, tmp_path / "archive", settings={"TEXT_ENABLED": "False"})
    requested = [p for p in fetched(server) if p != "/robots.txt"]
    assert len(requested) == 5


def test_shortcut_spiders_read_their_bundled_site_file() -> None:
    """`scrapy crawl demo` is `scrapy crawl news -a site=demo`, for every bundled site."""
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    from crawler.sites import bundled_site_names, load_site

    loader = SpiderLoader.from_settings(get_project_settings())
    for name in bundled_site_names():
        spider = loader.load(name)()
        assert spider.name == name and spider.site == load_site(name)


def test_user_agent_names_the_project_and_the_contact_url(tmp_path: Path, server: FixtureServer) -> None:
    site = write_site(tmp_path, server.url, sections=("wp",), sitemap_urls=[], feed_urls=[], max_pages=2)
    crawl(site, tmp_path / "archive", settings={"CONTACT_URL": "https://archive.example/contact", "TEXT_ENABLED": "False"})
    agents = {r["user_agent"] for r in server.requests()}
    assert len(agents) == 1
    agent = agents.pop()
    assert agent.startswith("arshif/") and "+https://archive.example/contact" in agent


@pytest.mark.parametrize("interval", ["1.0", "0"])
def test_with_durability_on_every_article_is_stored_as_without(
    tmp_path: Path, server: FixtureServer, interval: str
) -> None:
    # The tests crawl with ARCHIVE_FSYNC off for speed; users crawl with it on, in batches (1.0) or per file (0).
    site = write_site(tmp_path, server.url)
    crawl(site, tmp_path / "fast")
    result = crawl(site, tmp_path / "durable", settings={"ARCHIVE_FSYNC": "True", "ARCHIVE_SYNC_INTERVAL": interval})
    assert "ERROR" not in result.stderr
    stored = [sorted((d["url"], d["sha256"], d["path"]) for d in items(tmp_path / a / "manifest.jsonl")) for a in ("durable", "fast")]
    assert stored[0] == stored[1]
    assert len(stored[0]) >= len(articles())
