"""Settings derived from other settings, after the command line has had its say."""

from __future__ import annotations

import scrapy.downloadermiddlewares.cookies
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from tldextract import TLDExtract

from crawler import __version__

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
