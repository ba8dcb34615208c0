"""A site redesigns: the run after it says so (health alerts), and dated rules keep the captures before it rebuilding as they were.

Two crawls of a fixture site served over HTTP, its theme changed in between
(every page: body, date and note classes renamed), then `scrapy report`
and `scrapy rebuild` over what they captured.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.sites import SiteFileError, parse_site
from crawler.store.manifest import read_manifest
from tests.conftest import FixtureServer, crawl, run_scrapy
from tests.themesite import EDIT, NOTE, STORIES, theme_rules, write_themed_site

RERUN = {"RECRAWL_AFTER": "0"}


@pytest.fixture
def magazine(tmp_path: Path) -> Any:
    root = tmp_path / "site"
    write_themed_site(root, "old")
    server = FixtureServer(root, tmp_path / "requests.jsonl")
    yield {"root": root, "server": server, "folder": tmp_path}
    server.stop()


def site_file(folder: Path, url: str, rules: dict[str, Any], previous: list[tuple[datetime, dict[str, Any]]] = ()) -> Path:
    lines = [
        'name = "mag"',
        'allowed_domains = ["127.0.0.1"]',
        f'start_urls = ["{url}/mag/"]',
        "article_pattern = '/mag/story-\\d+/'",
    ]
    lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in rules.items()]
    for until, old in previous:
        lines += ["", "[[previous_rules]]", f"until = {until.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"]
        lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in old.items()]
    path = folder / "mag.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def last_report(archive: Path) -> dict[str, Any]:
    return json.loads(sorted((archive / "runs" / "mag").glob("*.json"))[-1].read_text(encoding="utf-8"))


def texts(archive: Path) -> dict[str, str]:
    return {p.relative_to(archive).as_posix(): p.read_text(encoding="utf-8") for p in (archive / "text").rglob("*.txt")}


# --- Health alerts ------------------------------------------------------------------------------


def test_a_theme_change_is_an_alert_naming_the_selector_in_the_next_run_and_none_before(magazine: Any) -> None:
    folder, archive = magazine["folder"], magazine["folder"] / "archive"
    site = site_file(folder, magazine["server"].url, theme_rules("old"))
    first = run_scrapy("crawl", "news", "-a", f"site={site}", settings={"ARCHIVE_DIR": str(archive), "ALERT_EXIT_CODE": "3"})
    assert first.returncode == 0, first.stderr[-3000:]
    report = last_report(archive)
    assert report["alerts"] == []
    assert report["health"]["body_selector_matched"] == report["health"]["date_selector_matched"] == 1.0
    assert report["health"]["documents"] == STORIES
    assert "alert (" not in first.stderr

    write_themed_site(magazine["root"], "new")  # every page: the classes renamed
    second = run_scrapy("crawl", "news", "-a", f"site={site}", settings={"ARCHIVE_DIR": str(archive), "ALERT_EXIT_CODE": "3", **RERUN})
    assert second.returncode == 3, second.stderr[-3000:]
    alerts = {a["kind"]: a for a in last_report(archive)["alerts"]}
    assert {"body_selector_missed", "date_selector_missed"} <= set(alerts)
    assert "'div.old-body'" in alerts["body_selector_missed"]["message"]
    assert (alerts["body_selector_missed"]["before"], alerts["body_selector_missed"]["now"]) == (1.0, 0.0)
    assert "'.old-date'" in alerts["date_selector_missed"]["message"]
    warnings = [line for line in second.stderr.splitlines() if "WARNING: Site mag: alert (" in line]
    assert len(warnings) == len(alerts) and any("'div.old-body'" in w for w in warnings)

    report_run = run_scrapy("report", settings={"ARCHIVE_DIR": str(archive)})
    assert report_run.returncode == 0, report_run.stderr[-3000:]
    page = (archive / "report" / "mag.html").read_text(encoding="utf-8")
    top = page[: page.index("<nav>")]
    assert "Alerts of the last run" in top and "div.old-body" in top


def test_a_selector_that_matches_nothing_is_an_alert_on_the_first_run(magazine: Any) -> None:
    archive = magazine["folder"] / "archive"
    rules = {**theme_rules("old"), "body_selector": "div.article-content"}
    result = crawl(site_file(magazine["folder"], magazine["server"].url, rules), archive)
    alerts = last_report(archive)["alerts"]
    assert [a["kind"] for a in alerts] == ["body_selector_missed"]
    assert alerts[0]["before"] is None and alerts[0]["now"] == 0.0
    assert "'div.article-content' matched none of the 6 article pages" in result.stderr


def test_a_wall_of_refusals_is_an_alert(magazine: Any) -> None:
    """Every article answered 403: an alert on the first run, with no earlier run to compare."""
    routes = "".join(f'["/mag/story-{n}/"]\nstatus = 403\n\n' for n in range(1, STORIES + 1))
    (magazine["root"] / "routes.toml").write_text(routes, encoding="utf-8")
    archive = magazine["folder"] / "archive"
    crawl(site_file(magazine["folder"], magazine["server"].url, theme_rules("old")), archive)
    kinds = [a["kind"] for a in last_report(archive)["alerts"]]
    assert kinds == ["refused"]


def test_bot_checks_answered_with_200_are_an_alert(magazine: Any) -> None:
    """A site (or its CDN) answering every article with a captcha page: no document, and an alert."""
    check = ('<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><h1>Checking your browser</h1>'
             "<p>Please verify you are human to continue. تحقق من أنك لست روبوتاً.</p></body></html>")
    (magazine["root"] / "check.html").write_text(check, encoding="utf-8")
    routes = "".join(f'["/mag/story-{n}/"]\nfile = "check.html"\n\n' for n in range(1, STORIES + 1))
    (magazine["root"] / "routes.toml").write_text(routes, encoding="utf-8")
    archive = magazine["folder"] / "archive"
    crawl(site_file(magazine["folder"], magazine["server"].url, theme_rules("old")), archive)
    report = last_report(archive)
    assert report["failures"]["no_document"]["blocked"] == STORIES
    assert [a["kind"] for a in report["alerts"]] == ["blocked"]


# --- Dated rules ----------------------------------------------------------------------------------


def test_captures_from_both_sides_of_a_dated_rule_change_rebuild_to_the_texts_each_run_stored(magazine: Any) -> None:
    folder, url = magazine["folder"], magazine["server"].url
    archive = folder / "archive"
    crawl(site_file(folder, url, theme_rules("old")), archive)
    first = texts(archive)
    assert len(first) == STORIES and not any(NOTE in t for t in first.values())

    time.sleep(0.01)
    redesign = datetime.now(UTC)  # the day the user updated the site file
    write_themed_site(magazine["root"], "new", edited=True)
    site = site_file(folder, url, theme_rules("new"), previous=[(redesign, theme_rules("old"))])
    crawl(site, archive, settings=RERUN)
    stored = texts(archive)
    assert len(stored) == 2 * STORIES and sum(EDIT in t for t in stored.values()) == STORIES
    assert not any(NOTE in t for t in stored.values())

    rebuilt = folder / "rebuilt"
    result = run_scrapy("rebuild", str(archive / "warc"), "--site", str(site), settings={"ARCHIVE_DIR": str(rebuilt)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert texts(rebuilt) == stored
    lines = lambda archive: sorted(json.dumps(e, sort_keys=True) for e in read_manifest(archive / "manifest.jsonl"))  # noqa: E731
    assert lines(rebuilt) == lines(archive)

    # Without the dated table, the new rules read the old captures otherwise: the dates are what kept them.
    undated = site_file(folder, url, theme_rules("new"))
    other = folder / "undated"
    assert run_scrapy("rebuild", str(archive / "warc"), "--site", str(undated), settings={"ARCHIVE_DIR": str(other)}).returncode == 0
    assert texts(other) != stored


def test_previous_rules_are_checked_like_the_rest_of_the_site_file() -> None:
    base = {"name": "mag", "allowed_domains": ["example.org"], "start_urls": ["https://example.org/"], "article_pattern": "/n/"}
    site = parse_site({**base, "body_selector": "div.new", "previous_rules": [
        {"until": datetime(2026, 3, 1, tzinfo=UTC), "body_selector": "div.older"},
        {"until": datetime(2025, 1, 1, tzinfo=UTC), "body_selector": "div.oldest"},
    ]})
    assert site.rules_at("2024-06-01T00:00:00Z").body_selector == "div.oldest"
    assert site.rules_at("2025-06-01T00:00:00Z").body_selector == "div.older"
    assert site.rules_at("2026-03-01T00:00:00Z").body_selector == "div.new"
    assert site.rules_at(datetime(2027, 1, 1, tzinfo=UTC)) == site.rules
    for bad, key in (
        ([{"body_selector": "div.x"}], "previous_rules[1].until"),
        ([{"until": datetime(2026, 1, 1, tzinfo=UTC), "article_pattern": "x"}], "previous_rules[1].article_pattern"),
        ([{"until": datetime(2026, 1, 1, tzinfo=UTC), "body_selector": "div["}], "body_selector"),
        ([{"until": datetime(2026, 1, 1, tzinfo=UTC)}, {"until": datetime(2026, 1, 1, tzinfo=UTC)}], "previous_rules"),
    ):
        with pytest.raises(SiteFileError, match=key.replace("[", r"\[").replace("]", r"\]")):
            parse_site({**base, "previous_rules": bad})
