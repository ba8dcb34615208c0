"""Settings derived from other settings, after the command line has had its say."""

from __future__ import annotations

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler import __version__


class ArshifAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        # A User-Agent set by the user (project file or -s) wins; otherwise it
        # is built here so that `-s CONTACT_URL=...` alone is enough.
        if settings.getpriority("USER_AGENT") == SETTINGS_PRIORITIES["default"]:
            settings.set("USER_AGENT", f"arshif/{__version__} (+{settings.get('CONTACT_URL')})", priority="addon")
