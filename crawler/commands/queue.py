"""`scrapy queue SITE`: the state of a site's shared crawl in Redis (REDIS_URL), read only."""

from __future__ import annotations

import argparse

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.scaleout import is_shared
from crawler.sites import SiteFileError, load_site


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[options] SITE"

    def short_desc(self) -> str:
        return "Show a shared crawl's queue: pending, seen, leased, workers alive (needs REDIS_URL)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if len(args) != 1:
            raise UsageError("name one site: a bundled NAME or the path of a site file")
        if not is_shared(self.settings):
            raise UsageError("no shared crawl to show: set -s REDIS_URL=redis://host:6379/0", print_help=False)
        try:
            site = load_site(args[0])
        except SiteFileError as e:
            raise UsageError(str(e), print_help=False) from e
        from crawler.scaleout.link import Keys, RedisUnavailable, connect, shown_url
        from crawler.scaleout.queue import queue_status

        try:
            client = connect(self.settings)
        except RedisUnavailable as e:
            raise UsageError(str(e), print_help=False) from e
        status = queue_status(client, Keys.for_site(self.settings, site.name))
        alive = {w: v for w, v in status.workers.items() if v[0] > 0}
        print(f"site {site.name} on {shown_url(self.settings.get('REDIS_URL'))}")
        print(f"run:      {'under way' if status.run_under_way else 'none (the next worker to start seeds a new one)'}")
        print(f"pending:  {status.pending}")
        print(f"seen:     {status.seen}")
        print(f"leased:   {status.leased}")
        print(f"workers alive: {len(alive)}")
        for worker, (left, held) in sorted(status.workers.items()):
            state = f"lease runs out in {left:.1f}s" if left > 0 else "gone (its requests go back to the queue)"
            print(f"  {worker}: {held} requests, {state}")
