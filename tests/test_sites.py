"""Site files: the bundled ones load; each kind of mistake gets a clear error before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.sites import SiteFileError, bundled_site_names, load_site
from tests.conftest import FixtureServer, run_scrapy, write_site

GOOD = """
name = "good"
allowed_domains = ["example.com"]
start_urls = ["https://www.example.com/"]
article_pattern = '/\\d{4}/\\d{2}/'
"""


def test_bundled_sites_load_and_include_the_seed_sites_and_demo() -> None:
    names = bundled_site_names()
    assert {"syria_tv", "ittihad_press", "demo"} <= set(names)
    for name in names:
        site = load_site(name)
        assert site.name == name
        assert all(site.owns(u) for u in site.start_urls + site.sitemap_urls + site.feed_urls)


def test_selector_keys_reach_extraction(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(GOOD + "body_selector = 'div.entry-content'\ndrop_selectors = ['.share', 'aside .related']\ndate_selector = 'time.published'\n")
    rules = load_site(str(path)).rules
    assert rules.body_selector == "div.entry-content" and rules.date_selector == "time.published"
    assert rules.drop_selectors == (".share", "aside .related")


def test_a_site_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    site = load_site(str(path))
    assert site.is_article("https://www.example.com/2022/02/x") and not site.is_article("https://www.example.com/")
    assert site.owns("https://sub.example.com/a") and not site.owns("https://notexample.com/a")


BAD_FILES = {
    "unknown_key": (GOOD + 'colour = "red"\n', "colour", "unknown key"),
    "missing_key": (GOOD.replace("article_pattern = '/\\d{4}/\\d{2}/'", ""), "article_pattern", "missing"),
    "bad_regex": (GOOD.replace("'/\\d{4}/\\d{2}/'", "'/(\\d{4}/'"), "article_pattern", "bad regular expression"),
    "bad_follow_regex": (GOOD + "follow_pattern = '[a-'\n", "follow_pattern", "bad regular expression"),
    "bad_name": (GOOD.replace('"good"', '"Bad Name"'), "name", "[a-z0-9_]+"),
    "start_url_off_domain": (GOOD.replace("www.example.com/", "www.other.org/"), "start_urls", "outside allowed_domains"),
    "ftp_scheme": (GOOD.replace("https://www.example.com/", "ftp://www.example.com/"), "start_urls", "only http and https"),
    "wrong_type": (GOOD + "max_pages = 'ten'\n", "max_pages", "must be a int"),
    "not_toml": ("name = \n", None, "not valid TOML"),
    "bad_body_selector": (GOOD + "body_selector = 'div.entry['\n", "body_selector", "bad CSS selector"),
    "xpath_as_date_selector": (GOOD + "date_selector = '//span[@class=\"date\"]'\n", "date_selector", "bad CSS selector"),
    "bad_drop_selector": (GOOD + "drop_selectors = ['.share', 'p:nth-child(']\n", "drop_selectors", "bad CSS selector"),
    "empty_body_selector": (GOOD + "body_selector = ' '\n", "body_selector", "bad CSS selector"),
    "drop_selectors_not_a_list": (GOOD + "drop_selectors = '.share'\n", "drop_selectors", "must be a list"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_site_file_error_names_file_and_key(tmp_path: Path, case: str) -> None:
    text, key, problem = BAD_FILES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(SiteFileError) as caught:
        load_site(str(path))
    message = str(caught.value)
    assert str(path) in message and problem in message
    if key:
        assert f"key '{key}'" in message


@pytest.mark.parametrize(
    "override, key",
    [
        ({"article_pattern": "(unclosed"}, "article_pattern"),
        ({"colour": "red"}, "colour"),
        ({"start_urls": ["http://localhost:1/"]}, "start_urls"),
        ({"article_pattern": None}, "article_pattern"),
        ({"body_selector": "article >"}, "body_selector"),
    ],
    ids=["bad_regex", "unknown_key", "off_domain_start", "missing_key", "bad_selector"],
)
def test_crawl_with_bad_site_file_fails_before_any_request(
    tmp_path: Path, server: FixtureServer, override: dict[str, object], key: str
) -> None:
    site_file = write_site(tmp_path, server.url, **override)
    result = run_scrapy("crawl", "news", "-a", f"site={site_file}", settings={"ARCHIVE_DIR": str(tmp_path / "a")})
    assert result.returncode != 0
    assert str(site_file) in result.stderr and f"key '{key}'" in result.stderr
    assert server.requests() == []
    assert not (tmp_path / "a").exists()


def test_crawl_of_unknown_site_name_fails_clearly(tmp_path: Path) -> None:
    result = run_scrapy("crawl", "news", "-a", "site=no_such_site", settings={"ARCHIVE_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "no_such_site" in result.stderr and "bundled" in result.stderr


def test_scrapy_list_names_news_and_every_bundled_site() -> None:
    result = run_scrapy("list")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"news", *bundled_site_names()}
