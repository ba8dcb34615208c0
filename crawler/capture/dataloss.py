"""Bodies cut short in transfer: kept as sent, asked for again, and never read as the whole page.

With DOWNLOAD_FAIL_ON_DATALOSS off (the project's setting), Scrapy hands on
a response whose connection ended before its Content-Length, flagged
"dataloss". The capture middleware keeps it as it came, marked
WARC-Truncated; this middleware, running after it, asks for the page again
as RetryMiddleware would have asked after the error, within RETRY_TIMES.
The last cut response goes on to the spider, which reads it as no document
(truncated), so the next run asks for it again.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response

logger = logging.getLogger(__name__)


class DataLossRetryMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DataLossRetryMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if "dataloss" not in response.flags:
            return response
        again = get_retry_request(request, spider=self.crawler.spider, reason="data_loss")
        if again is not None:
            return again
        # As the spider's errback reports a request that failed for good (spiders.news).
        self.crawler.stats.inc_value("news/fetch_failed/data_loss")
        logger.warning(
            "Fetch failed (data_loss): %s: the body ended before its Content-Length; captured as sent, truncated",
            response.url,
        )
        return response
