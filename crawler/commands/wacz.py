"""`scrapy wacz -o FILE`: a site's captures, or one crawl run's, as a WACZ package for ReplayWeb.page."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from scrapy.exceptions import UsageError

from crawler.offline import OfflineCommand
from crawler.progress import progress
from crawler.wacz import (
    WaczError,
    capture_files,
    check_output,
    choose_site,
    run_window,
    select_captures,
    write_wacz,
)

logger = logging.getLogger(__name__)


class Command(OfflineCommand):

    def syntax(self) -> str:
        return "-o FILE [--site NAME_OR_PATH] [--run START] [--overwrite]"

    def short_desc(self) -> str:
        return "Pack a site's WARC captures, or one crawl run's, into a WACZ file (ReplayWeb.page, wacz validate)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="FILE", help="the package to write, FILE.wacz")
        parser.add_argument(
            "--site",
            metavar="NAME_OR_PATH",
            help="the site to pack: its name or site file (default: the archive's only site)",
        )
        parser.add_argument(
            "--run",
            metavar="START",
            help="only the captures of this crawl run: the name of its report runs/<site>/START.json, without .json",
        )
        parser.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        archive_dir = self.archive()
        if args:
            raise UsageError(f"unexpected argument {args[0]!r}: the package is named with -o FILE")
        if not opts.output:
            raise UsageError("name the package to write: -o FILE.wacz")
        output = Path(opts.output)
        run = opts.run.removesuffix(".json") if opts.run else None
        try:
            # Every check before anything is written.
            check_output(output, opts.overwrite)
            site = choose_site(archive_dir, opts.site)
            window = run_window(archive_dir, site, run) if run else None
            files = capture_files(archive_dir, site)
            if not files:
                raise WaczError(f"{archive_dir / 'warc' / site}: no captures")
            every = self.settings.getfloat("LOGSTATS_INTERVAL")
            with progress("wacz", "captures", every=every, total=len(files)) as update:
                selection = select_captures(files, window, update)
            for damage in selection.damaged:
                logger.error("Damaged capture left out: %s", damage)
            if not selection.captures:
                raise WaczError(
                    f"run {run} of site {site} wrote no readable captures (an unchanged page is not captured again)"
                    if run
                    else f"{archive_dir / 'warc' / site}: no readable captures"
                )
            logger.info("Packing %d captures of site %s into %s", len(selection.captures), site, output)
            package = write_wacz(
                archive_dir,
                site,
                output,
                selection.captures,
                title=f"{site}, run {run}" if run else site,
                overwrite=opts.overwrite,
                fsync=self.settings.getbool("ARCHIVE_FSYNC"),
            )
        except WaczError as e:
            raise UsageError(str(e), print_help=False) from e
        print(
            f"{package.output}: {package.captures} captures and {package.pages} pages of site {package.site}"
            f"{f' (run {run})' if run else ''}, {package.first:%Y-%m-%dT%H:%M:%SZ} to {package.last:%Y-%m-%dT%H:%M:%SZ}"
        )
        if selection.damaged:
            print(f"{len(selection.damaged)} damaged capture(s) left out (see the log)", file=sys.stderr)
            self.exitcode = 1
