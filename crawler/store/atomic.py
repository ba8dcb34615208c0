"""Files that appear whole or not at all.

Every archive file is content-named, so a name that already exists already
holds the right bytes: files are published with ``os.link``, which fails
instead of overwriting, and a concurrent writer of the same name (another
thread, another crawler process) simply finds it there.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


# The mode of every file written aside and then published: what open() would give a new file.
FILE_MODE = 0o666 & ~_umask()


def publish(path: Path, write: Callable[[BinaryIO], None], *, fsync: bool = True) -> bool:
    """Create ``path`` from what ``write`` writes; False if it already existed.

    The bytes go to a temporary file in the same folder (same filesystem, so
    the link is atomic), are flushed to disk, then linked to the final name.
    A crash at any point leaves at most a stray ``.tmp-*`` file, never a
    partial file under the final name; a failed write (a full disk) removes
    its temporary file and raises an ``OSError`` that names ``path``.
    """
    staged = stage(path, write, fsync=fsync)
    if staged is None:
        return False
    return publish_staged([staged], sync=False)[0]


@dataclass(frozen=True)
class Staged:
    """A file written under a temporary name, waiting to be published under ``path``."""

    tmp: str
    path: str


def stage(path: Path, write: Callable[[BinaryIO], None], *, fsync: bool, staging: Path | None = None) -> Staged | None:
    """Write what ``write`` writes under a temporary name; None if ``path`` exists.

    The first half of ``publish``, for writers that publish many files at
    once with one ``sync_filesystem`` (``publish_staged``). The temporary
    file goes in ``staging`` (a folder on the same filesystem: creating
    files in one folder is cheaper than across the archive's 256 fan-out
    folders) or beside ``path``. A failed write removes its temporary file
    and raises an ``OSError`` that names ``path``.
    """
    if path.exists():
        return None
    return Staged(_write_aside(path, write, fsync=fsync, folder=staging or path.parent), str(path))


def replace(path: Path, write: Callable[[BinaryIO], None], *, fsync: bool = True) -> None:
    """Create or replace ``path`` (an index, an export): the old file stays whole until the new one is."""
    tmp_name = _write_aside(path, write, fsync=fsync, folder=path.parent)
    try:
        os.replace(tmp_name, path)
    except OSError as e:
        os.unlink(tmp_name)
        _raise_naming(e, path)


def _write_aside(path: Path, write: Callable[[BinaryIO], None], *, fsync: bool, folder: Path) -> str:
    """The bytes for ``path`` in a temporary file of ``folder``, flushed; its name."""
    try:
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        except FileNotFoundError:
            # Made when first missing, not asked after for every file: the final folder
            # by publish_staged, when the name is given.
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    except OSError as e:
        _raise_naming(e, path)
    try:
        # mkstemp makes it 0600; an archive file gets the mode any new file of the user would
        # (0644 under the usual umask), so a web server or a colleague can read captures and reports.
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
    except OSError as e:
        os.unlink(tmp_name)
        _raise_naming(e, path)
    except BaseException:
        os.unlink(tmp_name)
        raise
    return tmp_name


def publish_staged(staged: Iterable[Staged], *, sync: bool) -> list[bool]:
    """Give staged files their final names; for each, True if this call published it, False if it existed.

    With ``sync``, the data of every file reaches the disk (one filesystem
    sync) before any name appears, and the names themselves are synced
    before this returns: a power cut at any point leaves each final name
    absent or whole. A file not yet published is lost; the next run fetches
    its page again.
    """
    staged = list(staged)
    if not staged:
        return []
    # Where the first file was written: its final folder may not exist before it is published.
    folder = Path(staged[0].tmp).parent
    published = []
    try:
        if sync:
            sync_filesystem(folder)
        for item in staged:
            try:
                published.append(_link(item))
            except OSError as e:
                _raise_naming(e, Path(item.path))
    finally:
        for item in staged:
            discard(item)
    if sync:
        sync_filesystem(folder)
    return published


def _link(item: Staged) -> bool:
    """The staged file under its final name; False if that name existed."""
    try:
        os.link(item.tmp, item.path)
    except FileExistsError:
        return False
    except FileNotFoundError:
        if not os.path.exists(item.tmp):
            raise
        Path(item.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(item.tmp, item.path)
        except FileExistsError:
            return False
    return True


def discard(staged: Staged) -> None:
    try:
        os.unlink(staged.tmp)
    except FileNotFoundError:
        pass


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def sync_filesystem(folder: Path) -> None:
    """Flush every file written on ``folder``'s filesystem: one syncfs(2) instead of an fsync per file."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        syncfs = getattr(_libc, "syncfs", None)
        if syncfs is None:  # not Linux
            os.sync()
        elif syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(folder))
    finally:
        os.close(fd)


def _raise_naming(error: OSError, path: Path) -> NoReturn:
    if error.filename is not None and not Path(error.filename).name.startswith(".tmp-"):
        raise error
    raise type(error)(error.errno, error.strerror or str(error), str(path)) from error


def publish_bytes(path: Path, data: bytes, *, fsync: bool = True) -> bool:
    return publish(path, lambda f: f.write(data), fsync=fsync)


def sweep_temporary(*folders: Path) -> int:
    """Remove the ``.tmp-*`` files a killed run left in these folders; only safe under the site's crawl lock."""
    removed = 0
    for folder in folders:
        for stray in folder.rglob(".tmp-*") if folder.is_dir() else ():
            stray.unlink(missing_ok=True)
            removed += 1
    return removed


class RunFolder:
    """A folder of one running process (a queue, staged files), locked while it lives.

    A folder nobody holds was left by a killed run: making a new one removes
    those of the same prefix first. Made and locked under a lock on the
    parent, so that another run's sweep never finds it between the two.
    """

    def __init__(self, parent: Path, prefix: str) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        guard = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)
            _remove_unheld(parent, prefix)
            self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        finally:
            os.close(guard)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._fd)


def _remove_unheld(parent: Path, prefix: str) -> None:
    for path in parent.glob(f"{prefix}*"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            with contextlib.suppress(BlockingIOError):  # held: a running process's
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


def staging_folder(path: Path) -> Path:
    """Where a file of ``hashed_path`` is written before it gets its name: its ``root``, above the fan-out folders."""
    return path.parent.parent


def hashed_path(root: Path, digest: str, suffix: str) -> Path:
    """``root/ab/abcdef....suffix``: two hex digits of fan-out keep folders small."""
    return root / digest[:2] / f"{digest}{suffix}"
