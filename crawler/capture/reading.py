"""Reading a response in the same worker job as its capture.

A response the spider will read (an article page) would otherwise go to a
worker process twice: once, still compressed, to be captured, and once,
decoded, to be read. Sent once, with what the spider asks done to it, it
costs the crawl process one copy of its body less, and the workers one
job less: measured in bench/crawl_speed.py. A spider asks for it with a
method ``reader_for(request, response)``, which returns what to run on the
decoded body (picklable), or None to read nothing there.

The worker decodes the body as Scrapy's HttpCompressionMiddleware will
(its own decoders, the same size cap), so the spider reads the very bytes
it would have read itself. A body that middleware cannot fully decode is
not read here: the spider then gets the response as Scrapy leaves it, and
reads it itself or never sees it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.http import Response

# Where the capture middleware leaves what was read for the spider (see ``taken_read``).
READ_META_KEY = "warc_capture_read"


@dataclass(frozen=True)
class BodyReader:
    """``read`` on a response's body, decoded in the worker as Scrapy's HttpCompressionMiddleware decodes it."""

    read: Callable[..., Any]  # read(body, cut=..., fetched=...): cut says the body ended early; fetched, the WARC-Date
    content_encoding: tuple[bytes, ...]  # the response's Content-Encoding header values
    max_size: int  # DOWNLOAD_MAXSIZE, or the request's download_maxsize
    cut: bool = False  # the connection ended before the promised length (Scrapy's "dataloss")

    def __call__(self, payload: bytes, fetched: str | None = None) -> Any | None:
        body = self.decoded(payload)
        if body is None:
            return None
        return self.read(body, cut=self.cut or cut_short(payload, self.content_encoding), fetched=fetched)

    def decoded(self, payload: bytes) -> bytes | None:
        """The body the spider will get; None when Scrapy will not decode it whole (unknown coding, a bomb, corrupt)."""
        if not self.content_encoding:
            return payload
        # Scrapy's own splitting and decoders (private, pinned with Scrapy): the same bytes, the same cap.
        to_decode, to_keep = HttpCompressionMiddleware._split_encodings(list(self.content_encoding))
        if to_keep:
            return None
        try:
            for encoding in to_decode:
                payload = HttpCompressionMiddleware._decode(payload, encoding, self.max_size)
        except Exception:  # noqa: BLE001 - Scrapy's middleware meets the same error, and drops or logs the response
            return None
        return payload


def cut_short(payload: bytes, content_encoding: tuple[bytes, ...] | list[bytes]) -> bool:
    """Whether a gzip or deflate body ends before its stream does: cut in transfer, though its length matched.

    Scrapy's decoders keep what inflates of such a body, which would give the
    first part of an article as if it were all of it.
    """
    codings = [c.strip().lower() for value in content_encoding for c in value.split(b",") if c.strip()]
    if not codings or codings[-1] not in (b"gzip", b"x-gzip", b"deflate"):
        return False
    data = payload
    while data:
        # 47: a gzip or zlib header, whichever it is; a raw deflate stream has none.
        inflater = zlib.decompressobj(47 if data[:1] in (b"\x1f", b"\x78", b"\x58", b"\x68") else -15)
        try:
            while data:
                inflater.decompress(data, 1 << 20)  # output dropped: only where the stream ends is wanted
                data = inflater.unconsumed_tail
        except zlib.error:
            return False  # not this coding at all: Scrapy's decoder says what it makes of it
        if not inflater.eof:
            return True
        data = inflater.unused_data.lstrip(b"\x00")  # the next gzip member, if any
    return False


def taken_read(response: Response) -> Any | None:
    """What the capture's job read of this response for the spider, taken once; None if nothing was."""
    return response.meta.pop(READ_META_KEY, None)
