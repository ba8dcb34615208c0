"""Memory: peak RSS of a crawl and of a rebuild of 10,000 articles against 1,000.

    .venv/bin/python bench/memory.py [--small 1000] [--large 10000] [--data /tmp/arshif-bench]

Crawls synthetic sites (bench/synthetic_site.py, served by nginx) of --small
and --large articles with capture, extraction and store on, then rebuilds
each crawl's WARCs with `scrapy rebuild`, each as its own command, and
prints the peak RSS of each: the crawl process alone (where anything kept
per URL would pile up) and the whole process tree, worker processes
included, sampled every 50 ms. The targets: large / small <= 1.3 for the
crawl and for the rebuild. Every article must be stored, as in
bench/crawl_speed.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.crawl_speed import run_ours, stored  # noqa: E402
from bench.measure import Run, compile_project, run_measured  # noqa: E402
from bench.synthetic_site import make_site, nginx, site_file  # noqa: E402

TARGET = 1.3


def crawl_and_rebuild(articles: int, data: Path, work: Path) -> tuple[Run, Run]:
    site = make_site(data / f"site-{articles}", articles)
    with nginx(site) as origin:
        toml = site_file(work, origin)
        archive = work / "archive"
        crawl = run_ours(toml, archive, work, 16, [], [])
    lines, texts = stored(archive)
    if crawl.returncode != 0 or lines != articles or texts != articles:
        raise SystemExit(f"FAILED: crawl of {articles} stored {lines} manifest lines and {texts} texts")
    out = work / "rebuilt"
    command = [sys.executable, "-m", "scrapy", "rebuild", str(archive / "warc"), "--site", str(toml)]
    command += ["-s", f"ARCHIVE_DIR={out}", "-s", "LOG_LEVEL=INFO"]
    rebuild = run_measured(command, cwd=ROOT, log=work / "rebuild.log")
    if rebuild.returncode != 0 or stored(out) != (articles, articles):
        raise SystemExit(f"FAILED: rebuild of {articles} gave {stored(out)} (exit code {rebuild.returncode})")
    return crawl, rebuild


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "arshif-bench")
    args = parser.parse_args()
    compile_project(ROOT)
    runs = {}
    for articles in (args.small, args.large):
        work = Path(tempfile.mkdtemp(prefix=f"memory-{articles}-"))
        try:
            runs[articles] = crawl_and_rebuild(articles, args.data, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    mib = 2**20
    print(f"peak RSS, MiB            {args.small:>8} {args.large:>8}   ratio (target <= {TARGET})")
    ok = True
    for index, name in enumerate(("crawl", "rebuild")):
        small, large = runs[args.small][index], runs[args.large][index]
        for label, a, b in (
            (f"{name}, its own process", small.max_rss, large.max_rss),
            (f"{name}, with its workers", small.peak_tree_rss, large.peak_tree_rss),
        ):
            ratio = b / a
            ok = ok and ratio <= TARGET
            print(f"{label:<26}{a / mib:6.0f}   {b / mib:6.0f}   {ratio:5.2f}x")
    for articles, (crawl, rebuild) in runs.items():
        print(f"{articles} articles: crawl {crawl.seconds:.1f} s, rebuild {rebuild.seconds:.1f} s")
    if not ok:
        raise SystemExit("a ratio is above the target")


if __name__ == "__main__":
    main()
