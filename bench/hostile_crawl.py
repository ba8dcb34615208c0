"""A crawl of the misbehaving site (tests/hostile_server.py): how long it takes and how much memory it needs.

    .venv/bin/python bench/hostile_crawl.py [--timeout 5] [--listing-depth 200] [--set NAME=VALUE ...]

Starts the hostile server (three good articles; a 512 MiB gzip bomb, a
20 MiB sitemap, stalls, resets, redirect loops, an endless calendar,
billion-laughs and XXE sitemaps and feeds ...), runs `scrapy crawl` of it as
a subprocess with politeness delays off, and prints the elapsed time, the
crawl's peak memory, and the run report's failures. Figures, not pass/fail.

Peak memory is given two ways: the crawl process's own peak RSS (wait4's
ru_maxrss, which also covers the children it reaped), and the peak of the
summed RSS of its whole process tree (the extraction workers included),
sampled from /proc every 50 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.measure import run_measured  # noqa: E402
from tests.conftest import _toml  # noqa: E402
from tests.hostile_server import HostileProcess, site_file_conf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=5, help="DOWNLOAD_TIMEOUT for the crawl, seconds")
    parser.add_argument("--listing-depth", type=int, default=None, help="LISTING_DEPTH_LIMIT (default: the project's)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="another -s setting for the crawl")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp_name:
        tmp = Path(tmp_name)
        secret = tmp / "secret.txt"
        secret.write_text(f"SECRET-{time.time_ns()}\n")
        server = HostileProcess(tmp / "requests.jsonl", secret)
        try:
            site = tmp / "hostile.toml"
            site.write_text(_toml(site_file_conf(server.url)), encoding="utf-8")
            archive = tmp / "archive"
            settings = {
                "ARCHIVE_DIR": str(archive),
                "AUTOTHROTTLE_ENABLED": "False",
                "DOWNLOAD_DELAY": "0",
                "ARCHIVE_FSYNC": "False",
                "TEXT_WORKERS": "2",
                "DOWNLOAD_TIMEOUT": str(args.timeout),
            }
            if args.listing_depth is not None:
                settings["LISTING_DEPTH_LIMIT"] = str(args.listing_depth)
            settings.update(item.split("=", 1) for item in args.set)
            command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={site}"]
            for key, value in settings.items():
                command += ["-s", f"{key}={value}"]
            log_path = tmp / "crawl.log"
            run = run_measured(command, cwd=REPO, log=log_path)
            text = log_path.read_text(encoding="utf-8", errors="replace")
            reports = sorted((archive / "runs" / "hostile").glob("*.json"))
            report = json.loads(reports[-1].read_text()) if reports else {}
            requests = server.requests()
        finally:
            server.stop()

    print(f"exit code:                 {run.returncode}")
    print(f"elapsed:                   {run.seconds:.1f} s")
    print(f"peak RSS, crawl process:   {run.max_rss / 1024 / 1024:.0f} MiB (wait4 ru_maxrss)")
    print(f"peak RSS, process tree:    {run.peak_tree_rss / 1024 / 1024:.0f} MiB (sampled sum, extraction workers included)")
    print(f"requests seen by server:   {sum(not r['trap'] for r in requests)} (trap port: {sum(r['trap'] for r in requests)})")
    print(f"finish reason:             {report.get('finish_reason')}")
    for key in ("pages_fetched", "bytes_received", "captures_written", "documents_new"):
        print(f"{key + ':':<27}{report.get(key)}")
    print("run report failures:")
    for kind, reasons in sorted(report.get("failures", {}).items()):
        for reason, count in sorted(reasons.items()):
            print(f"  {kind}/{reason}: {count}")
    print("spider stats (news/*):")
    for key, count in sorted(re.findall(r"'(news/[^']+)': (\d+)", text)):
        print(f"  {key}: {count}")


if __name__ == "__main__":
    main()
