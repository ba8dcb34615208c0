"""URL canonicalization: one article, one URL."""

from __future__ import annotations

import pytest

from crawler.urls import canonical_url, useless_reason

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
