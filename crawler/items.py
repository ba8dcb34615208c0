"""What the spider hands to the item pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.http import Response


@dataclass
class ArticleItem:
    """An article response: a page whose URL matches the site's article_pattern.

    The response travels whole so that the pipelines can extract from exactly
    the bytes Scrapy received and point into the WARC capture of this fetch
    (``response.meta["warc_capture"]``).
    """

    url: str
    site: str
    response: Response = field(repr=False, compare=False)
