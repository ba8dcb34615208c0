"""Rebuild speed, in documents per second, against two references on the same WARCs.

    .venv/bin/python bench/rebuild_speed.py [--copies 40] [--workers 0]

Makes a WARC archive of the demo site's article pages (each page captured
under --copies distinct URLs, so that there is enough work to time), then
times, in this one run:

- ceiling: reading every record and decoding its payload, no extraction;
- by hand: plain single-process ``trafilatura.extract`` over the same HTML,
  what a user without this tool would write;
- rebuild: ``crawler.rebuild.rebuild`` with one worker per core.

Absolute times are noisy; the ratios printed at the end are the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from warcio.archiveiterator import ArchiveIterator  # noqa: E402

from crawler.rebuild import find_warc_files, rebuild  # noqa: E402
from crawler.sites import parse_site  # noqa: E402
from crawler.capture.records import Exchange, store_capture  # noqa: E402

DEMOSITE = ROOT / "crawler" / "demosite"
INDEX = tomllib.loads((DEMOSITE / "articles.toml").read_text(encoding="utf-8"))
BASE = "http://127.0.0.1:8765"


def make_archive(archive: Path, copies: int) -> int:
    count = 0
    for article in INDEX["article"]:
        body = (DEMOSITE / "site" / article["file"]).read_bytes()
        charset = "" if article.get("charset") == "windows-1256" else "; charset=utf-8"
        for copy in range(copies):
            # a distinct URL per copy that still matches the article pattern
            path = article["path"]
            path = f"{path[:-1]}-{copy}/" if path.endswith("/") else f"{path}-{copy}"
            uri = f"{BASE}{path}"
            exchange = Exchange(
                uri=uri,
                status=200,
                payload=body,
                date=datetime.now(UTC),
                reason="OK",
                response_headers=[("Content-Type", "text/html" + charset), ("Content-Length", str(len(body)))],
            )
            store_capture(archive, "demo", exchange, warcinfo_id=None, fsync=False)
            count += 1
    return count


def ceiling(files: list[Path]) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    for path in files:
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    record.content_stream().read()
                    n += 1
    return n, time.perf_counter() - start


def by_hand(files: list[Path]) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    for path in files:
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    if trafilatura.extract(record.content_stream().read()):
                        n += 1
    return n, time.perf_counter() - start


def ours(files: list[Path], out: Path, workers: int) -> tuple[int, float]:
    sections = INDEX["section"]
    site = parse_site(
        {
            "name": "demo",
            "allowed_domains": ["127.0.0.1"],
            "start_urls": [BASE + "/"],
            "article_pattern": "|".join(f"({s['article_pattern']})" for s in sections.values()),
            "boilerplate": [b for s in sections.values() for b in s.get("boilerplate", [])],
        }
    )
    start = time.perf_counter()
    summary = rebuild(files, out, lambda url: site, workers=workers, fsync=False)
    elapsed = time.perf_counter() - start
    return summary.documents_written, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        pages = make_archive(archive, args.copies)
        files = find_warc_files([archive / "warc"])
        print(f"{pages} article captures in {len(files)} WARC files, {os.cpu_count()} cores\n")
        results = {
            "ceiling (read + decode, no extraction)": ceiling(files),
            "by hand (trafilatura.extract, 1 process)": by_hand(files),
            f"rebuild (workers={args.workers or os.cpu_count()})": ours(files, Path(tmp) / "rebuilt", args.workers),
        }
        rates = {}
        for name, (n, seconds) in results.items():
            rates[name] = n / seconds
            print(f"{name:<44} {n:6d} docs in {seconds:7.2f} s = {rates[name]:9.1f} docs/s")
        rebuild_rate = list(rates.values())[2]
        print(f"\nrebuild / by hand:  {rebuild_rate / list(rates.values())[1]:.2f}x")
        print(f"rebuild / ceiling:  {rebuild_rate / list(rates.values())[0]:.3f}x")


if __name__ == "__main__":
    main()
