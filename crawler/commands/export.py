"""`scrapy export -o FILE`: the corpus, or a filtered part of it, as JSONL or Parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.exceptions import UsageError

from crawler.corpus import Corpus, CorpusError
from crawler.export import FORMATS, export
from crawler.offline import OfflineCommand
from crawler.progress import progress
from crawler.sites import SiteFileError, load_site


class Command(OfflineCommand):

    def syntax(self) -> str:
        return "-o FILE.jsonl|FILE.parquet [options]"

    def short_desc(self) -> str:
        return "Export the corpus (text and every manifest key) to JSONL or Parquet"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="FILE", required=True, help="FILE.jsonl or FILE.parquet")
        parser.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
        parser.add_argument("--site", metavar="NAME_OR_PATH", help="only this site's documents")
        for kind in ("published", "fetched"):
            parser.add_argument(f"--{kind}-from", metavar="DATE", help=f"{kind} on or after DATE (ISO 8601)")
            parser.add_argument(f"--{kind}-until", metavar="DATE", help=f"{kind} on or before DATE (a date: that whole day)")
        parser.add_argument(
            "--after", metavar="POSITION", help="only documents added since POSITION (printed by an earlier export)"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        archive_dir = self.archive()
        if args:
            raise UsageError(f"unexpected arguments: {' '.join(args)}")
        output = Path(opts.output)
        if output.suffix.lower() not in FORMATS:
            raise UsageError(f"unknown output format {output.suffix or output.name!r}: use .jsonl or .parquet", print_help=False)
        if output.exists() and not opts.overwrite:
            raise UsageError(f"{output} exists: add --overwrite to replace it", print_help=False)
        try:
            site = load_site(opts.site).name if opts.site else None
            corpus = Corpus(archive_dir)
            end = corpus.position()
            documents = corpus.documents(
                site=site,
                published_from=opts.published_from,
                published_until=opts.published_until,
                fetched_from=opts.fetched_from,
                fetched_until=opts.fetched_until,
                after=opts.after,
                skip_missing=True,
            )
            # The filters are checked now, before anything is written: the reader is lazy.
            first = next(documents, None)
        except (CorpusError, SiteFileError) as e:
            raise UsageError(str(e), print_help=False) from e

        def all_documents():  # type: ignore[no-untyped-def]
            if first is not None:
                yield first
                yield from documents

        with progress("export", "documents", every=self.every()) as update:
            count = export(all_documents(), output, update, fsync=self.settings.getbool("ARCHIVE_FSYNC"))
        print(f"{output}: {count} documents")
        # A later export of only what is new: --after this.
        print(f"position: {end}")
        for missing in corpus.missing:
            print(f"error: {missing}", file=sys.stderr)
        if corpus.missing:
            self.exitcode = 1
