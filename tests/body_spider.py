"""A spider for tests: records the SHA-256 of each body exactly as Scrapy hands it to a callback."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import scrapy


class BodySpider(scrapy.Spider):
    name = "bodies"
    custom_settings = {"HTTPERROR_ALLOW_ALL": True}

    def __init__(self, urls: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls.split()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response: scrapy.http.Response) -> Any:
        yield {"url": response.url, "sha256": hashlib.sha256(response.body).hexdigest()}
