"""The text store and the manifest entry that describes a stored text."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.capture.records import CaptureRef
from crawler.store.atomic import (
    Staged,
    hashed_path,
    publish_bytes,
    stage,
    staging_folder,
)


@dataclass(frozen=True)
class Document:
    """What extraction makes of one article page."""

    text: str  # NFC, paragraphs separated by one blank line, one final newline
    title: str | None
    published: str | None
    author: str | None
    language: str | None
    canonical_url: str
    notes: tuple[str, ...] = ()  # how extraction went, for stats: "body_selector_missed"


@dataclass(frozen=True)
class StoredText:
    sha256: str
    path: str  # relative to ARCHIVE_DIR
    written: bool


def store_text(archive_dir: Path, site: str, text: str, *, fsync: bool = True) -> StoredText:
    """Write text/<site>/<t[0:2]>/<t>.txt, t = SHA-256 of the file's own bytes; never twice.

    The text is made NFC first: texts are NFC on disk, and the NFC and NFD forms of one text
    (an "أ" written as alef + combining hamza) must get one name, not two. Extraction already
    gives NFC, so for its texts this changes nothing.
    """
    data = _text_bytes(text)
    sha = hashlib.sha256(data).hexdigest()
    path = hashed_path(archive_dir / "text" / site, sha, ".txt")
    written = publish_bytes(path, data, fsync=fsync)
    return StoredText(sha, path.relative_to(archive_dir).as_posix(), written)


def stage_text(archive_dir: Path, site: str, text: str, *, fsync: bool) -> tuple[StoredText, Staged | None]:
    """``store_text``, with the file left under a temporary name for a batch commit (None if it exists).

    ``written`` says whether a file was staged; whether it gets published is the commit's to say.
    """
    data = _text_bytes(text)
    sha = hashlib.sha256(data).hexdigest()
    path = hashed_path(archive_dir / "text" / site, sha, ".txt")
    staged = stage(path, lambda f: f.write(data), fsync=fsync, staging=staging_folder(path))
    return StoredText(sha, path.relative_to(archive_dir).as_posix(), staged is not None), staged


def _text_bytes(text: str) -> bytes:
    return unicodedata.normalize("NFC", text).encode("utf-8")


def manifest_entry(doc: Document, *, url: str, site: str, stored: StoredText, capture: CaptureRef | None) -> dict[str, Any]:
    return {
        "url": url,
        "canonical_url": doc.canonical_url,
        "site": site,
        "sha256": stored.sha256,
        "path": stored.path,
        "title": doc.title,
        "published": doc.published,
        "author": doc.author,
        "language": doc.language,
        "fetched_at": capture.date if capture else None,
        "warc": capture.path if capture else None,
        "warc_record_id": capture.record_id if capture else None,
    }
