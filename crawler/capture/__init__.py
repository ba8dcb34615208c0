"""WARC capture: the download handler that keeps the wire's bytes, the middleware, the records."""
