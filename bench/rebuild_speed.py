"""Rebuild speed: `scrapy rebuild` against warcio + trafilatura by hand, on the WARC files of a real crawl.

    .venv/bin/python bench/rebuild_speed.py [--articles 3000] [--warcs DIR --site FILE] [--repeat 3]

Without --warcs, crawls the synthetic site of --articles pages of 40-80 KB
(bench/synthetic_site.py, served by nginx) with `scrapy crawl news`, as
bench/crawl_speed.py does (ARCHIVE_FSYNC off, to make it faster), into a
temporary archive, or into --keep DIR. With --warcs DIR (a crawl's warc/
folder or one inside it) it needs the site file of that crawl, --site.
Then, on the same WARC files, one after the other, --repeat times each:

- by hand: one process reads every record with warcio's ArchiveIterator
  and runs trafilatura.extract on the body of every article response (the
  responses whose URL the site file calls an article); what a user
  without this tool would write. It stores nothing, and only its loop is
  timed, not its imports;
- rebuild: `scrapy rebuild WARCS --site FILE` into a new archive folder,
  as a user runs it: a subprocess, the project's settings (one worker per
  core, ARCHIVE_FSYNC on), timed from start to exit.

Before each run the previous output is deleted and the disk synced. The
figures are documents per second; the ratio is taken between the medians
(and, for reference, the best runs). The rebuilt text/ tree must equal
the crawl's byte for byte, and the manifest's lines the crawl's (compared
as sorted lines: the crawl appends them in the order pages were stored,
the rebuild in capture-date order); otherwise the benchmark fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from warcio.archiveiterator import ArchiveIterator  # noqa: E402

from bench.crawl_speed import run_ours  # noqa: E402
from bench.measure import compile_project  # noqa: E402
from bench.synthetic_site import make_site, nginx, site_file  # noqa: E402
from crawler.rebuild import find_warc_files  # noqa: E402
from crawler.sites import load_site  # noqa: E402

TARGET = 1.6


def crawl(articles: int, data: Path, archive: Path, work: Path) -> Path:
    """A crawl of the synthetic site into ``archive``; the site file it used."""
    site = make_site(data / f"site-{articles}", articles)
    with nginx(site) as origin:
        toml = site_file(work, origin)
        run = run_ours(toml, archive, work, 16, ["ARCHIVE_FSYNC=False"], [])
    stored = (archive / "manifest.jsonl").read_bytes().count(b"\n")
    if run.returncode != 0 or stored != articles:
        raise SystemExit(f"FAILED: the crawl stored {stored} of {articles} articles, exit code {run.returncode}")
    return toml


def crawl_archive(warcs: Path) -> Path:
    """The archive the WARC files belong to: the folder above them with a manifest and a text/ tree."""
    for folder in [warcs, *warcs.parents]:
        if (folder / "manifest.jsonl").is_file() and (folder / "text").is_dir():
            return folder
    raise SystemExit(f"FAILED: no crawl archive (manifest.jsonl, text/) above {warcs} to compare the rebuild with")


def by_hand(files: list[Path], site_toml: Path) -> tuple[int, float]:
    site = load_site(str(site_toml))
    start = time.perf_counter()
    documents = 0
    for path in files:
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type != "response":
                    continue
                if not site.is_article(record.rec_headers.get_header("WARC-Target-URI") or ""):
                    continue
                if trafilatura.extract(record.content_stream().read()):
                    documents += 1
    return documents, time.perf_counter() - start


def rebuild(warcs: Path, site_toml: Path, out: Path) -> float:
    command = [sys.executable, "-m", "scrapy", "rebuild", str(warcs), "--site", str(site_toml), "-s", f"ARCHIVE_DIR={out}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"FAILED: scrapy rebuild exited with {done.returncode}:\n{done.stdout}\n{done.stderr[-3000:]}")
    return seconds


def settle(out: Path) -> None:
    """Nothing of the last run still on its way to the disk when the next one starts."""
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    time.sleep(1)


def compare(crawled: Path, rebuilt: Path) -> tuple[int, int]:
    """Fail unless the rebuilt texts and manifest lines are the crawl's; (texts, lines)."""
    texts = {p.relative_to(crawled): p for p in (crawled / "text").rglob("*") if p.is_file()}
    again = {p.relative_to(rebuilt): p for p in (rebuilt / "text").rglob("*") if p.is_file()}
    if texts.keys() != again.keys():
        raise SystemExit(f"FAILED: {len(texts.keys() - again.keys())} texts missing, {len(again.keys() - texts.keys())} extra")
    differ = [name for name, path in texts.items() if path.read_bytes() != again[name].read_bytes()]
    if differ:
        raise SystemExit(f"FAILED: {len(differ)} texts differ, e.g. {differ[0]}")
    lines = sorted((crawled / "manifest.jsonl").read_bytes().splitlines())
    if sorted((rebuilt / "manifest.jsonl").read_bytes().splitlines()) != lines:
        raise SystemExit("FAILED: the rebuilt manifest's lines are not the crawl's")
    return len(texts), len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=3000, help="pages of the synthetic site to crawl (without --warcs)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "arshif-bench", help="where the site is made")
    parser.add_argument("--keep", type=Path, help="crawl into this archive folder and keep it")
    parser.add_argument("--warcs", type=Path, help="the WARC files of an existing crawl (its warc/ folder)")
    parser.add_argument("--site", type=Path, help="the site file of that crawl (with --warcs)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compile_project(ROOT)
    if (args.warcs is None) != (args.site is None):
        parser.error("--warcs and --site go together")

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rebuild-bench-")))
        if args.warcs is None:
            archive = args.keep or work / "crawl"
            print(f"crawling {args.articles} articles into {archive} ...", flush=True)
            site_toml = crawl(args.articles, args.data, archive, work)
            warcs = archive / "warc"
        else:
            warcs, site_toml = args.warcs, args.site
            archive = crawl_archive(warcs)
        files = find_warc_files([warcs])
        megabytes = sum(path.stat().st_size for path in files) / 2**20
        for path in files:  # every run reads from the page cache, the first as the others
            path.read_bytes()

        out = work / "rebuilt"
        hand_runs: list[float] = []
        rebuild_runs: list[float] = []
        documents = 0
        for _ in range(args.repeat):
            settle(out)
            documents, seconds = by_hand(files, site_toml)
            hand_runs.append(seconds)
            settle(out)
            rebuild_runs.append(rebuild(warcs, site_toml, out))
        texts, lines = compare(archive, out)

    print(f"\n{len(files)} WARC files ({megabytes:.0f} MB) of {archive}, {lines} documents, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n")
    print(f"{'':<48}{'docs':>6}{'median s':>10}{'best s':>8}{'docs/s':>8}   runs (s)")
    rows = (
        ("by hand: warcio + trafilatura.extract, 1 proc", documents, hand_runs),
        ("scrapy rebuild: subprocess, default settings", lines, rebuild_runs),
    )
    for name, docs, runs in rows:
        median = statistics.median(runs)
        print(f"{name:<48}{docs:6d}{median:10.2f}{min(runs):8.2f}{docs / median:8.1f}   {' '.join(f'{r:.2f}' for r in runs)}")
    ratio = (lines / statistics.median(rebuild_runs)) / (documents / statistics.median(hand_runs))
    best = (lines / min(rebuild_runs)) / (documents / min(hand_runs))
    print(f"\nrebuild / by hand: {ratio:.2f}x docs/s (medians; best runs {best:.2f}x), target >= {TARGET}x: "
          f"{'met' if ratio >= TARGET else 'NOT met'}")
    print(f"rebuilt archive equals the crawl's: {texts} text files byte for byte, {lines} manifest lines")


if __name__ == "__main__":
    main()
