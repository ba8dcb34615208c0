"""Crawl speed: articles stored per second, against a bare Scrapy spider on the same site.

    .venv/bin/python bench/crawl_speed.py [--articles 3000] [--concurrency 16] [--data /tmp/arshif-bench]

Generates (once) a synthetic site of --articles pages of 40-80 KB in the
demo site's markup (bench/synthetic_site.py), serves it from disk with
nginx, and runs, one after the other in this one run:

- reference: a bare Scrapy ``SitemapSpider`` that fetches every article
  through robots.txt and the sitemaps and does nothing with them (no
  capture, no extraction, no pipeline); the target is against this one;
- for context, the same spider following every link of every page with
  Scrapy's ``LinkExtractor``, as a crawler that discovers articles through
  links (ours does) must;
- ours: ``scrapy crawl news`` of the same site, with capture, extraction
  and store all on.

Both get the same concurrency (CONCURRENT_REQUESTS and
CONCURRENT_REQUESTS_PER_DOMAIN) and no delays or AutoThrottle, and both obey
robots.txt. Ours runs with the project's default durability. The crawl must
store every article: the manifest and the text files are counted, and a
short count fails the benchmark. Figures are wall-clock times of the whole
command, start-up included, as a user sees them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import Run, compile_project, run_measured  # noqa: E402
from bench.synthetic_site import make_site, nginx, site_file  # noqa: E402

BARE_SPIDER = """
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import SitemapSpider

FOLLOW = {follow!r}
LINKS = LinkExtractor()


class Bare(SitemapSpider):
    name = "bare"
    sitemap_urls = [{origin!r} + "/robots.txt"]

    def parse(self, response):
        if FOLLOW:
            yield from response.follow_all(LINKS.extract_links(response))
"""


def open_politeness(concurrency: int) -> dict[str, str]:
    return {
        "CONCURRENT_REQUESTS": str(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "ROBOTSTXT_OBEY": "True",
        "LOG_LEVEL": "INFO",
    }


def _flags(settings: dict[str, str]) -> list[str]:
    return [arg for key, value in settings.items() for arg in ("-s", f"{key}={value}")]


def run_bare(origin: str, work: Path, concurrency: int, follow: bool = False) -> tuple[Run, int]:
    """The bare spider; with ``follow``, it also follows every link of every page, as a discovering crawler must."""
    spider = work / "bare_spider.py"
    spider.write_text(BARE_SPIDER.format(origin=origin, follow=follow))
    # Outside the project (no scrapy.cfg above work/): Scrapy's defaults, nothing of ours.
    command = [sys.executable, "-m", "scrapy", "runspider", str(spider), *_flags(open_politeness(concurrency))]
    log = work / f"bare{'-follow' if follow else ''}.log"
    run = run_measured(command, cwd=work, log=log)
    return run, _stat(log, "response_received_count")


def run_ours(site_toml: Path, archive: Path, work: Path, concurrency: int, extra: list[str], prefix: list[str]) -> Run:
    settings = {**open_politeness(concurrency), "ARCHIVE_DIR": str(archive)}
    settings.update(item.split("=", 1) for item in extra)
    command = [*prefix, sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={site_toml}", *_flags(settings)]
    return run_measured(command, cwd=ROOT, log=work / "ours.log")


def _stat(log: Path, key: str) -> int:
    for line in log.read_text(errors="replace").splitlines():
        if f"'{key}':" in line:
            return int(line.split(":")[-1].strip(" ,}"))
    return 0


def stored(archive: Path) -> tuple[int, int]:
    manifest = archive / "manifest.jsonl"
    lines = manifest.read_bytes().count(b"\n") if manifest.exists() else 0
    texts = sum(1 for _ in (archive / "text").rglob("*.txt")) if (archive / "text").exists() else 0
    return lines, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="bare spider, then ours, this many times; the median ratio counts")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "arshif-bench")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="another -s setting for ours")
    parser.add_argument("--profile", type=Path, help="record ours with py-spy into this .svg (flame graph) or .txt (collapsed stacks)")
    parser.add_argument("--main-only", action="store_true", help="profile the crawl process alone, not its workers")
    parser.add_argument("--gil", action="store_true", help="profile only threads holding the interpreter lock")
    parser.add_argument("--no-follow", action="store_true", help="skip the link-following spider (a minute), for quick comparisons")
    parser.add_argument("--keep", type=Path, help="keep our (last) archive here (for bench/rebuild_speed.py --warcs)")
    args = parser.parse_args()
    compile_project(ROOT)

    data = args.data / f"site-{args.articles}"
    site = make_site(data, args.articles)
    prefix = []
    if args.profile:
        prefix = [str(Path(sys.executable).with_name("py-spy")), "record", "--rate", "200", "-o", str(args.profile)]
        if args.gil:
            prefix.append("--gil")
        if not args.main_only:
            prefix.append("--subprocesses")
        # A .txt profile is py-spy's raw format: one collapsed stack a line, for bench/profile_top.py.
        prefix += ["--format", "raw", "--"] if args.profile.suffix == ".txt" else ["--"]
    rounds = 1 if args.profile else max(1, args.rounds)
    # Every archive stays until the end: deleting thousands of files slows the next ones' creation
    # on some filesystems (ext4 without a journal skips inodes freed in the last minute), and
    # only our side creates files.
    with tempfile.TemporaryDirectory(prefix="crawl-bench-") as tmp, nginx(site) as origin:
        work = Path(tmp)
        create_us = file_creation_us(work)
        toml = site_file(work, origin)
        follow = None if args.no_follow else run_bare(origin, work, args.concurrency, follow=True)[0]
        results = []
        for n in range(rounds):
            bare, bare_pages = run_bare(origin, work, args.concurrency)
            archive = args.keep if args.keep and n == rounds - 1 else work / f"archive-{n}"
            ours = run_ours(toml, archive, work, args.concurrency, args.set, prefix)
            lines, texts = stored(archive)
            report = json.loads(max((archive / "runs" / "synthetic").glob("*.json")).read_text())
            results.append((bare, bare_pages, ours, lines, texts, report.get("pages_fetched")))
            if lines != args.articles or texts != args.articles or ours.returncode != 0:
                raise SystemExit(f"FAILED: {args.articles} articles served, {lines} manifest lines, {texts} text files stored")

    print(f"{args.articles} articles of 40-80 KB served by nginx, concurrency {args.concurrency}, {os.cpu_count()} cores; "
          f"creating a file here took {create_us:.0f} µs\n")
    print(f"{'':<36}{'seconds':>9}{'articles/s':>12}{'CPU s':>8}{'workers':>9}{'peak RSS':>10}")
    if follow is not None:
        _row("bare spider following links", follow, args.articles / follow.seconds)
    ratios = []
    for n, (bare, bare_pages, ours, lines, texts, pages) in enumerate(results, 1):
        bare_rate, ours_rate = args.articles / bare.seconds, lines / ours.seconds
        ratios.append(ours_rate / bare_rate)
        _row(f"{n}. reference: bare Scrapy spider", bare, bare_rate)
        _row(f"{n}. ours: capture+extract+store", ours, ours_rate)
        print(f"{'':<6}ratio {ours_rate / bare_rate:.2f}x; reference responses {bare_pages}; ours: {pages} pages, "
              f"{lines} manifest lines, {texts} text files, exit code {ours.returncode}")
    ratio = statistics.median(ratios)
    print(f"\ncrawl / bare Scrapy, median of {len(ratios)}: {ratio:.2f}x (target >= 0.5x)")
    if follow is not None:
        ours_rate = statistics.median(r[3] / r[2].seconds for r in results)
        print(f"crawl / bare Scrapy following links: {ours_rate / (args.articles / follow.seconds):.2f}x")


def _row(name: str, run: Run, rate: float) -> None:
    print(f"{name:<36}{run.seconds:9.1f}{rate:12.1f}{run.cpu_seconds:8.1f}{run.children_cpu_seconds:9.1f}"
          f"{run.peak_tree_rss / 2**20:7.0f} MB")


def file_creation_us(work: Path, files: int = 200) -> float:
    """What creating an empty file costs on this filesystem now, in µs: every stored article makes two."""
    folder = work / "create-probe"
    folder.mkdir()
    start = time.perf_counter()
    for n in range(files):
        os.close(os.open(folder / str(n), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    return (time.perf_counter() - start) / files * 1e6


if __name__ == "__main__":
    main()
