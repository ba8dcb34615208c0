"""manifest.jsonl: one JSON line per (url, sha256) pair, appended whole or not at all.

Several crawler processes (scrapy-redis workers, a rebuild beside a crawl)
may append to one manifest. Each append takes an exclusive ``flock``, reads
whatever the others appended since, and writes its line with a single
``write`` on an ``O_APPEND`` descriptor: a line is either all there or not
there. A write the disk cannot take whole (ENOSPC: a short write or none)
is cut back to the last whole line before the error is raised. A line cut
short by a power failure is the only torn write left possible; it has no
final newline, and the next writer truncates it away.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REQUIRED_KEYS = (
    "url",
    "canonical_url",
    "site",
    "sha256",
    "path",
    "title",
    "published",
    "author",
    "language",
    "fetched_at",
    "warc",
    "warc_record_id",
)


def manifest_line(entry: dict[str, Any]) -> bytes:
    """The one serialization of an entry, so that a crawl and a rebuild write identical lines."""
    return (json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def pair_key(url: str, sha256: str) -> bytes:
    # 16 bytes per pair instead of the two strings: millions of documents fit in memory.
    return hashlib.blake2b(f"{url}\0{sha256}".encode(), digest_size=16).digest()


class Manifest:
    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self._seen: set[bytes] = set()
        self._thread_lock = threading.Lock()
        self._offset = 0
        with self._locked():
            self._catch_up()

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return pair_key(*pair) in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def append(self, entry: dict[str, Any]) -> bool:
        """Append the entry unless its (url, sha256) pair is already listed; True if appended."""
        key = pair_key(entry["url"], entry["sha256"])
        line = manifest_line(entry)
        with self._locked():
            self._catch_up()
            if key in self._seen:
                return False
            try:
                written = os.write(self._fd, line)
                if written != len(line):
                    # Only a full disk does this to a regular file.
                    raise OSError(errno.ENOSPC, f"short write ({written} of {len(line)} bytes)", str(self.path))
                if self.fsync:
                    os.fsync(self._fd)
            except OSError as e:
                # No torn line stays behind: the file is cut back to the last whole line
                # (after a failed fsync the line may not be on disk; it is written again next time).
                os.ftruncate(self._fd, self._offset)
                if e.filename is None:
                    raise OSError(e.errno, e.strerror or str(e), str(self.path)) from e
                raise
            self._offset += written
            self._seen.add(key)
            return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _catch_up(self) -> None:
        size = os.fstat(self._fd).st_size
        if size <= self._offset:
            return
        data = os.pread(self._fd, size - self._offset, self._offset)
        end = data.rfind(b"\n") + 1
        if end < len(data):
            logger.warning("%s: removing a torn last line (%d bytes)", self.path, len(data) - end)
            os.ftruncate(self._fd, self._offset + end)
        for raw in data[:end].splitlines():
            try:
                entry = json.loads(raw)
                self._seen.add(pair_key(entry["url"], entry["sha256"]))
            except (ValueError, KeyError, TypeError):
                logger.warning("%s: unreadable line after byte %d skipped", self.path, self._offset)
        self._offset += end

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # flock excludes other processes; threads of this one share the
        # descriptor, so they need their own lock.
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a manifest."""
    if not path.exists():
        return []
    entries = []
    for raw in path.read_bytes().splitlines(keepends=True):
        if raw.endswith(b"\n"):
            entries.append(json.loads(raw))
    return entries
