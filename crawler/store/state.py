"""What a scheduled crawl remembers between runs, in ARCHIVE_DIR/state/<site>.sqlite.

Per article URL: when it was last captured, the validators of that capture
(ETag, Last-Modified) for a conditional request, and whether a document was
stored. Canonical URLs of stored articles are rows too, so the same article
under a second URL is known. SQLite (standard library, one file, atomic
transactions, WAL) keeps it on disk, not in memory, and moves with the
archive. A row is written only after the article's text and manifest line
are stored, so a crawl killed mid-run fetches again what it had not
finished. One crawl of a site at a time: CrawlLock.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from crawler.scaleout import is_shared

_SCHEMA = """
CREATE TABLE IF NOT EXISTS article (
    url TEXT PRIMARY KEY,
    fetched_at TEXT NOT NULL,      -- ISO 8601 UTC of the last capture (its WARC-Date)
    etag TEXT,
    last_modified TEXT,
    sha256 TEXT                    -- text of the last stored version, NULL when no document
)
"""


@dataclass(frozen=True)
class Known:
    fetched_at: datetime
    etag: str | None
    last_modified: str | None
    sha256: str | None


@dataclass(frozen=True)
class Visit:
    """What the state records of one fetch of an article."""

    urls: tuple[str, ...]  # as fetched, the redirects that led there, and its canonical URL
    fetched_at: str
    etag: str | None
    last_modified: str | None
    sha256: str | None  # None when it gave no document


class CrawlLockError(RuntimeError):
    pass


class CrawlLock:
    """A lock on one site's state: a second crawl of the same site stops at once.

    A single-process crawl holds it exclusively. The workers of a shared
    crawl (several on one machine) hold it shared, so that they exclude a
    single-process crawl and not each other; ``acquire_shared`` says whether
    this worker found no other and may clean up after a killed run.
    """

    def __init__(self, archive_dir: Path, site: str) -> None:
        self.path = archive_dir / "state" / f"{site}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(fd)
            raise CrawlLockError(f"another crawl of this site is running (lock {self.path} is held)") from e
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def acquire_shared(self, wait: float = 10.0) -> bool:
        """Holds the lock shared; True when no other process held it (this one may clean up first)."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            self._fd = fd
            return True
        # Another worker (which may be cleaning up, or moving to shared), or a single-process crawl.
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError as e:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise CrawlLockError(
                        f"a single-process crawl of this site is running (lock {self.path} is held)"
                    ) from e
                time.sleep(0.05)
            else:
                self._fd = fd
                return False

    def share(self) -> None:
        """From exclusive to shared, once the cleanup is done."""
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays for the next run
            self._fd = None

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)


class StateUnavailable(RuntimeError):
    """The state could not be read or written (its store is gone); already said in the log."""


class SiteState(Protocol):
    """What the spider, the pipeline and the committer need of a site's state, wherever it is kept."""

    def known(self, url: str) -> Known | None: ...
    def record_many(self, visits: list[Visit]) -> None: ...
    def touch(self, url: str, fetched_at: str) -> None: ...
    def close(self) -> None: ...


def open_state(settings: BaseSettings, crawler: Crawler, site: str) -> SiteState:
    """The site's state: in Redis for a shared crawl, so that every worker sees it; else in SQLite."""
    if is_shared(settings):
        from crawler.scaleout.link import redis_link
        from crawler.scaleout.state import RedisCrawlState

        link = redis_link(crawler)
        assert link is not None
        return RedisCrawlState(link, link.keys(site))
    return CrawlState(Path(settings.get("ARCHIVE_DIR")), site)


class CrawlState:
    def __init__(self, archive_dir: Path, site: str) -> None:
        path = archive_dir / "state" / f"{site}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        # The committer records from its store thread, under the lock.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        # The spider and the pipeline read in the reactor thread, on a connection of their own:
        # in WAL mode a reader does not wait for a writer, so the reactor never waits for a batch's
        # transaction, and it sees each batch whole or not at all.
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)

    def known(self, url: str) -> Known | None:
        row = self._reader.execute(
            "SELECT fetched_at, etag, last_modified, sha256 FROM article WHERE url = ?", (url,)
        ).fetchone()
        if row is None:
            return None
        return Known(datetime.fromisoformat(row[0].replace("Z", "+00:00")), row[1], row[2], row[3])

    def record(
        self, urls: list[str], fetched_at: str, etag: str | None, last_modified: str | None, sha256: str | None
    ) -> None:
        """The capture of an article (under each of its URLs); keeps the last sha256 when none is given."""
        self.record_many([Visit(tuple(urls), fetched_at, etag, last_modified, sha256)])

    def record_many(self, visits: list[Visit]) -> None:
        """Several captures in one transaction."""
        rows = [(u, v.fetched_at, v.etag, v.last_modified, v.sha256) for v in visits for u in dict.fromkeys(v.urls)]
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO article (url, fetched_at, etag, last_modified, sha256) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET fetched_at = excluded.fetched_at, etag = excluded.etag, "
                "last_modified = excluded.last_modified, sha256 = COALESCE(excluded.sha256, article.sha256)",
                rows,
            )

    def touch(self, url: str, fetched_at: str) -> None:
        """A 304: the article is unchanged as of this capture."""
        with self._lock:
            self._db.execute("UPDATE article SET fetched_at = ? WHERE url = ?", (fetched_at, url))

    def close(self) -> None:
        self._reader.close()
        with self._lock:
            self._db.close()
