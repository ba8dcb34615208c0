"""Scale-out: articles stored per second by 1, 2 and 4 worker processes sharing one Redis.

    .venv/bin/python bench/scaleout.py [--articles 3000] [--processes 1 2 4] [--concurrency 16]

Generates (once) the synthetic site of bench/synthetic_site.py, serves it
from disk with Debian's nginx, starts Debian's redis-server on 127.0.0.1,
and in this one run crawls the site:

- for context, one `scrapy crawl news` without Redis, on every core;
- then N workers (`-s REDIS_URL=...`, started at the same moment) for each
  N, into a fresh archive and an emptied Redis. Each worker stands for a
  one-core machine: it is pinned to one core (worker i to core i mod the
  number of cores, its extraction process with it, TEXT_WORKERS=1), so
  the figures show what adding machines adds, up to the cores there are.
  nginx and Redis are not pinned.

Politeness is opened up (no delay, no AutoThrottle, the same concurrency per
process). Workers end a run after REDIS_IDLE_CLOSE=1 s of idleness (5 s by
default), which counts in their time. Every run must store every article
(the manifest is counted) and each archive must hold the same text files;
the benchmark fails otherwise. Times are wall-clock, from the start of the
first process to the exit of the last, start-up included.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.crawl_speed import _flags, open_politeness, stored  # noqa: E402
from bench.synthetic_site import make_site, nginx, site_file  # noqa: E402
from tests.servers import RedisServer  # noqa: E402


def crawl(toml: Path, archive: Path, work: Path, n: int, settings: dict[str, str], pin: bool) -> tuple[float, list[int]]:
    """N crawl processes started together; wall seconds until the last exits, and their exit codes."""
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={toml}", *_flags(settings)]
    cores = sorted(os.sched_getaffinity(0))
    start = time.perf_counter()
    procs = []
    for i in range(n):
        log = (work / f"{archive.name}-{i}.log").open("w")
        core = {cores[i % len(cores)]}
        # The worker and every process it starts stay on its one core.
        affinity = (lambda core=core: os.sched_setaffinity(0, core)) if pin else None
        procs.append(subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=affinity))
    codes = [p.wait() for p in procs]
    return time.perf_counter() - start, codes


def texts(archive: Path) -> set[str]:
    return {p.relative_to(archive / "text").as_posix() for p in (archive / "text").rglob("*.txt")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "arshif-bench")
    args = parser.parse_args()

    site = make_site(args.data / f"site-{args.articles}", args.articles)
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="scaleout-bench-") as tmp, nginx(site) as origin:
        work = Path(tmp)
        toml = site_file(work, origin)
        redis = RedisServer(work / "redis")
        try:
            base = {**open_politeness(args.concurrency), "LOG_LEVEL": "INFO"}
            single = work / "single"
            seconds, codes = crawl(toml, single, work, 1, {**base, "ARCHIVE_DIR": str(single)}, pin=False)
            rows.append((f"one process, {cores} cores, no Redis", seconds, codes, single))
            for n in args.processes:
                redis.client().flushall()
                archive = work / f"shared-{n}"
                settings = {
                    **base,
                    "ARCHIVE_DIR": str(archive),
                    "REDIS_URL": redis.url,
                    "REDIS_IDLE_CLOSE": "1",
                    "TEXT_WORKERS": "1",
                }
                seconds, codes = crawl(toml, archive, work, n, settings, pin=True)
                used = min(n, cores)
                rows.append((f"{n} worker{'s' if n > 1 else ''} on {used} core{'s' if used > 1 else ''}", seconds, codes, archive))
            expected = texts(single)
            results = [(name, seconds, codes, stored(archive)[0], texts(archive) == expected) for name, seconds, codes, archive in rows]
        finally:
            redis.stop()
            shutil.rmtree(work / "redis", ignore_errors=True)

    print(f"{args.articles} articles of 40-80 KB served by nginx, concurrency {args.concurrency} per process, {cores} cores\n")
    print(f"{'':<30}{'seconds':>9}{'articles/s':>12}{'vs 1 worker':>13}")
    one_worker = next((r for r in results[1:] if r[0].startswith("1 worker ")), None)
    base_rate = one_worker[3] / one_worker[1] if one_worker else None
    failed = []
    for name, seconds, codes, lines, same in results:
        rate = lines / seconds
        ratio = f"{rate / base_rate:12.2f}x" if base_rate and name != results[0][0] else ""
        print(f"{name:<30}{seconds:9.1f}{rate:12.1f}{ratio}")
        if lines != args.articles or any(codes) or not same:
            failed.append(f"{name}: {lines} manifest lines, exit codes {codes}, same texts as one process: {same}")
    print(
        "\nWith politeness opened up the crawl is bound by the CPU: workers add speed as they add cores "
        "(machines), and workers beyond the cores share them."
    )
    if failed:
        raise SystemExit("FAILED: " + "; ".join(failed))


if __name__ == "__main__":
    main()
