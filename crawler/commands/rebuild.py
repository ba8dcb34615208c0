"""`scrapy rebuild SOURCE...`: the text corpus and manifest from WARC files, offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.rebuild import find_warc_files, log_progress, rebuild
from crawler.sites import Site, SiteFileError, all_bundled_sites, load_site


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_LEVEL": "INFO"}

    def syntax(self) -> str:
        return "[options] SOURCE..."

    def short_desc(self) -> str:
        return "Rebuild text/ and manifest.jsonl from WARC files or folders of them, offline"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--site",
            metavar="NAME_OR_PATH",
            help="site file for every record (default: the bundled site whose domain the record's URL is in)",
        )
        parser.add_argument(
            "--workers", type=int, default=0, metavar="N", help="extraction processes (default: one per core)"
        )
        parser.add_argument(
            "--check-digests",
            action="store_true",
            help="skip records whose WARC digests do not match their bytes "
            "(by default they are reported, as `warcio check` does, and still used)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("name at least one WARC file or folder")
        if opts.workers < 0:
            raise UsageError("--workers must be 0 (one per core) or more", print_help=False)
        try:
            sites = [load_site(opts.site)] if opts.site else all_bundled_sites()
            files = find_warc_files(args)
        except (SiteFileError, FileNotFoundError) as e:
            raise UsageError(str(e), print_help=False) from e
        assert self.settings is not None
        archive_dir = Path(self.settings.get("ARCHIVE_DIR"))

        def site_for(url: str) -> Site | None:
            if opts.site:
                return sites[0]
            return next((s for s in sites if s.owns(url)), None)

        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(unit=" records", desc="rebuild", file=sys.stderr)
        try:
            summary = rebuild(
                files,
                archive_dir,
                site_for,
                workers=opts.workers,
                fsync=self.settings.getbool("ARCHIVE_FSYNC"),
                progress=bar.update if bar is not None else log_progress(self.settings.getfloat("LOGSTATS_INTERVAL")),
                check_digests=opts.check_digests,
            )
        finally:
            if bar is not None:
                bar.close()
        print(f"rebuild of {len(files)} WARC file(s) into {archive_dir}:")
        for line in summary.lines():
            print(f"  {line}")
        for error in summary.errors:
            print(f"  error: {error}", file=sys.stderr)
        if summary.errors:
            self.exitcode = 1
