"""URL canonicalization: one article, one URL."""

from __future__ import annotations

import pytest

from crawler.urls import canonical_url

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
