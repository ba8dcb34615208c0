"""Publishing what the crawl wrote, in batches, in the one order that keeps the archive consistent.

Worker processes write captures and texts under temporary names
(``atomic.stage``). Every ARCHIVE_SYNC_INTERVAL seconds the committer
takes everything written since, and, in a thread:

1. syncs the filesystem once, then gives each file its final name, then
   syncs the names (``atomic.publish_staged``);
2. appends the manifest lines of the batch's documents, with one write and
   one fsync;
3. records the batch's fetches in the site's state, in one transaction.

So a name never appears before its bytes are on disk, a manifest line
never before its text and capture, and the state never says "stored"
before the manifest does. A power cut costs at most the files of the last
interval, which the next run fetches again; a killed process costs
nothing that was published. With ARCHIVE_SYNC_INTERVAL = 0 each file is
fsynced alone and published at once, as a one-file batch.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import task
from twisted.internet.threads import deferToThread

from crawler.capture.records import CaptureRef
from crawler.store.atomic import Staged, discard, publish_staged
from crawler.store.diskfull import DISK_FULL_STAT, final_reason, is_disk_full, stop_for_disk_full
from crawler.store.manifest import Manifest
from crawler.store.state import StateUnavailable, Visit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentCommit:
    """A stored article: its text (staged, or None when the file existed), manifest entry and state row."""

    text: Staged | None
    entry: dict[str, Any]
    visit: Visit
    replaces: str | None  # the sha256 of the text this URL had before, if any


@dataclass
class _Batch:
    files: list[Staged] = field(default_factory=list)
    captures: dict[str, CaptureRef] = field(default_factory=dict)  # final path -> ref, for duplicates
    documents: list[DocumentCommit] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)  # fetches that gave no document
    callbacks: list[Callable[[bool], None]] = field(default_factory=list)  # told whether all the above are on disk

    def __bool__(self) -> bool:
        return bool(self.files or self.documents or self.visits or self.callbacks)


class Committer:
    """A Scrapy extension: the one writer of names, manifest lines and state rows in a crawl."""

    def __init__(self, crawler: Crawler, archive_dir: Path, fsync: bool, interval: float) -> None:
        self.crawler = crawler
        self.archive_dir = archive_dir
        self.fsync = fsync
        self.interval = interval
        self._batch = _Batch()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._manifest: Manifest | None = None
        self._loop: task.LoopingCall | None = None
        self._published_listeners: list[Callable[[list[CaptureRef]], None]] = []
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self.close, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Committer:
        settings = crawler.settings
        return cls(
            crawler,
            Path(settings.get("ARCHIVE_DIR")),
            settings.getbool("ARCHIVE_FSYNC"),
            settings.getfloat("ARCHIVE_SYNC_INTERVAL"),
        )

    @property
    def stage_fsync(self) -> bool:
        """Whether a worker fsyncs a file as it writes it: only when each file is published alone."""
        return self.fsync and self.interval <= 0

    def _opened(self) -> None:
        if self.interval > 0:
            self._loop = task.LoopingCall(self._tick)
            self._loop.start(self.interval, now=False)

    # --- what the middleware and the pipeline hand over --------------------------------

    def add_capture(self, ref: CaptureRef, staged: Staged | None) -> tuple[CaptureRef, bool]:
        """A capture a worker wrote (staged) or found (None); the ref to use, and whether it is a new file.

        The same capture twice before a commit (a retry that got the same
        answer) keeps the first: its record id is the one that will exist.
        """
        if staged is None:
            return ref, False
        held = self._batch.captures.get(staged.path)
        if held is not None:
            discard(staged)
            return held, False
        self._batch.captures[staged.path] = ref
        self._batch.files.append(staged)
        self._soon()
        return ref, True

    def add_document(self, document: DocumentCommit) -> None:
        if document.text is not None:
            self._batch.files.append(document.text)
        self._batch.documents.append(document)
        self._soon()

    def add_visit(self, visit: Visit) -> None:
        self._batch.visits.append(visit)
        self._soon()

    def on_published(self, listener: Callable[[list[CaptureRef]], None]) -> None:
        """Call listener(captures), in the commit thread, with the captures each commit gave a name."""
        self._published_listeners.append(listener)

    def when_committed(self, callback: Callable[[bool], None]) -> None:
        """Call back once everything handed over so far is on disk (True), or could not be written (False).

        Whoever hands work over and then asks this learns when that work is
        safe: a shared queue acknowledges a request only then.
        """
        self._batch.callbacks.append(callback)
        self._soon()

    # --- committing ------------------------------------------------------------------------

    def _soon(self) -> None:
        if self.interval <= 0:
            self._tick()

    def _tick(self) -> None:
        if self._batch:
            commit = asyncio.ensure_future(self._commit())
            # Held until done: the event loop keeps only a weak reference to a task.
            self._tasks.add(commit)
            commit.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Commit everything handed over so far; returns when it is on disk."""
        while self._batch:
            await self._commit()
        # Commits started before this call may still be running.
        async with self._lock:
            pass

    async def close(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        await self.flush()
        # After Scrapy's own record of the reason (its CoreStats extension comes first).
        self.crawler.stats.set_value("finish_reason", final_reason(self.crawler, reason))
        if self._manifest is not None:
            self._manifest.close()
            self._manifest = None

    async def _commit(self) -> None:
        async with self._lock:
            batch, self._batch = self._batch, _Batch()
            if batch:
                committed = await self._commit_batch(batch)
                for callback in batch.callbacks:
                    try:
                        callback(committed)
                    except Exception:
                        logger.exception("Error after a commit")

    async def _commit_batch(self, batch: _Batch) -> bool:
        """Whether the batch is on disk."""
        stats = self.crawler.stats
        if stats.get_value(DISK_FULL_STAT):
            # The crawl is stopping for want of space: nothing more is published, and the next run fetches these again.
            for staged in batch.files:
                discard(staged)
            return False
        if not (batch.files or batch.documents or batch.visits):
            return True
        try:
            counts = await maybe_deferred_to_future(deferToThread(self._write, batch))
        except OSError as e:
            if is_disk_full(e):
                stop_for_disk_full(self.crawler, e, logger)
            else:
                logger.error("Could not publish %d archive files (fetched again next run): %s", len(batch.files), e)
                stats.inc_value("archive/commit_errors")
            return False
        except StateUnavailable:
            # The files and manifest lines are published; the state could not say so (said in the log).
            return False
        except Exception:
            logger.exception("Could not publish %d archive files (fetched again next run)", len(batch.files))
            stats.inc_value("archive/commit_errors")
            return False
        for key, n in counts.items():
            stats.inc_value(key, n)
        return True

    def _write(self, batch: _Batch) -> Counter[str]:
        """The three steps, in order; runs in a thread (file and database I/O only)."""
        counts: Counter[str] = Counter()
        published = dict(
            zip((s.path for s in batch.files), publish_staged(batch.files, sync=self.fsync and self.interval > 0), strict=True)
        )
        if self._published_listeners:
            new = [ref for path, ref in batch.captures.items() if published.get(path)]
            for listener in self._published_listeners:
                listener(new)
        texts = {d.text.path for d in batch.documents if d.text is not None}
        counts["text/files_written"] += sum(published[p] for p in texts)
        if batch.documents:
            if self._manifest is None:
                self._manifest = Manifest(self.archive_dir / "manifest.jsonl", fsync=self.fsync)
            appended = self._manifest.append_many([d.entry for d in batch.documents])
            for document, new_line in zip(batch.documents, appended, strict=True):
                if not new_line:
                    counts["text/documents_unchanged"] += 1
                elif document.replaces and document.replaces != document.entry["sha256"]:
                    counts["text/documents_updated"] += 1
                else:
                    counts["text/documents_new"] += 1
        self._record(batch.visits + [d.visit for d in batch.documents])
        return counts

    def _record(self, visits: list[Visit]) -> None:
        state = getattr(self.crawler.spider, "site_state", None)
        if state is None or not visits:
            return
        try:
            state.record_many(visits)
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode != sqlite3.SQLITE_FULL:
                raise
            # Texts and manifest lines are stored; only the state could not say so,
            # and the next run fetches these pages again and stores nothing twice.
            path = self.archive_dir / "state" / f"{self.crawler.spider.site.name}.sqlite"
            raise OSError(errno.ENOSPC, str(e), str(path)) from e


def committer(crawler: Crawler) -> Committer:
    found = crawler.get_extension(Committer)
    if found is None:
        raise RuntimeError("crawler.store.committer.Committer is missing from EXTENSIONS")
    return found
