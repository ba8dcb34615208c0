"""Settings derived from other settings, after the command line has had its say."""

from __future__ import annotations

import scrapy.downloadermiddlewares.cookies
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from tldextract import TLDExtract

from crawler import __version__
from crawler.scaleout import is_shared

# Scrapy's cookie middleware asks tldextract for the public suffix list, and
# tldextract's default downloads it from the internet on first use: a request
# to a third party from every unattended run (a page of tracebacks offline).
# The list bundled with tldextract does the same job and sends nothing.
scrapy.downloadermiddlewares.cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)


class ArshifAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        # A User-Agent set by the user (project file or -s) wins; otherwise it
        # is built here so that `-s CONTACT_URL=...` alone is enough.
        if settings.getpriority("USER_AGENT") == SETTINGS_PRIORITIES["default"]:
            settings.set("USER_AGENT", f"arshif/{__version__} (+{settings.get('CONTACT_URL')})", priority="addon")
        if is_shared(settings):
            _share_on_redis(settings)
        elif settings.getpriority("SCHEDULER") == SETTINGS_PRIORITIES["default"]:
            # Pending requests on disk, not in memory (crawler.frontier).
            settings.set("SCHEDULER", "crawler.frontier.SpooledScheduler", priority="addon")


def _share_on_redis(settings: BaseSettings) -> None:
    """One crawl across several workers: scrapy-redis's scheduler with leases, shared politeness, state in Redis."""
    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

    from crawler.scaleout.link import RedisLink
    from crawler.scaleout.politeness import SharedPoliteness
    from crawler.scaleout.robots import SharedRobotsTxt

    settings.set("SCHEDULER", "crawler.scaleout.scheduler.LeasedScheduler", priority="addon")
    # The shared delay spaces the crawl's requests to a site; each process randomizing its own
    # wait on top would move a request after its reserved time, closer to another worker's.
    settings.set("RANDOMIZE_DOWNLOAD_DELAY", False, priority="addon")
    # Before the worker pool and the committer: the scheduler and the state need it from the start.
    settings.set_in_component_priority_dict("EXTENSIONS", RedisLink, 90)
    # Last before the download handler: after robots.txt, and what waits here is only what will be sent.
    settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", SharedPoliteness, 990)
    # robots.txt read once per host for the whole crawl, in Scrapy's middleware's place.
    settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", RobotsTxtMiddleware, None)
    settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", SharedRobotsTxt, 100)
