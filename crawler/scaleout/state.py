"""The crawl's state (crawler.store.state) in Redis, so that every worker of a shared crawl sees it.

One hash per site, URL -> JSON ``[fetched_at, etag, last_modified, sha256]``,
with the same meaning and the same order of writing as the SQLite state
of a single-process crawl: a row only once the text and manifest line are
on disk. Redis keeps it across restarts with its append-only file (see the
README); if it was lost anyway (a Redis with no persistence, a new server),
the worker that seeds the next run restores it from the archive itself:
the SQLite state of earlier single-process runs, then every document of
the site in manifest.jsonl. Validators (ETag, Last-Modified) exist only in
the former; an article restored from the manifest alone is asked for in
full once its RECRAWL_AFTER has passed, and stored nothing twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from crawler.scaleout.entries import Refused, check_state_row
from crawler.scaleout.link import Keys, RedisLink, RedisLost
from crawler.store.state import Known, Visit

logger = logging.getLogger(__name__)

# KEYS: the state hash.  ARGV: url, JSON row, url, JSON row, ...
# A row without a sha256 (a fetch that gave no document) keeps the last one, as the SQLite state does.
_RECORD = """
for i = 1, #ARGV, 2 do
    local row = cjson.decode(ARGV[i + 1])
    if row[4] == cjson.null then
        local old = redis.call('HGET', KEYS[1], ARGV[i])
        if old then row[4] = cjson.decode(old)[4] end
    end
    redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(row))
end
"""

# KEYS: the state hash.  ARGV: url, fetched_at.
_TOUCH = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local row = cjson.decode(old)
row[1] = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(row))
return 1
"""

_RESTORE_BATCH = 1000


class RedisCrawlState:
    def __init__(self, link: RedisLink, keys: Keys) -> None:
        self.link = link
        self.key = keys.state
        self._record = link.client.register_script(_RECORD)
        self._touch = link.client.register_script(_TOUCH)

    def known(self, url: str) -> Known | None:
        try:
            with self.link.guard("reading the crawl state"):
                raw = self.link.client.hget(self.key, url)
        except RedisLost:
            # The worker is stopping; what it still has in hand is stored as new, and nothing is requested.
            return None
        if raw is None:
            return None
        try:
            return Known(*check_state_row(raw))
        except Refused as e:
            # Not a row this crawl wrote: the URL is fetched as new, and its row written anew.
            self.link.refuse(f"{self.key} {url}", f"{e}; removed")
            try:
                with self.link.guard("recording the crawl state"):
                    self.link.client.hdel(self.key, url)
            except RedisLost:
                pass
            return None

    def record_many(self, visits: list[Visit]) -> None:
        args: list[str] = []
        for v in visits:
            row = json.dumps([v.fetched_at, v.etag, v.last_modified, v.sha256])
            for url in dict.fromkeys(v.urls):
                args += [url, row]
        if args:
            with self.link.guard("recording the crawl state"):
                self._record(keys=[self.key], args=args)

    def touch(self, url: str, fetched_at: str) -> None:
        try:
            with self.link.guard("recording the crawl state"):
                self._touch(keys=[self.key], args=[url, fetched_at])
        except RedisLost:
            pass  # the 304 is captured; the next run asks again

    def close(self) -> None:
        pass

    def restore_if_lost(self, archive_dir: Path, site: str) -> int:
        """Fills an empty state from the archive; how many URLs it restored."""
        with self.link.guard("restoring the crawl state"):
            if self.link.client.exists(self.key):
                return 0
        rows = _archive_state(archive_dir, site)
        if not rows:
            return 0
        items = list(rows.items())
        with self.link.guard("restoring the crawl state"):
            for i in range(0, len(items), _RESTORE_BATCH):
                chunk = items[i : i + _RESTORE_BATCH]
                self.link.client.hset(self.key, mapping={url: json.dumps(row) for url, row in chunk})
        logger.info("Crawl state of site %s restored from the archive: %d URLs", site, len(rows))
        return len(rows)


def _archive_state(archive_dir: Path, site: str) -> dict[str, list[str | None]]:
    """URL -> [fetched_at, etag, last_modified, sha256], from the manifest, then the SQLite state over it."""
    rows: dict[str, list[str | None]] = {}
    manifest = archive_dir / "manifest.jsonl"
    if manifest.exists():
        with manifest.open("rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a torn last line
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                if entry.get("site") != site:
                    continue
                for url in dict.fromkeys((entry["url"], entry.get("canonical_url") or entry["url"])):
                    old = rows.get(url)
                    if old is None or (old[0] or "") <= entry["fetched_at"]:
                        rows[url] = [entry["fetched_at"], None, None, entry["sha256"]]
    path = archive_dir / "state" / f"{site}.sqlite"
    if path.exists():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for url, fetched_at, etag, last_modified, sha256 in db.execute(
                "SELECT url, fetched_at, etag, last_modified, sha256 FROM article"
            ):
                old = rows.get(url)
                if old is None or (old[0] or "") <= fetched_at:
                    rows[url] = [fetched_at, etag, last_modified, sha256 or (old[3] if old else None)]
        finally:
            db.close()
    return rows
