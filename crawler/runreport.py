"""A report per crawl run: ARCHIVE_DIR/runs/<site>/<start time>.json, and a summary at the end of the log.

The scheduler that runs the crawl reads the JSON; a person reads the log.
Every figure comes from the crawl's own stats, so the report says what the
stats say.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.health import HISTORY, find_alerts, health_figures
from crawler.store.atomic import publish_bytes
from crawler.store.diskfull import final_reason, is_disk_full

logger = logging.getLogger(__name__)

# Report key -> the stats key it reads.
_COUNTS = {
    "pages_fetched": "downloader/response_count",
    "bytes_received": "downloader/response_bytes",
    "captures_written": "warc/captures_written",
    "captures_already_stored": "warc/captures_existing",
    "documents_new": "text/documents_new",
    "documents_updated": "text/documents_updated",
    "documents_unchanged": "text/documents_unchanged",
    "not_modified": "news/not_modified",
    "skipped_not_new": "news/not_new_skipped",
    "skipped_useless": "news/useless_link_skipped",
    "skipped_robots_txt": "robotstxt/forbidden",
    "skipped_listing_depth": "news/listing_depth_skipped",
    "invalid_sitemaps": "news/sitemap_invalid",
    "invalid_feeds": "news/feed_invalid",
}
# Stats prefixes whose keys are failures, by reason.
_FAILURES = {
    "fetch_failed": "news/fetch_failed/",
    "no_document": "text/no_document/",
    "http_status": "downloader/response_status_count/",
    "download_error": "downloader/exception_type_count/",
}


class RunReport:
    def __init__(self, crawler: Crawler, archive_dir: Path) -> None:
        self.crawler = crawler
        self.archive_dir = archive_dir
        self.started = datetime.now(UTC)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        if not crawler.settings.getbool("RUN_REPORT_ENABLED"):
            raise NotConfigured("RUN_REPORT_ENABLED is off")
        report = cls(crawler, Path(crawler.settings.get("ARCHIVE_DIR")))
        crawler.signals.connect(report.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(report.spider_closed, signal=signals.spider_closed)
        return report

    def spider_opened(self, spider: Spider) -> None:
        self.started = datetime.now(UTC)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        site_file = getattr(spider, "site", None)
        site = getattr(site_file, "name", spider.name)
        report = self.build(site, final_reason(self.crawler, reason))
        name = self.started.strftime("%Y%m%dT%H%M%S.%fZ") + ".json"
        path = self.archive_dir / "runs" / site / name
        report["health"] = health_figures(self.crawler.stats.get_stats(), site_file)
        report["alerts"] = find_alerts(report["health"], _earlier_health(path.parent, name), site_file)
        for alert in report["alerts"]:
            logger.warning("Site %s: alert (%s): %s", site, alert["kind"], alert["message"])
        self.crawler.stats.set_value("health/alerts", len(report["alerts"]))
        data = (json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        try:
            publish_bytes(path, data)
        except OSError as e:
            if not is_disk_full(e):
                raise
            # The crawl has said the disk is full; the summary still goes to the log.
            logger.error("Run report not written (disk full): %s", path)
        else:
            logger.info("Run report %s: %s", path, _summary(report))
            return
        logger.info("Run summary: %s", _summary(report))

    def build(self, site: str, reason: str) -> dict[str, Any]:
        stats = self.crawler.stats.get_stats()
        finished = datetime.now(UTC)
        report: dict[str, Any] = {
            "site": site,
            "started": self.started.isoformat(),
            "finished": finished.isoformat(),
            "duration_s": round((finished - self.started).total_seconds(), 3),
            "finish_reason": reason,
        }
        report.update({key: int(stats.get(stat, 0)) for key, stat in _COUNTS.items()})
        failures: dict[str, dict[str, int]] = {}
        for kind, prefix in _FAILURES.items():
            found = {k.removeprefix(prefix): int(v) for k, v in stats.items() if k.startswith(prefix)}
            if kind == "http_status":
                found = {code: n for code, n in found.items() if code.isdigit() and int(code) >= 400}
            # A request robots.txt forbids is dropped with IgnoreRequest: a rule obeyed, not a failure.
            found.pop("scrapy.exceptions.IgnoreRequest", None)
            if found:
                failures[kind] = dict(sorted(found.items()))
        report["failures"] = failures
        return report


def _earlier_health(folder: Path, this_run: str) -> list[dict[str, Any]]:
    """The health figures of the site's earlier run reports, oldest first (a report unreadable or without them is left out)."""
    earlier = []
    names = sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []
    for name in names[-4 * HISTORY :]:
        if name >= this_run:
            continue
        try:
            health = json.loads((folder / name).read_text(encoding="utf-8")).get("health")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(health, dict):
            earlier.append(health)
    return earlier


def _summary(report: dict[str, Any]) -> str:
    failures = sum(n for kinds in report["failures"].values() for n in kinds.values())
    return (
        f"{report['pages_fetched']} pages fetched ({report['bytes_received']} bytes), "
        f"{report['captures_written']} captures written, {report['documents_new']} new documents, "
        f"{report['documents_updated']} updated, {report['documents_unchanged']} unchanged, "
        f"{report['not_modified']} not modified, {report['skipped_not_new']} skipped as not new, "
        f"{failures} failures, {len(report.get('alerts', []))} alerts, {report['duration_s']} s"
    )
