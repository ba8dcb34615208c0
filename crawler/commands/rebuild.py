"""`scrapy rebuild SOURCE...`: the text corpus and manifest from WARC files, offline."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from scrapy.exceptions import UsageError
from scrapy.utils.log import log_scrapy_info

from crawler.cdx import indexed_sites, lookup
from crawler.offline import OfflineCommand
from crawler.progress import progress
from crawler.rebuild import SiteFor, find_warc_files, rebuild
from crawler.sites import SiteFileError, all_bundled_sites, load_site


class Command(OfflineCommand):

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
            "--workers", type=int, default=0, metavar="N", help="processes that read and extract (default: one per core)"
        )
        parser.add_argument(
            "--url",
            action="append",
            metavar="URL",
            help="only this URL's captures (repeatable), found through the CDXJ index of the archive "
            "whose warc/ folder is SOURCE (see `scrapy index`)",
        )
        parser.add_argument(
            "--check-digests",
            action="store_true",
            help="skip records whose WARC digests do not match their bytes "
            "(by default they are reported, as `warcio check` does, and still used)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        archive_dir = self.archive()
        log_scrapy_info(self.settings)
        if not args:
            raise UsageError("name at least one WARC file or folder")
        if opts.workers < 0:
            raise UsageError("--workers must be 0 (one per core) or more", print_help=False)
        try:
            site_for = SiteFor((load_site(opts.site),), every_url=True) if opts.site else SiteFor(tuple(all_bundled_sites()))
            files = captures_of(opts.url, args) if opts.url else find_warc_files(args)
        except (SiteFileError, FileNotFoundError, LookupError) as e:
            raise UsageError(str(e), print_help=False) from e

        with progress("rebuild", "records", every=self.every()) as update:
            summary = rebuild(
                files,
                archive_dir,
                site_for,
                workers=opts.workers,
                fsync=self.settings.getbool("ARCHIVE_FSYNC"),
                progress=update,
                check_digests=opts.check_digests,
            )
        print(f"rebuild of {len(files)} WARC file(s) into {archive_dir}:")
        for line in summary.lines():
            print(f"  {line}")
        for error in summary.errors:
            print(f"  error: {error}", file=sys.stderr)
        if summary.errors:
            self.exitcode = 1
        # The process ends now: the collection Python makes on the way out would walk every
        # object for nothing (about 0.1 s).
        gc.freeze()


def captures_of(urls: list[str], sources: list[str]) -> list[Path]:
    """The capture files of these URLs, from the CDXJ index of each source archive (SOURCE = ARCHIVE/warc or ARCHIVE)."""
    files: set[Path] = set()
    for source in map(Path, sources):
        archive = source.parent if source.name == "warc" else source
        sites = indexed_sites(archive)
        if not sites:
            raise LookupError(f"no CDXJ index in {archive / 'index'}: build it with `scrapy index -s ARCHIVE_DIR={archive}`")
        for url in urls:
            found = [archive / e.filename for site in sites for e in lookup(archive, site, url)]
            if not found:
                raise LookupError(f"{url}: no capture of it in the index of {archive}")
            files.update(found)
    return sorted(files)
