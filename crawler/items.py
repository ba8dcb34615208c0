"""What the spider hands to the item pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.http import Response

from crawler.article import ArticleRead


@dataclass
class ArticleItem:
    """An article response: a page whose URL matches the site's article_pattern.

    The response travels whole so that the pipeline can point into the WARC
    capture of this fetch (``response.meta["warc_capture"]``) and keep its
    validators. ``read`` is what a worker read of its body (crawler.article):
    None when there is nothing to read (not a 200, or TEXT_ENABLED off).
    """

    url: str
    site: str
    response: Response = field(repr=False, compare=False)
    read: ArticleRead | None = field(default=None, repr=False, compare=False)
