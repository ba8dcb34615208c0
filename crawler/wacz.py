"""WACZ packages of a site's captures, or of one crawl run's: what ReplayWeb.page opens.

The package itself (zip layout, CDXJ index, datapackage.json and its
digest) is made by py-wacz (the `wacz` package), Webrecorder's own tool, so
it is what ReplayWeb.page and `wacz validate` expect. This module chooses
the captures, writes the page list from the manifest, and gives the file its
name only once it is whole.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import os
import re
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler.cdx import captured_sites
from crawler.sites import SiteFileError, load_site

logger = logging.getLogger(__name__)

_SITE_NAME = re.compile(r"[a-z0-9_]+")


class WaczError(ValueError):
    """Input that cannot make a package; nothing has been written."""


class DamagedCapture(ValueError):
    """A capture file that does not read to its end; it is left out of the package."""


@dataclass(frozen=True)
class Capture:
    path: Path
    date: datetime  # the WARC-Date of its response


@dataclass(frozen=True)
class Package:
    output: Path
    site: str
    captures: int
    pages: int
    first: datetime
    last: datetime


def check_output(output: Path, overwrite: bool) -> None:
    if output.suffix.lower() != ".wacz":
        raise WaczError(f"{output}: a WACZ package's name ends in .wacz")
    if output.is_dir():
        raise WaczError(f"{output} is a folder")
    if output.exists() and not overwrite:
        raise WaczError(f"{output} exists: give --overwrite to replace it")


def choose_site(archive_dir: Path, name_or_path: str | None) -> str:
    """The site to pack: the one named (a name, or a site file's), else the archive's only one."""
    sites = captured_sites(archive_dir)
    if name_or_path is None:
        if not sites:
            raise WaczError(f"{archive_dir}: no captures (no folder {archive_dir / 'warc'} with a site in it)")
        if len(sites) > 1:
            raise WaczError(f"{archive_dir} holds several sites ({', '.join(sites)}): choose one with --site")
        return sites[0]
    # A plain name need not be bundled: the archive may hold a site crawled from a site file elsewhere.
    if _SITE_NAME.fullmatch(name_or_path):
        site = name_or_path
    else:
        try:
            site = load_site(name_or_path).name
        except SiteFileError as e:
            raise WaczError(str(e)) from e
    if site not in sites:
        held = f" (it holds: {', '.join(sites)})" if sites else ""
        raise WaczError(f"{archive_dir}: no captures of site {site}: no folder {archive_dir / 'warc' / site}{held}")
    return site


def run_window(archive_dir: Path, site: str, start: str) -> tuple[datetime, datetime]:
    """[started, finished] of the run whose report is runs/<site>/<start>.json."""
    runs_dir = archive_dir / "runs" / site
    report = runs_dir / f"{start}.json"
    # A name with a separator would reach outside the site's runs.
    if "/" in start or start.startswith(".") or not report.is_file():
        known = sorted(p.stem for p in runs_dir.glob("*.json")) if runs_dir.is_dir() else []
        shown = f"; its runs: {', '.join(known[-5:])}" + (" (the last 5)" if len(known) > 5 else "") if known else ""
        raise WaczError(f"site {site} has no run {start} (no {report}){shown}")
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        return _utc(data["started"]), _utc(data["finished"])
    except (ValueError, KeyError, TypeError) as e:
        raise WaczError(f"{report}: not a run report with started and finished times ({e})") from e


def capture_files(archive_dir: Path, site: str) -> list[Path]:
    # Hidden names are files still being written (.tmp-*).
    return sorted(p for p in (archive_dir / "warc" / site).rglob("*.warc.gz") if not p.name.startswith("."))


def read_capture(path: Path) -> Capture:
    """The capture's date, once the whole file has read cleanly.

    warcio stops quietly at a cut-off gzip member, and wacz would pack such
    a file into a package that `wacz validate` then rejects: the file is read
    to its end first.
    """
    from warcio.archiveiterator import ArchiveIterator

    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 16):
                pass
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                # The first capture of a crawl opens with its warcinfo, dated at the crawl's start.
                if record.rec_type in ("response", "revisit", "request", "resource"):
                    return Capture(path, _utc(record.rec_headers.get_header("WARC-Date") or ""))
    except (OSError, EOFError, zlib.error, ValueError) as e:
        raise DamagedCapture(f"{path}: {type(e).__name__}: {e}") from e
    raise DamagedCapture(f"{path}: no WARC record with a date")


@dataclass(frozen=True)
class Selection:
    captures: list[Capture]
    damaged: list[str]  # one line per capture left out, naming it and what is wrong


def select_captures(
    files: Iterable[Path],
    window: tuple[datetime, datetime] | None,
    progress: Callable[[int], None] = lambda n: None,
) -> Selection:
    """Every capture of these files, or those dated within a run's window; damaged ones apart."""
    chosen, damaged = [], []
    for path in files:
        try:
            capture = read_capture(path)
        except DamagedCapture as e:
            damaged.append(str(e))
        else:
            if window is None or window[0] <= capture.date <= window[1]:
                chosen.append(capture)
        progress(1)
    return Selection(chosen, damaged)


def page_list(archive_dir: Path, site: str, captures: Iterable[Capture]) -> list[dict[str, Any]]:
    """pages.jsonl's entries: the site's manifest articles whose capture is in the package, in manifest order."""
    from warcio.timeutils import iso_date_to_timestamp, timestamp_to_iso_date

    packed = {c.path.relative_to(archive_dir).as_posix() for c in captures}
    pages: dict[str, dict[str, Any]] = {}
    manifest = archive_dir / "manifest.jsonl"
    if not manifest.exists():
        return []
    with manifest.open(encoding="utf-8") as f:
        for line in f:
            try:
                doc = json.loads(line)
            except ValueError:
                continue  # a line cut short by a power failure, which the next writer removes
            if doc.get("site") != site or doc.get("warc") not in packed:
                continue
            # The id of the capture's response record: one page per capture, found again in the WARC.
            record_id = str(doc.get("warc_record_id") or "").removeprefix("<urn:uuid:").removesuffix(">")
            page_id = record_id or uuid.uuid5(uuid.NAMESPACE_URL, doc["warc"] + doc["url"]).hex
            pages[page_id] = {
                "id": page_id,
                "url": doc["url"],
                "title": doc.get("title") or doc["url"],
                # As wacz writes ts itself: the index's timestamp, to the second.
                "ts": timestamp_to_iso_date(iso_date_to_timestamp(doc["fetched_at"])),
            }
    return list(pages.values())


def write_wacz(
    archive_dir: Path,
    site: str,
    output: Path,
    captures: list[Capture],
    *,
    title: str,
    overwrite: bool = False,
    fsync: bool = True,
) -> Package:
    """Packs the captures and their pages into ``output``, which appears whole or not at all."""
    from wacz.main import main as wacz_main

    if not captures:
        raise WaczError(f"nothing to pack: no captures of site {site} were chosen")
    check_output(output, overwrite)
    pages = page_list(archive_dir, site, captures)
    first, last = min(c.date for c in captures), max(c.date for c in captures)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Beside the output (same filesystem, so the rename is atomic); created by wacz with the
    # usual permissions, as a package is made to be shared.
    tmp = output.parent / f".tmp-{uuid.uuid4().hex}.wacz"
    try:
        with tempfile.TemporaryDirectory(prefix="arshif-wacz-") as work:
            pages_file = Path(work) / "pages.jsonl"
            _write_pages(pages_file, title, pages)
            args = ["create", "-o", str(tmp), "--title", title]
            args += ["--desc", f"{len(captures)} captures of site {site}, {_iso(first)} to {_iso(last)}"]
            # --copy-pages: our list as it is, validated by wacz (header, url and ts on every line).
            args += ["--pages", str(pages_file), "--copy-pages", *(str(c.path) for c in captures)]
            said = io.StringIO()
            with contextlib.redirect_stdout(said):
                status = wacz_main(args)
            for line in said.getvalue().splitlines():
                logger.debug("wacz: %s", line)
            if status:
                raise WaczError(f"wacz could not make the package: {said.getvalue().strip()}")
        if fsync:
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, output)
        else:
            # A link never overwrites: a file that appeared since the check stays.
            try:
                os.link(tmp, output)
            except FileExistsError as e:
                raise WaczError(f"{output} exists: give --overwrite to replace it") from e
    finally:
        tmp.unlink(missing_ok=True)
    if fsync:
        _fsync_dir(output.parent)
    return Package(output, site, len(captures), len(pages), first, last)


def _write_pages(path: Path, title: str, pages: list[dict[str, Any]]) -> None:
    header = {"format": "json-pages-1.0", "id": "pages", "title": title}
    lines = [json.dumps(header, ensure_ascii=False)] + [json.dumps(p, ensure_ascii=False) for p in pages]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
