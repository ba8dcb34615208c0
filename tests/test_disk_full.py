"""The disk filling up mid-crawl: one message, the crawl stopped, nothing half-written, the next run completes it.

Two ways to fill the disk, both with real crawls of the demo site as
subprocesses:

- a real small filesystem: a tmpfs of a few hundred kilobytes mounted by
  the test (needs root and a kernel that lets this container mount; the
  test is skipped, saying why, where it cannot), remounted bigger for the
  second run;
- an ENOSPC injected at the write calls themselves (the bytes written into
  a capture or text file, the manifest's ``os.write``), so that each of the
  three writers is the one that hits the full disk, on any machine.

Either way the archive is then checked the way a user would check it, and
the run that follows, with space again, must leave exactly what a crawl
that never ran out of space leaves.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.store.atomic import publish
from crawler.store.diskfull import is_disk_full
from crawler.store.manifest import REQUIRED_KEYS, Manifest, read_manifest
from tests.conftest import FAST, REPO, FixtureServer, crawl, run_scrapy, write_site

MESSAGE = "disk full while writing"
TAIL = "stopping the crawl; the archive is consistent, run again when there is space"


@pytest.fixture(scope="module")
def site_file(tmp_path_factory: pytest.TempPathFactory, demo_server: FixtureServer) -> Path:
    return write_site(tmp_path_factory.mktemp("diskfull"), demo_server.url)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, site_file: Path) -> Path:
    """The archive of a crawl that never ran out of space."""
    archive = tmp_path_factory.mktemp("reference") / "archive"
    crawl(site_file, archive)
    return archive


def crawl_argv(site_file: Path, archive: Path) -> list[str]:
    argv = ["scrapy", "crawl", "news", "-a", f"site={site_file}"]
    for key, value in {**FAST, "ARCHIVE_DIR": str(archive)}.items():
        argv += ["-s", f"{key}={value}"]
    return argv


def assert_consistent(archive: Path) -> None:
    """What a user can rely on after any failure: no partial file, no dangling manifest line."""
    manifest = archive / "manifest.jsonl"
    raw = manifest.read_bytes() if manifest.exists() else b""
    # No torn line: the manifest ends with a whole line, and read_manifest drops none.
    assert raw == b"" or raw.endswith(b"\n")
    entries = read_manifest(manifest)
    assert len(entries) == raw.count(b"\n")
    for entry in entries:
        assert (archive / entry["path"]).is_file(), entry
        assert (archive / entry["warc"]).is_file(), entry
    assert [p for p in archive.rglob(".tmp-*")] == []
    for path in archive.rglob("*.warc.gz"):
        with path.open("rb") as f:
            records = 0
            for record in ArchiveIterator(f, check_digests=True):
                record.content_stream().read()
                assert record.digest_checker.passed is not False, path
                records += 1
        assert records >= 2, path  # a request and a response at least: nothing cut short
    for path in archive.rglob("*.txt"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem, path


def assert_same_as(archive: Path, reference: Path) -> None:
    def texts(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "text").rglob("*") if p.is_file()}

    def pairs(root: Path) -> set[tuple[str, str]]:
        return {(e["url"], e["sha256"]) for e in read_manifest(root / "manifest.jsonl")}

    def captures(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in (root / "warc").rglob("*.warc.gz")}

    assert texts(archive) == texts(reference)
    assert pairs(archive) == pairs(reference)
    # Content-named captures: the same fetches give the same names, whichever run wrote them.
    assert captures(archive) == captures(reference)


def assert_stopped_for_disk_full(stderr: str, kind_suffix: str) -> None:
    lines = [line for line in stderr.splitlines() if MESSAGE in line]
    assert len(lines) == 1, lines  # once, however many writes failed
    assert TAIL in lines[0]
    written = lines[0].split(MESSAGE, 1)[1].split(":", 1)[0].strip()
    # The file being written is named. Captures and texts are written by two worker processes at
    # once: once the disk is full, the other one's write may be the first to say so.
    assert written.endswith(kind_suffix) or (kind_suffix and written.endswith((".warc.gz", ".txt"))), lines[0]
    assert "'finish_reason': 'disk_full'" in stderr
    # The component that hit it says so, not a traceback from it.
    assert "Error processing" not in stderr


# --- the writers, one at a time ---------------------------------------------------


def test_a_failed_publish_removes_its_temporary_file_and_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "ab" / "abc.txt"

    def fill_up(f: Any) -> None:
        f.write(b"some of it")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as os.write says it: no file name

    with pytest.raises(OSError) as caught:
        publish(target, fill_up, fsync=False)
    assert is_disk_full(caught.value)
    assert caught.value.filename == str(target)  # what the crawl's message needs
    assert list(target.parent.iterdir()) == []


def _entry(url: str, title: str) -> dict[str, Any]:
    return {key: None for key in REQUIRED_KEYS} | {"url": url, "sha256": "a" * 64, "site": "s", "title": title}


def test_a_manifest_append_on_a_full_filesystem_leaves_no_torn_line(small_disk: Path) -> None:
    path = small_disk / "manifest.jsonl"
    manifest = Manifest(path, fsync=True)
    assert manifest.append(_entry("u1", "short"))
    before = path.read_bytes()
    # Fill the filesystem: what is left is the rest of the manifest's last page.
    filler = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(filler, b"\0" * 4096):
            pass
    except OSError as e:
        assert is_disk_full(e)
    finally:
        os.close(filler)
    # A line longer than a page: part of it fits (a short write), the rest does not.
    with pytest.raises(OSError) as caught:
        manifest.append(_entry("u2", "عنوان " * 2000))
    assert is_disk_full(caught.value) and caught.value.filename == str(path)
    assert path.read_bytes() == before
    # With space again the same writer goes on, and the line is there once.
    (small_disk / "filler").unlink()
    assert manifest.append(_entry("u2", "عنوان " * 2000))
    manifest.close()
    assert [e["url"] for e in read_manifest(path)] == ["u1", "u2"]


# --- a real small filesystem --------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the injected-ENOSPC tests cover the same paths")
    # 192 KiB: room for the state database and some captures and texts, not for the whole crawl (~400 KiB).
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mountpoint)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the injected-ENOSPC tests still run")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_a_full_filesystem_stops_the_crawl_and_the_next_run_completes_it(
    small_disk: Path, site_file: Path, reference: Path
) -> None:
    archive = small_disk / "archive"
    first = run_scrapy("crawl", "news", "-a", f"site={site_file}", settings={"ARCHIVE_DIR": str(archive)})
    assert_stopped_for_disk_full(first.stderr, "")
    assert_consistent(archive)
    assert len(read_manifest(archive / "manifest.jsonl")) < len(read_manifest(reference / "manifest.jsonl"))

    # Space again: the same filesystem, bigger.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    second = crawl(site_file, archive)
    assert MESSAGE not in second.stderr
    assert_consistent(archive)
    assert_same_as(archive, reference)


# --- ENOSPC injected at the write calls ------------------------------------------

_KINDS = {"capture": ".warc.gz", "text": ".txt", "manifest": "manifest.jsonl"}


def fill_disk_after(kind: str, successes: int, counter: str) -> None:
    """In a crawl process or worker: the disk fills at the write of ``kind`` that follows ``successes`` whole ones.

    From then on every archive write fails, in every process of the crawl,
    as on a real full disk: the count is kept in the file ``counter``,
    shared by them under a lock. A file write gets some bytes out before
    ENOSPC (the temporary file must then go); the manifest gets half its
    line out, as a short write, and then ENOSPC (the half line must then go).
    """
    import fcntl
    import json

    from crawler.capture import records
    from crawler.store import atomic, manifest, textstore

    def fails(this_kind: str) -> bool:
        with open(counter, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            state = json.loads(f.read() or '{"full": false, "seen": 0}')
            if not state["full"] and this_kind == kind:
                state["seen"] += 1
                state["full"] = state["seen"] > successes
                f.seek(0)
                f.truncate()
                f.write(json.dumps(state))
            return bool(state["full"])

    def faulty(path: Path, write: Any) -> Any:
        this_kind = next((k for k, suffix in _KINDS.items() if path.name.endswith(suffix)), "other")

        def failing(f: Any) -> None:
            if fails(this_kind):
                f.write(b"\0" * 512)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            write(f)

        return failing

    real_stage = atomic.stage

    def stage(path: Path, write: Any, *, fsync: bool, staging: Path | None = None) -> Any:
        return real_stage(path, faulty(path, write), fsync=fsync, staging=staging)

    # Imported by name where used; publish (run reports) looks it up in atomic.
    atomic.stage = records.stage = textstore.stage = stage
    short_written = False

    class Os:
        """The os module as the manifest sees it, with a disk that can fill up."""

        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        @staticmethod
        def write(fd: int, data: bytes) -> int:
            nonlocal short_written
            if not fails("manifest"):
                return os.write(fd, data)
            if not short_written:
                short_written = True
                return os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    manifest.os = Os()  # type: ignore[assignment]


def crawl_with_full_disk(site_file: Path, archive: Path, kind: str, successes: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    env["ARSHIF_TEST_FILL_DISK"] = f"{kind}:{successes}:{archive.parent / 'disk-full-counter.json'}"
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent / "diskfull_hook"), str(REPO)])
    return subprocess.run(
        [sys.executable, "-m", *crawl_argv(site_file, archive)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_a_crawl_stopped_by_a_full_disk_exits_non_zero(site_file: Path, tmp_path: Path) -> None:
    result = crawl_with_full_disk(site_file, tmp_path / "archive", "capture", successes=3)
    assert "'finish_reason': 'disk_full'" in result.stderr
    assert result.returncode != 0


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_enospc_while_writing_each_kind_of_file(kind: str, site_file: Path, reference: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    # Manifest lines are appended a batch at a time: a short crawl makes only a few such writes.
    first = crawl_with_full_disk(site_file, archive, kind, successes=0 if kind == "manifest" else 3)
    assert_stopped_for_disk_full(first.stderr, _KINDS[kind])
    assert_consistent(archive)
    assert len(read_manifest(archive / "manifest.jsonl")) < len(read_manifest(reference / "manifest.jsonl"))

    second = crawl(site_file, archive)
    assert MESSAGE not in second.stderr
    assert_consistent(archive)
    assert_same_as(archive, reference)
