"""Site files: the bundled ones load; each kind of mistake gets a clear error before any request."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.sites import SiteFileError, bundled_site_names, load_site, parse_site
from tests.conftest import REPO, FixtureServer, run_scrapy, write_site

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
    "missing_key": ("\n".join(l for l in GOOD.splitlines() if not l.startswith("start_urls")) + "\n", "start_urls", "missing"),
    "bad_regex": (GOOD.replace("'/\\d{4}/\\d{2}/'", "'/(\\d{4}/'"), "article_pattern", "bad regular expression"),
    "bad_follow_regex": (GOOD + "follow_pattern = '[a-'\n", "follow_pattern", "bad regular expression"),
    "bad_name": (GOOD.replace('"good"', '"Bad Name"'), "name", "[a-z0-9_]+"),
    # The name becomes a folder under warc/, text/, state/ and runs/: none of these may climb
    # out of the archive or name a folder of another site.
    "name_dot_dot": (GOOD.replace('"good"', '".."'), "name", "[a-z0-9_]+"),
    "name_climbing_out": (GOOD.replace('"good"', '"../../etc/cron.d/x"'), "name", "[a-z0-9_]+"),
    "name_absolute": (GOOD.replace('"good"', '"/tmp/x"'), "name", "[a-z0-9_]+"),
    "name_backslash": (GOOD.replace('"good"', "'..\\x'"), "name", "[a-z0-9_]+"),
    "name_trailing_newline": (GOOD.replace('"good"', '"good\\n"'), "name", "[a-z0-9_]+"),
    "name_empty": (GOOD.replace('"good"', '""'), "name", "[a-z0-9_]+"),
    # Valid for the regex module, not for re, which extraction also compiles the pattern with.
    "regex_module_only_syntax": (GOOD.replace("'/\\d{4}/\\d{2}/'", "'\\p{Arabic}+'"), "article_pattern", "bad regular expression"),
    "start_url_off_domain": (GOOD.replace("www.example.com/", "www.other.org/"), "start_urls", "outside allowed_domains"),
    "ftp_scheme": (GOOD.replace("https://www.example.com/", "ftp://www.example.com/"), "start_urls", "only http and https"),
    # file:// would read the crawling machine's own files into the archive.
    "file_start_url": (GOOD.replace("https://www.example.com/", "file:///etc/passwd"), "start_urls", "only http and https"),
    "file_sitemap_url": (GOOD + "sitemap_urls = ['file://www.example.com/sitemap.xml']\n", "sitemap_urls", "only http and https"),
    "file_feed_url": (GOOD + "feed_urls = ['FILE:///etc/passwd']\n", "feed_urls", "only http and https"),
    "ftp_feed_url": (GOOD + "feed_urls = ['ftp://www.example.com/feed']\n", "feed_urls", "only http and https"),
    "wrong_type": (GOOD + "max_pages = 'ten'\n", "max_pages", "must be a int"),
    "not_toml": ("name = \n", None, "not valid TOML"),
    "bad_body_selector": (GOOD + "body_selector = 'div.entry['\n", "body_selector", "bad CSS selector"),
    "xpath_as_date_selector": (GOOD + "date_selector = '//span[@class=\"date\"]'\n", "date_selector", "bad CSS selector"),
    "xpath_as_body_selector": (GOOD + "body_selector = '//div[@id=\"body\"]'\n", "body_selector", "bad CSS selector"),
    "xpath_in_drop_selectors": (GOOD + "drop_selectors = ['.share', '//aside']\n", "drop_selectors", "bad CSS selector"),
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
        ({"allowed_domains": None}, "allowed_domains"),
        ({"body_selector": "article >"}, "body_selector"),
        ({"body_selector": "//div[@class='body']"}, "body_selector"),
        ({"name": "../fixture"}, "name"),
        ({"start_urls": ["file:///etc/passwd"]}, "start_urls"),
        ({"sitemap_urls": ["file:///etc/passwd"]}, "sitemap_urls"),
    ],
    ids=[
        "bad_regex",
        "unknown_key",
        "off_domain_start",
        "missing_key",
        "bad_selector",
        "xpath_selector",
        "name_with_slash",
        "file_start_url",
        "file_sitemap_url",
    ],
)
def test_crawl_with_bad_site_file_fails_before_any_request(
    tmp_path: Path, server: FixtureServer, override: dict[str, object], key: str
) -> None:
    override = dict(override)
    name = override.pop("name", None)
    site_file = write_site(tmp_path, server.url, **override)
    if name is not None:
        # write_site names the file after the site; a hostile name goes into the text only.
        text = site_file.read_text(encoding="utf-8")
        site_file.write_text(text.replace('name = "fixture"', f"name = {json.dumps(name)}"), encoding="utf-8")
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


# --- Patterns that backtrack without end -----------------------------------------------------
#
# article_pattern and follow_pattern are searched in every link of every page, and the links are
# the site's (or an attacker's) to write. A pattern with nested repeats, such as (a+)+$, takes
# time exponential in the length of a run of "a" that is not followed by the end: with Python's
# re a link of a few dozen such letters would stall the crawl for good. Site bounds each search
# (crawler.urls.URL_MATCH_TIMEOUT) and takes a URL it gives up on as not matching.

HOSTILE = GOOD.replace("'/\\d{4}/\\d{2}/'", "'(a+)+$'") + "follow_pattern = '(a|a)+$'\n"

# Run in a child process: were the bound missing, the search would never return, and the child's
# time limit turns that into a failure instead of a test run that hangs.
_HOSTILE_PROBE = """
import json, logging, sys
from crawler.sites import load_site
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
site = load_site(sys.argv[1])
long_url = "https://www.example.com/" + "a" * 100_000 + "!"
short_url = "https://www.example.com/" + "a" * 2_000 + "!"  # short enough for Scrapy to request
print(json.dumps({
    "long": [site.is_article(long_url), site.should_follow(long_url)],
    "short": [site.is_article(short_url), site.should_follow(short_url)],
    "matching": [site.is_article("https://www.example.com/aaaa"), site.should_follow("https://www.example.com/aaaa")],
    "timeouts": dict(site.match_timeouts),
}))
"""


def test_a_backtracking_pattern_on_a_100_kb_url_gives_up_and_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "hostile.toml"
    path.write_text(HOSTILE)
    result = subprocess.run(
        [sys.executable, "-c", _HOSTILE_PROBE, str(path)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["long"] == [False, False] and out["short"] == [False, False]
    # Given up on the long and the short URL, for each pattern, and counted; a URL the search
    # finishes on is answered as before.
    assert out["timeouts"] == {"article_pattern": 2, "follow_pattern": 2}
    assert out["matching"] == [True, True]
    # One warning per pattern, naming the site and the key, not one per URL.
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 2, result.stderr
    assert all("Site good:" in w for w in warnings)
    assert sum("article_pattern '(a+)+$'" in w for w in warnings) == 1
    assert sum("follow_pattern '(a|a)+$'" in w for w in warnings) == 1


def test_a_site_file_with_a_backtracking_pattern_still_loads() -> None:
    # Neither re nor regex can tell a catastrophic pattern when compiling it, and a home-made
    # heuristic would refuse good patterns too: such a file loads, and the bound above applies.
    site = parse_site(tomllib.loads(HOSTILE), "<test>")
    assert site.article_pattern.pattern == "(a+)+$" and site.match_timeouts == {}


# The bounded search must answer exactly as re did on every URL it finishes on: the crawl
# decides what is an article with it, and scrapy rebuild must agree with crawls made before.
_URL_PIECES = st.sampled_from(
    ["/", "-", "?page=", "#", "node/", "category/", "page/", "taxonomy/term/", "2022/", "02/", "10/", "wp/", "syria/",
     "?p=", "%D8%A7", "%D9%84", "%d8%a7", "abc", "1", "news", "x.html"]
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["syria_tv", "ittihad_press", "demo"]), st.lists(_URL_PIECES, max_size=8).map("".join))
def test_bounded_search_answers_as_re_does(name: str, tail: str) -> None:
    site = load_site(name)
    for start in site.start_urls:
        url = start.rstrip("/") + "/" + tail
        assert site.is_article(url) == (site.article_pattern.search(url) is not None)
        follow = site.follow_pattern
        assert site.should_follow(url) == (follow is not None and follow.search(url) is not None)
    assert site.match_timeouts == {}


_CLASS_PARTS = st.sampled_from(["a", "b", "ad", "-", "_", " ", "  ", "\t", "\n", "\r", "\xa0", "\u2003", "A"])


@settings(max_examples=300, deadline=None)
@given(
    classes=st.lists(st.lists(_CLASS_PARTS, max_size=10).map("".join), min_size=1, max_size=8),
    wanted=st.lists(st.sampled_from(["a", "b", "ad", "a-b", "A"]), min_size=1, max_size=3, unique=True),
)
def test_bare_class_selectors_found_in_one_pass_are_what_cssselect_finds(classes: list[str], wanted: list[str]) -> None:
    """drop_selectors of bare classes skip cssselect's XPath (one pass per selector); they must find the same elements."""
    from lxml import html

    from crawler.extract.rules import css_finder, css_to_xpath

    tree = html.fromstring("<div>" + "".join(f"<p><span></span></p>" for _ in classes) + "</div>")
    for element, value in zip(tree.iter("p"), classes, strict=True):
        element.set("class", value)
        element[0].set("class", value[::-1])
    group = ", ".join(f".{name}" for name in wanted)
    assert css_finder(group)(tree) == css_to_xpath(group)(tree)
