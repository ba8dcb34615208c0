"""Serve the demo site until interrupted; the first line printed is its URL."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from crawler.demosite.server import DEFAULT_ROOT, serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m crawler.demosite", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = any free port")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the site folder to serve")
    parser.add_argument("--log", type=Path, help="append one JSON line per request to this file")
    args = parser.parse_args()
    server = serve(args.host, args.port, args.root, args.log)
    host, port = server.server_address[:2]
    print(f"http://{host}:{port}/", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
