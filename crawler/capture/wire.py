"""Scrapy's HTTP/1.1 download handler, keeping what an archive needs and Scrapy drops.

Twisted sorts response headers into entity headers, which Scrapy keeps, and
connection headers (Content-Length, Transfer-Encoding, Connection,
Keep-Alive), which it does not; the status line's reason phrase is dropped
too. A WARC record must say what the server sent, so this handler copies both
into ``request.meta["wire"]`` when the headers arrive. Everything else is
Scrapy's own code path.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler, _ScrapyAgent
from scrapy.exceptions import ResponseDataLossError
from scrapy.http import Response
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future

logger = logging.getLogger(__name__)

WIRE_META_KEY = "wire"


class WireHTTP11DownloadHandler(HTTP11DownloadHandler):
    async def download_request(self, request: Request) -> Response:
        agent = _WireAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise


class _WireAgent(_ScrapyAgent):
    def _cb_latency(self, result: Any, request: Request, start_time: float) -> Any:
        # The first callback after the status line and headers are parsed:
        # the Twisted parser still holds the connection headers here.
        request.meta[WIRE_META_KEY] = {
            "reason": _latin1(getattr(result, "phrase", b"") or b""),
            "connection_headers": _connection_headers(result),
        }
        return super()._cb_latency(result, request, start_time)


def _connection_headers(txresponse: Any) -> list[tuple[str, str]]:
    # TransportProxyProducer -> TCP transport -> protocol wrappers (endpoint,
    # TLS) -> HTTP11ClientProtocol, whose parser holds the connection headers.
    transport = getattr(getattr(txresponse, "_transport", None), "_producer", None)
    protocol = getattr(transport, "protocol", None)
    for _ in range(4):
        if protocol is None or hasattr(protocol, "_parser"):
            break
        protocol = getattr(protocol, "_wrappedProtocol", None) or getattr(protocol, "wrappedProtocol", None)
    headers = getattr(getattr(protocol, "_parser", None), "connHeaders", None)
    if headers is None:
        return []
    return [(_latin1(k), _latin1(v)) for k, values in headers.getAllRawHeaders() for v in values]


def _latin1(value: bytes) -> str:
    return value.decode("latin-1")
