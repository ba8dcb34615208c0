"""`scrapy crawl`, checking the site file before the crawler starts.

The spider would reject a bad site file too, but only once the crawl is
being set up, with a traceback; a scheduled job should get one clear line
naming the file and the key, and no request sent. The same goes for a
second crawl of a site that is still being crawled: the lock on the site's
state is taken here and held until the process ends.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from scrapy.settings import BaseSettings

from crawler.cdx import stale_index_files
from crawler.scaleout import REDIS_LOST_REASON, is_shared
from crawler.sites import SiteFileError, load_site, site_from_url
from crawler.store.atomic import sweep_temporary
from crawler.store.diskfull import DISK_FULL_REASON
from crawler.store.state import CrawlLock, CrawlLockError
from spiders.news import NewsSpider


class Command(ScrapyCrawlCommand):
    _crawler: Crawler | None = None

    def _create_crawler(self, spname: str) -> Crawler:
        # Kept, to read how the crawl finished once it has.
        self._crawler = super()._create_crawler(spname)
        return self._crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            try:
                spider_cls = self.crawler_process.spider_loader.load(args[0])
            except KeyError as e:
                raise UsageError(f"no spider named {args[0]!r} (see `scrapy list`)", print_help=False) from e
            if issubclass(spider_cls, NewsSpider):
                url = opts.spargs.get("url")
                ref = opts.spargs.get("site") or spider_cls.site_ref
                if url and opts.spargs.get("site"):
                    raise UsageError("give the news spider a site file (-a site=...) or an address (-a url=...), not both", print_help=False)
                if not (ref or url):
                    raise UsageError("the news spider needs a site: -a site=NAME_OR_PATH, or -a url=URL", print_help=False)
                try:
                    site = site_from_url(url) if url else load_site(ref)
                except SiteFileError as e:
                    raise UsageError(str(e), print_help=False) from e
                assert self.settings is not None
                archive = Path(self.settings.get("ARCHIVE_DIR"))
                shared = is_shared(self.settings)
                if shared:
                    _check_redis(self.settings)
                lock = CrawlLock(archive, site.name)
                try:
                    if shared:
                        alone = lock.acquire_shared()
                    else:
                        lock.acquire()
                        alone = True
                except CrawlLockError as e:
                    raise UsageError(f"site {site.name}: {e}", print_help=False) from e
                if alone:
                    # With the lock held alone, no other writer of this site's folders is alive
                    # here: temporary files there are what a killed run left.
                    sweep_temporary(*(archive / kind / site.name for kind in ("text", "warc", "runs")))
                    for stray in stale_index_files(archive, site.name):
                        stray.unlink(missing_ok=True)
                    if shared:
                        lock.share()
                try:
                    super().run(args, opts)
                finally:
                    lock.release()
                self._fail_unless_finished()
                return
        super().run(args, opts)

    def _fail_unless_finished(self) -> None:
        """A crawl stopped by a full disk or a lost Redis exits non-zero, so that a scheduler sees it.

        A crawl that finished with health alerts (crawler.health) exits with ALERT_EXIT_CODE, when
        it is set: cron mails a run whose exit code is not 0.
        """
        stats = self._crawler.stats if self._crawler is not None else None
        if stats is None:
            return
        if stats.get_value("finish_reason") in (DISK_FULL_REASON, REDIS_LOST_REASON) or stats.get_value("news/no_article_found"):
            self.exitcode = 1
        elif stats.get_value("health/alerts") and self._crawler.settings.getint("ALERT_EXIT_CODE"):
            self.exitcode = self._crawler.settings.getint("ALERT_EXIT_CODE")


def _check_redis(settings: BaseSettings) -> None:
    """Redis answers, or one clear line and no request sent."""
    from crawler.scaleout.link import RedisUnavailable, connect

    try:
        connect(settings).close()
    except RedisUnavailable as e:
        raise UsageError(str(e), print_help=False) from e
