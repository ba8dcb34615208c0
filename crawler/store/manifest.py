"""manifest.jsonl: one JSON line per (url, sha256) pair, appended whole or not at all.

Several crawler processes (scrapy-redis workers, a rebuild beside a crawl)
may append to one manifest. Each append takes an exclusive ``flock``, reads
whatever the others appended since, and writes its lines with a single
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
import sqlite3
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
    "published_hijri",
    "author",
    "language",
    "free_access",
    "images",
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
    """manifest.jsonl, and which (url, sha256) pairs it lists.

    The pairs are kept in a SQLite index beside the archive's state
    (``state/manifest-index.sqlite``), not in memory: a manifest of millions
    of lines costs no more memory than one of ten. The index is a cache of
    the manifest: it records how far it has read, catches up with lines
    other writers appended, and is built again from the manifest when it is
    missing or belongs to another file.
    """

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self._thread_lock = threading.Lock()
        with self._locked():
            # Under the manifest's lock: switching a new database to WAL fails ("database is
            # locked"), without waiting, when another process is doing the same.
            self._index = _PairIndex(path.parent / "state" / "manifest-index.sqlite", os.fstat(self._fd).st_ino)
            self._catch_up()

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return self._index.has(pair_key(*pair))

    def __len__(self) -> int:
        return self._index.count()

    def append(self, entry: dict[str, Any]) -> bool:
        """Append the entry unless its (url, sha256) pair is already listed; True if appended."""
        return self.append_many([entry])[0]

    def append_many(self, entries: list[dict[str, Any]]) -> list[bool]:
        """Append the entries not yet listed, with one write and one fsync; for each, whether it was appended."""
        with self._locked():
            self._catch_up()
            keys = [pair_key(e["url"], e["sha256"]) for e in entries]
            listed = self._index.which(keys)
            appended: list[bool] = []
            lines: list[bytes] = []
            chosen: set[bytes] = set()
            for key, entry in zip(keys, entries, strict=True):
                new = key not in listed and key not in chosen
                appended.append(new)
                if new:
                    chosen.add(key)
                    lines.append(manifest_line(entry))
            if not lines:
                return appended
            data = b"".join(lines)
            offset = self._index.offset
            try:
                written = os.write(self._fd, data)
                if written != len(data):
                    # Only a full disk does this to a regular file.
                    raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)", str(self.path))
                if self.fsync:
                    os.fsync(self._fd)
            except OSError as e:
                # No torn line stays behind: the file is cut back to the last whole line
                # (after a failed fsync the lines may not be on disk; they are written again next time).
                os.ftruncate(self._fd, offset)
                if e.filename is None:
                    raise OSError(e.errno, e.strerror or str(e), str(self.path)) from e
                raise
            # Were this to fail, the lines are there and the next catch-up indexes them.
            self._index.add([k for k, a in zip(keys, appended, strict=True) if a], offset + written)
            return appended

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._index.close()

    def _catch_up(self) -> None:
        """Index the lines appended since the index last read, by anyone; cut a torn last line."""
        size = os.fstat(self._fd).st_size
        offset = self._index.offset
        if offset > size:
            logger.warning("%s: shorter than its index says; indexing it again", self.path)
            self._index.reset()
            offset = 0
        while offset < size:
            data = os.pread(self._fd, min(size - offset, _CATCH_UP_CHUNK), offset)
            end = data.rfind(b"\n") + 1
            if end == 0:
                if offset + len(data) < size:
                    # One line longer than a chunk: read on until its end.
                    data = os.pread(self._fd, size - offset, offset)
                    end = data.rfind(b"\n") + 1
                if end == 0:
                    logger.warning("%s: removing a torn last line (%d bytes)", self.path, size - offset)
                    os.ftruncate(self._fd, offset)
                    break
            keys = []
            for raw in data[:end].splitlines():
                try:
                    entry = json.loads(raw)
                    keys.append(pair_key(entry["url"], entry["sha256"]))
                except (ValueError, KeyError, TypeError):
                    logger.warning("%s: unreadable line after byte %d skipped", self.path, offset)
            offset += end
            self._index.add(keys, offset)

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


_CATCH_UP_CHUNK = 8 * 1024 * 1024


class _PairIndex:
    """The set of listed pair keys, and how many bytes of which manifest file it has read."""

    def __init__(self, path: Path, inode: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS pair (key BLOB PRIMARY KEY) WITHOUT ROWID")
        self._db.execute("CREATE TABLE IF NOT EXISTS progress (inode INTEGER, offset INTEGER)")
        row = self._db.execute("SELECT inode, offset FROM progress").fetchone()
        if row is None:
            self._db.execute("INSERT INTO progress VALUES (?, 0)", (inode,))
        elif row[0] != inode:
            # A manifest replaced by another file (restored, rebuilt): its lines are indexed afresh.
            self._db.execute("DELETE FROM pair")
            self._db.execute("UPDATE progress SET inode = ?, offset = 0", (inode,))

    @property
    def offset(self) -> int:
        """How far the manifest is indexed; read each time, as other processes move it on."""
        return self._db.execute("SELECT offset FROM progress").fetchone()[0]

    def has(self, key: bytes) -> bool:
        return self._db.execute("SELECT 1 FROM pair WHERE key = ?", (key,)).fetchone() is not None

    def which(self, keys: list[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(k for (k,) in self._db.execute(f"SELECT key FROM pair WHERE key IN ({marks})", chunk))
        return found

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM pair").fetchone()[0]

    def add(self, keys: list[bytes], offset: int) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO pair VALUES (?)", [(k,) for k in keys])
            self._db.execute("UPDATE progress SET offset = ?", (offset,))

    def reset(self) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM pair")
            self._db.execute("UPDATE progress SET offset = 0")

    def close(self) -> None:
        self._db.close()


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a manifest."""
    if not path.exists():
        return []
    entries = []
    for raw in path.read_bytes().splitlines(keepends=True):
        if raw.endswith(b"\n"):
            entries.append(json.loads(raw))
    return entries
