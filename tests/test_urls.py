"""URL canonicalization: one article, one URL."""

from __future__ import annotations

import re
import string
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.urls import canonical_url, compile_url_pattern, search_url, useless_reason

SAME = [
    ("https://a.com/2022/02/خبر", "https://a.com/2022/02/%D8%AE%D8%A8%D8%B1"),
    ("https://a.com/2022/02/%d8%ae%d8%a8%d8%b1", "https://a.com/2022/02/%D8%AE%D8%A8%D8%B1"),
    ("https://a.com/x?utm_source=fb&utm_medium=social&id=3", "https://a.com/x?id=3"),
    ("https://a.com/x?fbclid=AbC&gclid=1&msclkid=2", "https://a.com/x"),
    ("https://a.com/x#comments", "https://a.com/x"),
    ("https://A.COM/x?b=2&a=1", "https://a.com/x?a=1&b=2"),
]


@pytest.mark.parametrize("url, expected", SAME, ids=[f"case{i}" for i in range(len(SAME))])
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected


def test_parameters_that_select_content_are_kept() -> None:
    assert canonical_url("https://a.com/news?page=2") == "https://a.com/news?page=2"
    assert canonical_url("https://a.com/?p=101&utm_campaign=x") == "https://a.com/?p=101"


USELESS = [
    "https://a.com/2022/02/x/?share=twitter&nb=1",
    "https://a.com/2022/02/x/?share=jetpack-whatsapp&nb=1",
    "https://a.com/2022/02/x/?replytocom=123",
    "https://a.com/2022/02/x/?print=1",
    "https://a.com/2022/02/x/amp/",
    "https://a.com/2022/02/x/?output=amp",
    "https://a.com/2022/02/x/feed/",
    "https://a.com/wp-login.php?redirect_to=x",
    "https://a.com/login",
    "https://a.com/?s=%D8%AE%D8%A8%D8%B1",
    "https://a.com/search/%D8%AE%D8%A8%D8%B1",
    "https://a.com/cart/?add-to-cart=5",
]


@pytest.mark.parametrize("url", USELESS)
def test_urls_that_only_repeat_a_page_or_act_are_useless(url: str) -> None:
    assert useless_reason(canonical_url(url)) is not None


@pytest.mark.parametrize(
    "url", ["https://a.com/2022/02/x/", "https://a.com/news?page=2", "https://a.com/?p=101", "https://a.com/amplifier-review/"]
)
def test_articles_and_listings_are_worth_a_request(url: str) -> None:
    assert useless_reason(canonical_url(url)) is None


# --- Properties of canonical_url, over generated URLs ------------------------------------------
#
# The spider decides "seen it already" and "is it ours" on canonical URLs, so canonical_url must
# be a fixed point (or a page is fetched twice), must give one string for the two ways a link to
# an Arabic page is written (or an article is fetched twice), and must never move a URL to
# another host (or the allowed_domains check, made on the canonical URL, is fooled).

# Letters of the Arabic block, with hamza forms, harakat and tatweel: what slugs are made of.
_ARABIC = st.characters(min_codepoint=0x0621, max_codepoint=0x0652) | st.sampled_from("ـ٠١٢٣")
# Pieces of a path: ASCII that may appear raw, the characters that confuse URL parsers ("@",
# "\\", ":", a stray "%"), dot segments, escapes (of "/", of a plain letter, a broken one, of an
# Arabic letter in lowercase hex) and a space.
_PATH_PIECES = st.sampled_from(
    list(string.ascii_letters + string.digits + "-_.~!$&'()*+,;=:@%\\ ") + ["..", "%2F", "%41", "%zz", "%d8%ae"]
)
_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_HOSTS = st.builds(".".join, st.lists(_LABEL, min_size=1, max_size=3).map(lambda labels: labels + ["com"]))
_QUERY_KEYS = st.sampled_from(["utm_source", "utm_medium", "fbclid", "gclid", "ref", "id", "page", "p", "q", "ن"])
_QUERY_VALUES = st.text(st.sampled_from("ab1%=&+ خبر"), max_size=6)


def _segment() -> st.SearchStrategy[str]:
    return st.lists(_ARABIC | _PATH_PIECES, max_size=8).map("".join)


@st.composite
def _url_parts(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(scheme, host, port, the rest: path, query and fragment)."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(_HOSTS)
    port = draw(st.sampled_from(["", ":8080", ":443"]))
    path = "/" + "/".join(draw(st.lists(_segment(), max_size=4)))
    query = "&".join(f"{k}={v}" for k, v in draw(st.lists(st.tuples(_QUERY_KEYS, _QUERY_VALUES), max_size=4)))
    fragment = draw(st.sampled_from(["", "#comments", "#ح"]))
    return scheme, host, port, path + (f"?{query}" if query else "") + fragment


def _urls() -> st.SearchStrategy[str]:
    return _url_parts().map(lambda p: f"{p[0]}://{p[1]}{p[2]}{p[3]}")


@settings(max_examples=300, deadline=None)
@given(_urls())
def test_canonical_url_is_a_fixed_point(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(_ARABIC, min_size=1, max_size=10), min_size=1, max_size=4), st.booleans())
def test_raw_and_percent_encoded_arabic_paths_give_one_url(segments: list[str], lower_hex: bool) -> None:
    raw = "https://a.com/" + "/".join(segments)
    # How sites and feeds write the same link escaped: UTF-8, either case of hex digit.
    encoded = "https://a.com/" + "/".join(quote(s, safe="") for s in segments)
    if lower_hex:
        encoded = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)
    assert canonical_url(raw) == canonical_url(encoded)
    # ...and that URL is the escaped one, uppercase hex, as the site files' patterns expect.
    assert canonical_url(raw) == "https://a.com/" + "/".join(quote(s, safe="") for s in segments)


@settings(max_examples=300, deadline=None)
@given(_url_parts())
def test_canonical_url_never_leaves_the_host(parts: tuple[str, str, str, str]) -> None:
    scheme, host, port, rest = parts
    canon = canonical_url(f"{scheme}://{host}{port}{rest}")
    # Compared as text, not through urlsplit().hostname, which would lowercase for us and so
    # hide a canonical URL that kept the host's capitals (two strings for one page).
    assert canon.startswith(f"{scheme.lower()}://{host.lower()}{port}/")
    # The path's "@", "\\" and ":" stay in the path: no parser reads another host out of it.
    assert urlsplit(canon).hostname == host.lower()


# Site files' patterns are compiled by re and searched by the regex module (which can bound a
# search in time); flags must carry over, and re and regex number ASCII differently.
@pytest.mark.parametrize(
    "flags", [0, re.IGNORECASE, re.ASCII, re.IGNORECASE | re.ASCII, re.MULTILINE | re.DOTALL], ids=["none", "i", "a", "ia", "ms"]
)
@pytest.mark.parametrize("pattern", [r"/\w+/x$", r"(?i)/news/", r"^https://a\.com/.*X"])
def test_url_patterns_mean_in_regex_what_they_mean_in_re(pattern: str, flags: int) -> None:
    compiled = re.compile(pattern, flags)
    bounded = compile_url_pattern(compiled)
    for url in ["https://a.com/خبر/x", "https://a.com/abc/X", "https://a.com/abc/x", "https://a.com/NEWS/1", "https://a.com/\nX"]:
        assert search_url(bounded, url) == (compiled.search(url) is not None), url
