"""A site's health, run by run: figures of what each crawl got, and alerts when they change.

A schedule that runs for months keeps going when a site redesigns (its
selectors match nothing, its texts shrink to a teaser, its dates vanish) or
starts refusing the crawler (a wall of 403s, captcha pages answered with
200). Each run report (crawler.runreport) carries the run's figures under
``health``, and ``alerts``: the figures that moved beyond a threshold from
those of the site's earlier runs (their median, over the last HISTORY runs
that read articles), each with its kind, a message a person understands,
and the figure before and now. A site-file selector that matched nothing
at all is an alert on the first run too, and so is a wall of refusals.

The thresholds are wide on purpose: news sites vary from run to run (a
day of short briefs, an article without a byline), and an alert that
comes every week is one nobody reads.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from crawler.extract.boilerplate import fold
from crawler.sites import Site
from crawler.store.textstore import Document

# Earlier runs whose figures make the "before".
HISTORY = 5
# Fewest article pages in a run for its shares to say anything.
MIN_PAGES = 3
# A selector that matched at least this share before and less than NOW_LOW now has stopped fitting.
SELECTOR_BEFORE = 0.8
SELECTOR_NOW = 0.5
# A no-document reason whose share rose by this much, to at least this much.
NO_DOCUMENT_RISE = 0.3
# The median text shorter than this share of before (which was at least TEXT_BEFORE_MIN characters).
TEXT_SHRINK = 0.5
TEXT_BEFORE_MIN = 200
# Titles, dates or authors found on this much smaller a share of the documents (before at least METADATA_BEFORE).
METADATA_DROP = 0.4
METADATA_BEFORE = 0.6
# Documents holding a site-file boilerplate phrase: at least this share, and this much more than before.
BOILERPLATE_SHARE = 0.2
# Responses refused (403, 429, 503), or article pages that are bot checks: at least this share of them.
REFUSED_SHARE = 0.5
REFUSED_STATUSES = ("403", "429", "503")
MIN_RESPONSES = 5


def boilerplate_kept(text: str, phrases: tuple[str, ...]) -> bool:
    """Whether one of the site file's boilerplate phrases is still in a text (read as the phrases are matched)."""
    if not phrases:
        return False
    folded = fold(text)
    return any(fold(p) in folded for p in phrases)


class HealthTally:
    """What the article pipeline sees of each document of a run, for its health figures."""

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def observe(self, stats: Any, document: Document, text_chars: int, boilerplate: bool) -> None:
        stats.inc_value("health/documents")
        for key, value in (("title", document.title), ("date", document.published), ("author", document.author)):
            if value:
                stats.inc_value(f"health/with_{key}")
        if boilerplate:
            stats.inc_value("health/boilerplate_hits")
        self.lengths.append(text_chars)

    def close(self, stats: Any) -> None:
        if self.lengths:
            stats.set_value("health/text_chars_median", int(statistics.median(self.lengths)))


def health_figures(stats: Mapping[str, Any], site: Site | None) -> dict[str, Any]:
    """The run's figures, from its stats: counts, and shares (None where there was nothing to share)."""
    documents = int(stats.get("health/documents", 0))
    reasons = {
        k.removeprefix("text/no_document/"): int(v)
        for k, v in stats.items()
        if k.startswith("text/no_document/") and k != "text/no_document/status"
    }
    pages = documents + sum(reasons.values())
    statuses = {
        k.removeprefix("downloader/response_status_count/"): int(v)
        for k, v in stats.items()
        if k.startswith("downloader/response_status_count/")
    }
    responses = sum(statuses.values())

    def share(part: float, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    def matched(configured: bool, missed: str) -> float | None:
        return share(documents - int(stats.get(missed, 0)), documents) if configured else None

    return {
        "article_pages": pages,
        "documents": documents,
        "no_document": {reason: share(n, pages) for reason, n in sorted(reasons.items())},
        "body_selector_matched": matched(bool(site and site.body_selector), "text/body_selector_missed"),
        "date_selector_matched": matched(bool(site and site.date_selector), "text/date_selector_missed"),
        "text_chars_median": stats.get("health/text_chars_median"),
        "with_title": share(int(stats.get("health/with_title", 0)), documents),
        "with_date": share(int(stats.get("health/with_date", 0)), documents),
        "with_author": share(int(stats.get("health/with_author", 0)), documents),
        "boilerplate_hits": share(int(stats.get("health/boilerplate_hits", 0)), documents) if site and site.boilerplate else None,
        "responses": responses,
        "refused": share(sum(statuses.get(code, 0) for code in REFUSED_STATUSES), responses),
    }


def find_alerts(now: dict[str, Any], earlier: list[dict[str, Any]], site: Site | None) -> list[dict[str, Any]]:
    """What changed beyond the thresholds between this run's figures and the earlier runs' (oldest first)."""
    history = [h for h in earlier if h.get("article_pages")][-HISTORY:]
    alerts: list[dict[str, Any]] = []

    def alert(kind: str, message: str, before: Any, value: Any) -> None:
        alerts.append({"kind": kind, "message": message, "before": before, "now": value})

    def before(key: str, sub: str | None = None) -> float | None:
        values = [h.get(key) if sub is None else (h.get(key) or {}).get(sub, 0) for h in history]
        values = [v for v in values if v is not None]
        return round(statistics.median(values), 3) if values else None

    documents, pages = now["documents"], now["article_pages"]
    if not pages and (was := before("article_pages")) and was >= MIN_PAGES:
        alert("no_articles", f"no article page was read this run, against {was:g} a run before", was, 0)

    for key, selector in (("body_selector", site.body_selector if site else None), ("date_selector", site.date_selector if site else None)):
        value = now[f"{key}_matched"]
        if value is None or not documents:
            continue
        was = before(f"{key}_matched")
        if value == 0:
            alert(f"{key}_missed", f"{key} {selector!r} matched none of the {documents} article pages: the site's theme "
                  "may have changed; fix the selector in the site file (the generic extraction was used)", was, value)
        elif was is not None and was >= SELECTOR_BEFORE and value < SELECTOR_NOW and documents >= MIN_PAGES:
            alert(f"{key}_missed", f"{key} {selector!r} matched {value:.0%} of the article pages, against {was:.0%} "
                  "before: the site's theme may have changed", was, value)

    if pages >= MIN_PAGES:
        for reason, value in now["no_document"].items():
            was = before("no_document", reason)
            if reason == "blocked" and value >= REFUSED_SHARE and (was is None or was < REFUSED_SHARE):
                alert("blocked", f"{value:.0%} of the article pages were bot checks or access-denied pages: the site "
                      "refuses the crawler", was, value)
            elif was is not None and value >= NO_DOCUMENT_RISE and value - was >= NO_DOCUMENT_RISE:
                alert("no_document", f"{value:.0%} of the article pages gave no document ({reason}), against "
                      f"{was:.0%} before", was, value)

    if documents >= MIN_PAGES:
        value, was = now["text_chars_median"], before("text_chars_median")
        if value is not None and was is not None and was >= TEXT_BEFORE_MIN and value < TEXT_SHRINK * was:
            alert("text_length", f"the median text is {value:,} characters, against {was:,.0f} before: bodies may "
                  "be cut (a teaser, a changed theme)", was, value)
        for key in ("title", "date", "author"):
            value, was = now[f"with_{key}"], before(f"with_{key}")
            if value is not None and was is not None and was >= METADATA_BEFORE and was - value >= METADATA_DROP:
                alert(f"no_{key}", f"a {key} was found on {value:.0%} of the documents, against {was:.0%} before",
                      was, value)
        value, was = now["boilerplate_hits"], before("boilerplate_hits")
        if value is not None and value >= BOILERPLATE_SHARE and value - (was or 0) >= BOILERPLATE_SHARE:
            alert("boilerplate", f"{value:.0%} of the documents still hold one of the site file's boilerplate "
                  "phrases: its wording may have changed", was, value)

    value, was = now["refused"], before("refused")
    if now["responses"] >= MIN_RESPONSES and value is not None and value >= REFUSED_SHARE and (was is None or was < REFUSED_SHARE):
        alert("refused", f"{value:.0%} of the responses were 403, 429 or 503: the site refuses or throttles the "
              "crawler", was, value)
    return alerts
