"""`scrapy newsite URL -o FILE.toml [--pages N] [--overwrite]`: a site file written from a short crawl of the site."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.newsite import Findings, agreed_selectors, site_file_text
from crawler.sites import SiteFileError, load_site, site_from_url
from crawler.store.atomic import replace
from spiders.news import NewsSpider


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_LEVEL": "INFO"}

    def syntax(self) -> str:
        return "URL -o FILE.toml [options]"

    def short_desc(self) -> str:
        return "Discover a site's sitemaps, feeds and article URLs in a short crawl, and write a site file for it"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="FILE.toml", required=True, help="the site file to write")
        parser.add_argument("--pages", type=int, default=80, metavar="N", help="at most this many pages fetched (default: 80)")
        parser.add_argument("--overwrite", action="store_true", help="replace FILE.toml if it exists")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None and self.crawler_process is not None
        if len(args) != 1:
            raise UsageError("give one address: scrapy newsite URL -o FILE.toml", print_help=False)
        try:
            site = site_from_url(args[0])
        except SiteFileError as e:
            raise UsageError(str(e), print_help=False) from e
        out = Path(opts.output)
        if out.exists() and not opts.overwrite:
            raise UsageError(f"{out} exists: add --overwrite to replace it", print_help=False)
        if opts.pages < 1:
            raise UsageError("--pages must be at least 1", print_help=False)

        # The discovery's captures and texts are its own: a temporary archive, removed after.
        with tempfile.TemporaryDirectory(prefix="newsite-") as scratch:
            self.settings.set("ARCHIVE_DIR", scratch, priority="cmdline")
            self.settings.set("CLOSESPIDER_PAGECOUNT", opts.pages, priority="cmdline")
            self.settings.set("RUN_REPORT_ENABLED", False, priority="cmdline")
            crawler = self.crawler_process.create_crawler(NewsSpider)
            self.crawler_process.crawl(crawler, url=args[0])
            self.crawler_process.start()
            spider = crawler.spider
            assert isinstance(spider, NewsSpider) and spider.learner is not None
            found = Findings(site, spider.discovered, spider.learner, int(crawler.stats.get_value("health/documents", 0)))
            if not found.documents or not found.learner.article_shapes():
                print(f"No article found from {args[0]} in {opts.pages} pages at most: no site file written (see the log above)")
                self.exitcode = 1
                return
            found.selectors = agreed_selectors(Path(scratch), site.name)

        text = site_file_text(found)
        staged = out.with_name(out.name + ".check.toml")
        staged.write_text(text, encoding="utf-8")
        try:
            load_site(str(staged))  # what is written passes validation as it is
        finally:
            staged.unlink()
        data = text.encode("utf-8")
        replace(out, lambda f: f.write(data))
        print(f"Site file written: {out} ({found.documents} articles read; review it, then: scrapy crawl news -a site={out})")
