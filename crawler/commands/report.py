"""`scrapy report [--site NAME_OR_PATH] [-o DIR] [--overwrite]`: an HTML page per site of the archive."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from scrapy.exceptions import UsageError

from crawler.offline import OfflineCommand
from crawler.progress import progress
from crawler.report import archive_sites, gather, render_index, render_site
from crawler.sites import SiteFileError, load_site
from crawler.store.atomic import publish_bytes, replace


class Command(OfflineCommand):

    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "Write an HTML page per site: documents per day, failures, captures by status, largest and emptiest texts, runs"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--site", metavar="NAME_OR_PATH", help="one site (default: every site in the archive)")
        parser.add_argument("-o", "--output", metavar="DIR", help="folder of the pages (default: ARCHIVE_DIR/report)")
        parser.add_argument("--overwrite", action="store_true", help="replace pages written before")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        archive_dir = self.archive()
        if args:
            raise UsageError(f"unexpected arguments: {' '.join(args)} (the archive is -s ARCHIVE_DIR=DIR)", print_help=False)
        if not (archive_dir / "manifest.jsonl").is_file():
            raise UsageError(
                f"{archive_dir} is not an archive: it has no manifest.jsonl (point -s ARCHIVE_DIR=DIR at one)", print_help=False
            )
        present = archive_sites(archive_dir)
        if not present:
            raise UsageError(f"{archive_dir} holds no site yet: nothing to report", print_help=False)
        sites = [_site_in(opts.site, present, archive_dir)] if opts.site else present
        out_dir = Path(opts.output) if opts.output else archive_dir / "report"
        if out_dir.exists() and not out_dir.is_dir():
            raise UsageError(f"{out_dir} is not a folder", print_help=False)
        pages = {site: f"{site}.html" for site in sites}
        targets = [out_dir / name for name in pages.values()] + ([out_dir / "index.html"] if len(sites) > 1 else [])
        existing = [t for t in targets if t.exists()]
        if existing and not opts.overwrite:
            raise UsageError(f"{existing[0]} exists: add --overwrite to replace it", print_help=False)

        with progress("report", "documents", every=self.every()) as update:
            figures = gather(archive_dir, sites, update)
        generated = datetime.now(UTC)
        fsync = self.settings.getbool("ARCHIVE_FSYNC")
        for site in sites:
            html = render_site(figures[site], archive_dir, out_dir, generated)
            _write(out_dir / pages[site], html, opts.overwrite, fsync)
        if len(sites) > 1:
            _write(out_dir / "index.html", render_index(list(figures.values()), pages, archive_dir, generated), opts.overwrite, fsync)
            print(f"index of {len(sites)} sites: {(out_dir / 'index.html').resolve().as_uri()}")
        for site in sites:
            print(f"report of {site}: {(out_dir / pages[site]).resolve().as_uri()}")


def _site_in(ref: str, present: list[str], archive_dir: Path) -> str:
    """The archive's name of a site given as an archive site name, a bundled name or a site file."""
    if ref in present:
        return ref
    try:
        name = load_site(ref).name
    except SiteFileError as e:
        # A path that names a broken site file says what is wrong with it; a name, which names the archive holds.
        problem = str(e) if ref.endswith(".toml") or "/" in ref else "no such site file or bundled site"
        raise UsageError(f"unknown site {ref!r}: {archive_dir} holds {', '.join(present)}; {problem}", print_help=False) from e
    if name not in present:
        raise UsageError(f"site {name!r} has nothing in {archive_dir} (its sites: {', '.join(present)})", print_help=False)
    return name


def _write(path: Path, html: str, overwrite: bool, fsync: bool) -> None:
    data = html.encode("utf-8")
    if overwrite:
        # The old page stays whole until the new one replaces it.
        replace(path, lambda f: f.write(data), fsync=fsync)
    elif not publish_bytes(path, data, fsync=fsync):
        raise UsageError(f"{path} appeared while the report was being written: add --overwrite to replace it", print_help=False)
