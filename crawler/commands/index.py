"""`scrapy index [--site NAME_OR_PATH]`: bring the CDXJ index of each site's captures up to date."""

from __future__ import annotations

import argparse

from scrapy.exceptions import UsageError

from crawler.cdx import captured_sites, index_path, update_index
from crawler.offline import OfflineCommand
from crawler.progress import progress
from crawler.sites import SiteFileError, load_site


class Command(OfflineCommand):

    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "Add every capture not yet indexed to ARCHIVE_DIR/index/<site>.cdxj (a crawl does it too)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--site", metavar="NAME_OR_PATH", help="one site (default: every site under ARCHIVE_DIR/warc/)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        archive_dir = self.archive()
        if args:
            raise UsageError("no arguments: the archive is -s ARCHIVE_DIR=DIR, one site is --site NAME")
        warc_dir = archive_dir / "warc"
        if opts.site:
            try:
                sites = [load_site(opts.site).name]
            except SiteFileError as e:
                raise UsageError(str(e), print_help=False) from e
        else:
            sites = captured_sites(archive_dir)
        missing = [s for s in sites if not (warc_dir / s).is_dir()]
        if not sites or missing:
            raise UsageError(f"no captures to index: {warc_dir / (missing[0] if missing else '')} does not exist", print_help=False)
        fsync = self.settings.getbool("ARCHIVE_FSYNC")
        for site in sites:
            with progress(f"index {site}", "files", every=self.every()) as update:
                added = update_index(archive_dir, site, update, fsync)
            print(f"{index_path(archive_dir, site)}: {added} capture files added")
