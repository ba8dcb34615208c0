"""What the commands that work on an archive without crawling share (rebuild, export, index, wacz, report)."""

from __future__ import annotations

from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.utils.log import configure_logging


class OfflineCommand(ScrapyCommand):
    requires_project = True
    # Nothing is crawled: no reactor, no spiders loaded, and one thread to fork worker processes from.
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "INFO"}

    def archive(self) -> Path:
        """ARCHIVE_DIR, once Scrapy's log format and level are set up as a crawl would have them."""
        assert self.settings is not None
        configure_logging(self.settings)
        return Path(self.settings.get("ARCHIVE_DIR"))

    def every(self) -> float:
        """Seconds between progress lines in a log (crawler.progress)."""
        assert self.settings is not None
        return self.settings.getfloat("LOGSTATS_INTERVAL")
