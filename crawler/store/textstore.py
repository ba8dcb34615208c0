"""The text store and the manifest entry that describes a stored text."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.capture.records import CaptureRef
from crawler.store.atomic import (
    Staged,
    hashed_path,
    publish_bytes,
    stage,
    staging_folder,
)

if TYPE_CHECKING:
    from crawler.extract.images import Image


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
    published_hijri: str | None = None  # the Hijri date as the page writes it
    free_access: bool | None = None  # JSON-LD isAccessibleForFree
    images: tuple[Image, ...] = ()  # the article's images, captions and credits, in page order


@dataclass(frozen=True)
class StoredText:
    sha256: str
    path: str  # relative to ARCHIVE_DIR
    written: bool


def text_file(site: str, text: str) -> tuple[bytes, str, str]:
    """A text's bytes, their SHA-256, and the file's path relative to ARCHIVE_DIR: the one naming rule.

    text/<site>/<t[0:2]>/<t>.txt, t = SHA-256 of the file's own bytes. The text is made NFC
    first: texts are NFC on disk, and the NFC and NFD forms of one text (an "أ" written as
    alef + combining hamza) must get one name, not two. Extraction already gives NFC, so for
    its texts this changes nothing.
    """
    data = unicodedata.normalize("NFC", text).encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    return data, sha, hashed_path(Path("text") / site, sha, ".txt").as_posix()


def store_text(archive_dir: Path, site: str, text: str, *, fsync: bool = True) -> StoredText:
    """Write the text's file (``text_file``) unless it is there already."""
    data, sha, relative = text_file(site, text)
    written = publish_bytes(archive_dir / relative, data, fsync=fsync)
    return StoredText(sha, relative, written)


def stage_text(archive_dir: Path, site: str, text: str, *, fsync: bool) -> tuple[StoredText, Staged | None]:
    """``store_text``, with the file left under a temporary name for a batch commit (None if it exists).

    ``written`` says whether a file was staged; whether it gets published is the commit's to say.
    """
    data, sha, relative = text_file(site, text)
    path = archive_dir / relative
    staged = stage(path, lambda f: f.write(data), fsync=fsync, staging=staging_folder(path))
    return StoredText(sha, relative, staged is not None), staged


def manifest_entry(doc: Document, *, url: str, site: str, stored: StoredText, capture: CaptureRef | None) -> dict[str, Any]:
    return {
        "url": url,
        "canonical_url": doc.canonical_url,
        "site": site,
        "sha256": stored.sha256,
        "path": stored.path,
        "title": doc.title,
        "published": doc.published,
        "published_hijri": doc.published_hijri,
        "free_access": doc.free_access,
        "images": [image.as_entry() for image in doc.images],
        "author": doc.author,
        "language": doc.language,
        "fetched_at": capture.date if capture else None,
        "warc": capture.path if capture else None,
        "warc_record_id": capture.record_id if capture else None,
    }
